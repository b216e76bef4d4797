"""The Evaluator's TFMA configuration: metrics, slices and the blessing gate.

A candidate is blessed only if, on the test split:
* it beats the constant predictor (train-split label mean): the value
  threshold ``mae_gain_over_constant > 0``;
* its MAE is no worse than the last blessed model's plus a tolerance (the
  change threshold; skipped by TFMA when there is no baseline yet).
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from msa_data import contract
from pipeline import configs

# Strictly positive: a model that only ties the constant predictor fails.
_MIN_GAIN = 1e-6


def build_eval_config(mae_change_tolerance: float = configs.MAE_CHANGE_TOLERANCE) -> tfma.EvalConfig:
    if mae_change_tolerance < 0:
        raise ValueError(f"--mae-tolerance: expected >= 0, got {mae_change_tolerance}")
    mae_change = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": mae_change_tolerance},
        ))
    beats_constant = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": _MIN_GAIN}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name="serving_default",
            label_key=contract.LABEL,
            preprocessing_function_names=["transform_features"],
        )],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(
            metrics=[
                tfma.MetricConfig(class_name="ExampleCount"),
                tfma.MetricConfig(class_name="MeanAbsoluteError", threshold=mae_change),
                tfma.MetricConfig(class_name="ConstantBaselineMAE",
                                  module=configs.CUSTOM_METRICS_MODULE),
                tfma.MetricConfig(class_name="MaeGainOverConstant",
                                  module=configs.CUSTOM_METRICS_MODULE,
                                  threshold=beats_constant),
            ],
        )],
    )
