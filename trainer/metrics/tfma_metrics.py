"""The MSA metrics as TFMA metrics, computed by the Evaluator in Beam, per slice.

One shared computation does the work: a preprocessor reduces each example,
once and before slicing, to ``(label, prediction, constant, baseline)``; a
CombineFn sums :func:`trainer.metrics.msa_metrics.batch_stats` vectors, and
:func:`trainer.metrics.significance.paired_stats` beside them, per slice
(vectorised: inputs are buffered and folded in batches). Every metric below is a cheap
derived computation on that vector, so asking for ten metrics costs one
combiner. TFMA de-duplicates the shared computation across the metrics and
drops its private key (``_msa_stats``) from the output.

=========================  ==========================  ========================
class (``MetricConfig``)   output key                  definition
=========================  ==========================  ========================
``MSAMeanAbsoluteError``   ``mae``                     see trainer.metrics.msa_metrics
``MSACorrelation``         ``corr``                    Pearson r, NaN if const.
``Acc2Has0``/``F1Has0``    ``acc2_has0``/``f1_has0``   negative vs non-negative
``Acc2Non0``/``F1Non0``    ``acc2_non0``/``f1_non0``   label == 0 dropped
``Acc7``/``Acc5``          ``acc7``/``acc5``           rounded-class agreement
``MSAExampleCount``        ``example_count``           examples in the slice
``ConfusionMatrix7``       ``confusion_matrix_7``      7x7 counts (true x pred)
``SmallSlice``             ``small_slice``             1 when the slice has
                                                       fewer than
                                                       ``min_slice_size``
                                                       examples, else 0
``ConstantBaselineMAE``    ``constant_mae``            MAE of the train mean
``MaeGainOverConstant``    ``mae_gain_over_constant``  ``constant_mae - mae``
``RelativeGainOverConstant`` ``relative_gain_over_constant``
                                                       ``mae_gain_over_constant
                                                       / constant_mae``
``GainOverConstantPValue`` ``gain_over_constant_p``    one-sided p of the paired
                                                       test "beats the constant"
``WorseThanBaselinePValue`` ``worse_than_baseline_p``  one-sided p of the paired
                                                       test "MAE above the
                                                       baseline's + tolerance";
                                                       1 without a baseline
=========================  ==========================  ========================

The paired tests are defined in :mod:`trainer.metrics.significance`. The
baseline's prediction for an example comes from the same extract: TFX's
Evaluator scores both models on every example (the baseline ``ModelSpec``).

The constant predictor is the train-split label mean, a full-pass Transform
analyzer over the train split (the ``label_train_mean`` transformed feature),
so the baseline is computed in the pipeline, never hard-coded. The MSA
metrics themselves need only labels and predictions. Output keys, class names
and the default ``min_slice_size`` are named in :mod:`trainer.core.metric_names`.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.metrics import metric_types, metric_util

from trainer.core.features import LABEL_TRAIN_MEAN
from trainer.core.metric_names import (
    ACC2_HAS0,
    ACC2_NON0,
    ACC5,
    ACC7,
    CONFUSION_7,
    CONSTANT_MAE,
    CONSTANT_METRICS,
    CORR,
    EXAMPLE_COUNT,
    F1_HAS0,
    F1_NON0,
    GAIN_P,
    MAE,
    MAE_GAIN,
    MIN_SLICE_SIZE,
    RELATIVE_GAIN,
    SMALL_SLICE,
    TFMA_CLASSES,
    WORSE_P,
)
from trainer.metrics import msa_metrics, significance

STATS_NAME = "_msa_stats"

# Inputs folded into the statistics vector at a time (numpy, vectorised).
_FLUSH_EVERY = 512


class _InputsPreprocessor(metric_types.Preprocessor):
    """Per example, before slicing: ``(label, prediction, constant, baseline)`` floats.

    Doing the label/prediction lookup once per example (instead of once per
    example and slice in the combiner) keeps many slices cheap.
    ``constant`` is the ``label_train_mean`` transformed feature, NaN when
    the model has no such feature; ``baseline`` is the baseline model's
    prediction for the same example, NaN when there is no baseline model or
    this is the baseline model's own computation.
    """

    def __init__(self, eval_config=None, model_name: str = "", output_name: str = ""):
        super().__init__(name=f"_msa_inputs/{model_name}/{output_name}")
        self._eval_config = eval_config
        self._model_name = model_name
        self._output_name = output_name
        self._baseline_name = _baseline_name(eval_config, model_name)

    def _constant(self, inputs) -> float:
        try:
            features = inputs.get_transformed_features(self._model_name or None)
        except (KeyError, ValueError):
            return math.nan
        features = features or {}
        if self._model_name and self._model_name in features:
            features = features[self._model_name]
        if LABEL_TRAIN_MEAN not in features:
            # Recorded predictions (tfma.analyze_raw_data) may carry it as a column.
            features = inputs.get(constants.FEATURES_KEY) or {}
        if LABEL_TRAIN_MEAN not in features:
            return math.nan
        return float(np.asarray(features[LABEL_TRAIN_MEAN]).reshape(-1)[0])

    def _predictions(self, inputs, model_name: str):
        return [float(np.asarray(prediction).reshape(-1)[0]) for _, prediction, _ in
                metric_util.to_label_prediction_example_weight(
                    inputs, eval_config=self._eval_config, model_name=model_name,
                    output_name=self._output_name, example_weighted=False)]

    def process(self, extracts):
        inputs = metric_util.to_standard_metric_inputs(extracts)
        constant = self._constant(inputs)
        baselines = (self._predictions(inputs, self._baseline_name)
                     if self._baseline_name else None)
        for i, (label, prediction, _) in enumerate(metric_util.to_label_prediction_example_weight(
                inputs, eval_config=self._eval_config, model_name=self._model_name,
                output_name=self._output_name, example_weighted=False)):
            yield (float(np.asarray(label).reshape(-1)[0]),
                   float(np.asarray(prediction).reshape(-1)[0]), constant,
                   baselines[i] if baselines else math.nan)


def _baseline_name(eval_config, model_name: str) -> str:
    """The baseline model's name when ``model_name`` is a candidate beside one, else ""."""
    if eval_config is None:
        return ""
    for spec in eval_config.model_specs:
        if spec.is_baseline and spec.name != model_name:
            return spec.name
    return ""


class _Accumulator:
    __slots__ = ("stats", "pending")

    def __init__(self):
        # The MSA statistics, then the paired tests' (one vector, merged by +).
        self.stats = np.concatenate([msa_metrics.empty_stats(), significance.empty_paired()])
        self.pending: List[tuple] = []

    def flush(self) -> "_Accumulator":
        if self.pending:
            rows = np.asarray(self.pending, np.float64)
            self.stats[:msa_metrics.STATS_SIZE] += msa_metrics.batch_stats(
                rows[:, 0], rows[:, 1], rows[:, 2])
            self.stats[msa_metrics.STATS_SIZE:] += significance.paired_stats(
                rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])
            self.pending = []
        return self


class _StatsCombiner(beam.CombineFn):
    """Sums statistics vectors; outputs ``{stats_key: vector}`` per slice."""

    def __init__(self, key: metric_types.MetricKey):
        self._key = key

    def create_accumulator(self) -> _Accumulator:
        return _Accumulator()

    def add_input(self, acc: _Accumulator, element) -> _Accumulator:
        acc.pending.append(element)
        if len(acc.pending) >= _FLUSH_EVERY:
            acc.flush()
        return acc

    def merge_accumulators(self, accumulators: Iterable[_Accumulator]) -> _Accumulator:
        merged = None
        for acc in accumulators:
            acc.flush()
            if merged is None:
                merged = acc
            else:
                merged.stats += acc.stats
        return merged if merged is not None else _Accumulator()

    def compact(self, acc: _Accumulator) -> _Accumulator:
        return acc.flush()

    def extract_output(self, acc: _Accumulator) -> Dict[metric_types.MetricKey, np.ndarray]:
        return {self._key: acc.flush().stats.copy()}


def _key(name, model_name, output_name, example_weighted) -> metric_types.MetricKey:
    return metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                  example_weighted=example_weighted)


def stats_computation(eval_config=None, model_name: str = "", output_name: str = "",
                      example_weighted: bool = False) -> metric_types.MetricComputation:
    """The shared computation; identical for every metric, so TFMA runs it once."""
    key = _key(STATS_NAME, model_name, output_name, example_weighted)
    return metric_types.MetricComputation(
        keys=[key],
        preprocessors=[_InputsPreprocessor(eval_config, model_name, output_name)],
        combiner=_StatsCombiner(key))


class _Derive:
    """Derived computation: one metric from the slice's statistics vector."""

    def __init__(self, stats_key, key, metric: str, params: Dict[str, Any]):
        self._stats_key = stats_key
        self._key = key
        self._metric = metric
        self._params = params

    def __call__(self, metrics: Dict[metric_types.MetricKey, Any]) -> Dict[metric_types.MetricKey, Any]:
        stats = metrics[self._stats_key]
        return {self._key: _value(self._metric, stats, self._params)}


def _value(metric: str, vector: np.ndarray, params: Dict[str, Any]):
    stats, paired = vector[:msa_metrics.STATS_SIZE], vector[msa_metrics.STATS_SIZE:]
    if metric == CONFUSION_7:
        return msa_metrics.confusion_7(stats)
    if metric == SMALL_SLICE:
        return 1.0 if stats[msa_metrics.N] < params["min_slice_size"] else 0.0
    if metric == WORSE_P:
        test = significance.worse_than_baseline(paired, params["tolerance"])
        # Without a baseline there is nothing to be worse than (the report
        # shows the check as skipped).
        return 1.0 if test is None else test.p_value
    values = msa_metrics.compute(stats)
    if metric in CONSTANT_METRICS:
        if stats[msa_metrics.CONST_N] < stats[msa_metrics.N]:
            raise ValueError(
                f"Evaluator: transformed feature {LABEL_TRAIN_MEAN!r} is missing; the model's "
                "transform_features signature must come from this project's preprocessing_fn")
        gain = values[CONSTANT_MAE] - values[MAE]
        if metric == CONSTANT_MAE:
            return values[CONSTANT_MAE]
        if metric == MAE_GAIN:
            return gain
        if metric == RELATIVE_GAIN:
            return gain / values[CONSTANT_MAE] if values[CONSTANT_MAE] > 0 else math.nan
        return significance.gain_over_constant(paired).p_value
    return values[metric]


def _computations(name: str, metric: str, params: Optional[Dict[str, Any]] = None,
                  eval_config=None, model_name: str = "", output_name: str = "",
                  example_weighted: bool = False) -> metric_types.MetricComputations:
    if example_weighted:
        raise ValueError(f"{name}: the MSA metrics are unweighted; configure the metrics spec "
                         "without example weights")
    shared = stats_computation(eval_config, model_name, output_name, example_weighted)
    key = _key(name, model_name, output_name, example_weighted)
    return [shared, metric_types.DerivedMetricComputation(
        keys=[key], result=_Derive(shared.keys[0], key, metric, dict(params or {})))]


class _MSAMetric(metric_types.Metric):
    """Base: one metric of :mod:`trainer.metrics.msa_metrics` from the shared statistics."""

    METRIC = ""

    def __init__(self, name: Optional[str] = None, **params):
        params.pop("metric", None)
        super().__init__(metric_util.merge_per_key_computations(_computations),
                         name=name or self.METRIC, metric=self.METRIC, params=params or None)

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, **(self.kwargs.get("params") or {})}


class MSAMeanAbsoluteError(_MSAMetric):
    METRIC = MAE


class MSACorrelation(_MSAMetric):
    METRIC = CORR


class Acc2Has0(_MSAMetric):
    METRIC = ACC2_HAS0


class F1Has0(_MSAMetric):
    METRIC = F1_HAS0


class Acc2Non0(_MSAMetric):
    METRIC = ACC2_NON0


class F1Non0(_MSAMetric):
    METRIC = F1_NON0


class Acc7(_MSAMetric):
    METRIC = ACC7


class Acc5(_MSAMetric):
    METRIC = ACC5


class MSAExampleCount(_MSAMetric):
    METRIC = EXAMPLE_COUNT


class ConfusionMatrix7(_MSAMetric):
    """7x7 int64 counts (row: true class -3..3, column: predicted class)."""

    METRIC = CONFUSION_7


class SmallSlice(_MSAMetric):
    """1.0 when the slice holds fewer than ``min_slice_size`` examples, else 0.0.

    Small slices are reported (and marked), never hidden; the blessing gate
    looks at the overall slice only.
    """

    METRIC = SMALL_SLICE

    def __init__(self, name: Optional[str] = None, min_slice_size: int = MIN_SLICE_SIZE,
                 **params):
        if int(min_slice_size) < 1:
            raise ValueError(f"min_slice_size: expected >= 1, got {min_slice_size}")
        super().__init__(name=name, min_slice_size=int(min_slice_size), **params)


class ConstantBaselineMAE(_MSAMetric):
    """MAE of the constant train-mean predictor on the evaluated slice."""

    METRIC = CONSTANT_MAE


class MaeGainOverConstant(_MSAMetric):
    """``constant_mae - mae``: positive when the model beats the constant."""

    METRIC = MAE_GAIN


class RelativeGainOverConstant(_MSAMetric):
    """``mae_gain_over_constant / constant_mae``: the share of the constant's MAE removed."""

    METRIC = RELATIVE_GAIN


class GainOverConstantPValue(_MSAMetric):
    """One-sided p-value of the paired test that the model's MAE beats the constant's."""

    METRIC = GAIN_P


class WorseThanBaselinePValue(_MSAMetric):
    """One-sided p-value of the paired test that the MAE exceeds the baseline's + ``tolerance``.

    Small when the candidate is clearly worse; 1.0 when there is no baseline.
    """

    METRIC = WORSE_P

    def __init__(self, name: Optional[str] = None, tolerance: float = 0.0, **params):
        if not (float(tolerance) >= 0 and math.isfinite(float(tolerance))):
            raise ValueError(f"tolerance: expected a finite value >= 0, got {tolerance}")
        super().__init__(name=name, tolerance=float(tolerance), **params)


# Registered with TFMA by class name: every metric of trainer.core.metric_names.
for _class_name in TFMA_CLASSES.values():
    metric_types.register_metric(globals()[_class_name])
