"""Custom TFMA metrics, computed by the Evaluator in Beam.

Per model and slice:

* ``constant_mae`` (``ConstantBaselineMAE``): MAE of the constant predictor that always answers the
  train-split label mean. The mean is a full-pass Transform analyzer over
  the train split (the ``label_train_mean`` transformed feature), so the
  baseline is computed in the pipeline, never hard-coded;
* ``mae_gain_over_constant`` (``MaeGainOverConstant``): ``constant_mae - mae``. The blessing gate
  requires it to be positive: the model must beat the constant predictor.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterable

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

from trainer.preprocessing import LABEL_TRAIN_MEAN

CONSTANT_MAE = "constant_mae"
MAE_GAIN = "mae_gain_over_constant"


class ConstantBaselineMAE(metric_types.Metric):
    """MAE of the constant train-mean predictor on the evaluated slice."""

    def __init__(self, name: str = CONSTANT_MAE):
        super().__init__(metric_util.merge_per_key_computations(_computations),
                         name=name, report="constant")


class MaeGainOverConstant(metric_types.Metric):
    """``constant_mae - mae``: positive when the model beats the constant."""

    def __init__(self, name: str = MAE_GAIN):
        super().__init__(metric_util.merge_per_key_computations(_computations),
                         name=name, report="gain")


def _computations(name: str, report: str, eval_config=None, model_name: str = "",
                  output_name: str = "", example_weighted: bool = False,
                  ) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 example_weighted=example_weighted)
    preprocessor = metric_types.TransformedFeaturePreprocessor(
        feature_keys=[LABEL_TRAIN_MEAN], model_names=[model_name] if model_name else None)
    return [metric_types.MetricComputation(
        keys=[key], preprocessors=[preprocessor],
        combiner=_Combiner(key, report, eval_config, model_name, output_name, example_weighted))]


@dataclasses.dataclass
class _Accumulator:
    weight: float = 0.0
    model_error: float = 0.0
    constant_error: float = 0.0


class _Combiner(beam.CombineFn):
    def __init__(self, key, report, eval_config, model_name, output_name, example_weighted):
        self._key = key
        self._report = report
        self._eval_config = eval_config
        self._model_name = model_name
        self._output_name = output_name
        self._example_weighted = example_weighted

    def create_accumulator(self) -> _Accumulator:
        return _Accumulator()

    def _train_mean(self, inputs) -> float:
        features = inputs.get_transformed_features(self._model_name or None) or {}
        if self._model_name and self._model_name in features:
            features = features[self._model_name]
        if LABEL_TRAIN_MEAN not in features:
            raise ValueError(
                f"Evaluator: transformed feature {LABEL_TRAIN_MEAN!r} is missing; the model's "
                "transform_features signature must come from this project's preprocessing_fn")
        return float(np.asarray(features[LABEL_TRAIN_MEAN]).reshape(-1)[0])

    def add_input(self, acc: _Accumulator, inputs) -> _Accumulator:
        constant = self._train_mean(inputs)
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
                inputs, eval_config=self._eval_config, model_name=self._model_name,
                output_name=self._output_name, example_weighted=self._example_weighted):
            y = float(np.asarray(label).reshape(-1)[0])
            p = float(np.asarray(prediction).reshape(-1)[0])
            w = float(metric_util.safe_to_scalar(weight))
            acc.weight += w
            acc.model_error += w * abs(y - p)
            acc.constant_error += w * abs(y - constant)
        return acc

    def merge_accumulators(self, accumulators: Iterable[_Accumulator]) -> _Accumulator:
        merged = _Accumulator()
        for acc in accumulators:
            merged.weight += acc.weight
            merged.model_error += acc.model_error
            merged.constant_error += acc.constant_error
        return merged

    def extract_output(self, acc: _Accumulator) -> Dict[metric_types.MetricKey, float]:
        if acc.weight == 0:
            return {self._key: float("nan")}
        constant = acc.constant_error / acc.weight
        if self._report == "constant":
            return {self._key: constant}
        return {self._key: constant - acc.model_error / acc.weight}


metric_types.register_metric(ConstantBaselineMAE)
metric_types.register_metric(MaeGainOverConstant)
