"""The Evaluator's TFMA configuration: metrics, slices and the blessing gate.

Metrics (``trainer.metrics.tfma_metrics``, named in ``trainer.core.metric_names``,
definitions in ``trainer.metrics.msa_metrics``):
``example_count``, ``mae``, ``corr``, ``acc2_has0``, ``f1_has0``,
``acc2_non0``, ``f1_non0``, ``acc7``, ``acc5``, ``confusion_matrix_7``,
``small_slice``, ``constant_mae`` and ``mae_gain_over_constant``, computed in
Beam for the candidate (and the baseline, when there is one) on every slice:

* overall;
* ``polarity`` (negative / neutral / positive label) and ``text_len_bucket``
  (words: 0, 1-5, 6-10, 11-20, 21+): string features derived by Transform's
  ``preprocessing_fn``; TFMA gets them from the model's
  ``transform_features`` signature (``preprocessing_function_names``);
* ``dataset`` and ``video_id`` (the speaker): contract features, passed
  through by Transform;
* ``dataset`` x ``polarity``.

A candidate is blessed only if, on the overall slice (see
:mod:`pipeline.blessing`):

* it beats the constant predictor: ``mae_gain_over_constant > 0``;
* ``corr >= corr_floor`` (NaN fails);
* its MAE is no worse than the last blessed model's plus a tolerance (the
  change threshold; TFX's Evaluator drops it when there is no baseline yet).

Thresholds are attached to each metric's ``MetricConfig`` as
``per_slice_thresholds`` on the overall slice only: a ``MetricConfig.threshold``
would apply to every slice, and ``MetricsSpec.thresholds`` keys do not match
these metrics' keys.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import tensorflow_model_analysis as tfma

from msa_data import contract
from pipeline import blessing, configs
from trainer.core import features, metric_names

# Strictly positive: a model that only ties the constant predictor fails.
MIN_GAIN = 1e-6

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


def build_eval_config(mae_change_tolerance: float = blessing.MAE_CHANGE_TOLERANCE,
                      corr_floor: float = blessing.CORR_FLOOR,
                      min_slice_size: int = blessing.MIN_SLICE_SIZE) -> tfma.EvalConfig:
    settings = blessing.BlessingSettings(mae_change_tolerance, corr_floor, min_slice_size)
    thresholds = {
        metric_names.MAE: tfma.MetricThreshold(change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": settings.mae_tolerance})),
        metric_names.CORR: tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
            lower_bound={"value": settings.corr_floor})),
        metric_names.MAE_GAIN: tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": MIN_GAIN})),
    }
    metrics = []
    for key, class_name in metric_names.TFMA_CLASSES.items():
        config = tfma.MetricConfig(class_name=class_name, module=configs.CUSTOM_METRICS_MODULE)
        if key in thresholds:
            config.per_slice_thresholds.extend(_on_overall(thresholds[key]))
        if key == metric_names.SMALL_SLICE:
            config.config = f'"min_slice_size": {int(settings.min_slice_size)}'
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
