"""The Evaluator's TFMA configuration: metrics, slices and the blessing gate.

Metrics (``trainer.metrics.tfma_metrics``, named in ``trainer.core.metric_names``,
definitions in ``trainer.metrics.msa_metrics``):
``example_count``, ``mae``, ``corr``, ``acc2_has0``, ``f1_has0``,
``acc2_non0``, ``f1_non0``, ``acc7``, ``acc5``, ``confusion_matrix_7``,
``small_slice``, ``constant_mae``, ``mae_gain_over_constant``,
``relative_gain_over_constant``, ``gain_over_constant_p`` and
``worse_than_baseline_p``, computed in Beam for the candidate (and the
baseline, when there is one) on every slice:

* overall;
* ``polarity`` (negative / neutral / positive label) and ``text_len_bucket``
  (words: 0, 1-5, 6-10, 11-20, 21+): string features derived by Transform's
  ``preprocessing_fn``; TFMA gets them from the model's
  ``transform_features`` signature (``preprocessing_function_names``);
* ``dataset`` and ``video_id`` (the speaker): contract features, passed
  through by Transform;
* ``dataset`` x ``polarity``.

A candidate is blessed only if it passes the gate of :mod:`pipeline.blessing`
on the overall slice: it beats the constant predictor significantly and by a
minimum share, its ``corr`` reaches the floor, and it is not significantly
worse than the last blessed model. Every check is a value threshold (the
baseline comparison is a paired test inside one metric, not a TFMA change
threshold): without a baseline its p-value is 1 and the report marks the
check skipped.

Thresholds are attached to each metric's ``MetricConfig`` as
``per_slice_thresholds`` on the overall slice only: a ``MetricConfig.threshold``
would apply to every slice, and ``MetricsSpec.thresholds`` keys do not match
these metrics' keys.
"""

from __future__ import annotations

import json
from typing import List, Sequence, Tuple

import tensorflow_model_analysis as tfma

from msa_data import contract
from pipeline import blessing, configs
from trainer.core import features, metric_names

# Slicing: each entry is the feature keys of one slicing spec; () is overall.
SLICES: Tuple[Tuple[str, ...], ...] = (
    (),
    (features.POLARITY,),
    (contract.DATASET,),
    (features.TEXT_LEN_BUCKET,),
    (contract.VIDEO_ID,),
    (contract.DATASET, features.POLARITY),
)


def slicing_specs(slices: Sequence[Tuple[str, ...]] = SLICES) -> List[tfma.SlicingSpec]:
    return [tfma.SlicingSpec(feature_keys=list(keys)) for keys in slices]


def _on_overall(threshold: tfma.MetricThreshold) -> List[tfma.PerSliceMetricThreshold]:
    return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)]


def model_spec() -> tfma.ModelSpec:
    return tfma.ModelSpec(
        signature_name="serving_default",
        label_key=contract.LABEL,
        # Scored through its signatures only. Left unset, TFMA first tries to
        # load the SavedModel as a Keras model, twice per model and worker
        # (~8 s each for the default architecture), to learn just this.
        model_type=tfma.TF_GENERIC,
        # Labels, slice keys and the constant predictor come from Transform.
        preprocessing_function_names=["transform_features"],
    )


def build_eval_config(settings: blessing.BlessingSettings = blessing.BlessingSettings()
                      ) -> tfma.EvalConfig:
    thresholds = {
        metric_names.GAIN_P: tfma.GenericValueThreshold(upper_bound={"value": settings.alpha}),
        metric_names.RELATIVE_GAIN: tfma.GenericValueThreshold(
            lower_bound={"value": settings.min_relative_gain}),
        metric_names.CORR: tfma.GenericValueThreshold(lower_bound={"value": settings.corr_floor}),
        metric_names.WORSE_P: tfma.GenericValueThreshold(lower_bound={"value": settings.alpha}),
    }
    params = {
        metric_names.SMALL_SLICE: {"min_slice_size": int(settings.min_slice_size)},
        metric_names.WORSE_P: {"tolerance": float(settings.mae_tolerance)},
    }
    metrics = []
    for key, class_name in metric_names.TFMA_CLASSES.items():
        config = tfma.MetricConfig(class_name=class_name, module=configs.CUSTOM_METRICS_MODULE)
        if key in thresholds:
            config.per_slice_thresholds.extend(
                _on_overall(tfma.MetricThreshold(value_threshold=thresholds[key])))
        if key in params:
            config.config = json.dumps(params[key])[1:-1]
        metrics.append(config)
    return tfma.EvalConfig(
        model_specs=[model_spec()],
        slicing_specs=slicing_specs(),
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
    )


def mae_only_eval_config() -> tfma.EvalConfig:
    """The cheapest useful Evaluator: TFMA's own MAE, overall, no Transform call.

    The reference point of ``benchmarks/evaluator_benchmark.py``.
    """
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key=contract.LABEL,
                                    model_type=tfma.TF_GENERIC)],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="MeanAbsoluteError")])],
    )
