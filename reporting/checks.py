"""The blessing thresholds of a run's EvalConfig, each with its value and verdict.

The EvalConfig is the one the Evaluator was configured with (before TFX drops
change thresholds when there is no baseline); the verdicts are TFMA's
validation result for the run.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

from reporting.data import NO_BASELINE, OVERALL, Check, SliceRow, import_tfma, slice_key
from trainer.core.metric_names import (
    BASELINE_CHECKS,
    CONSTANT_MAE,
    CORR,
    EXAMPLE_COUNT,
    GAIN_P,
    MAE,
    MAE_GAIN,
    RELATIVE_GAIN,
    SMALL_SLICE,
    TFMA_CLASSES,
    WORSE_P,
)


def parse_eval_config(json_text: str):
    """The Evaluator's ``eval_config`` exec property as a ``tfma.EvalConfig``."""
    from google.protobuf import json_format

    tfma = import_tfma()
    return json_format.Parse(json_text, tfma.EvalConfig()) if json_text else tfma.EvalConfig()


def metric_param(eval_config, metric: str, param: str):
    """A parameter of one of the config's metrics (e.g. SmallSlice's ``min_slice_size``), or None."""
    for spec in eval_config.metrics_specs:
        for config in spec.metrics:
            if config.class_name == TFMA_CLASSES[metric]:
                from tensorflow_model_analysis.metrics import metric_specs

                return (metric_specs.metric_instance(config).kwargs.get("params") or {}).get(param)
    return None


def min_slice_size(eval_config) -> Optional[int]:
    """The SmallSlice metric's ``min_slice_size``, if the config has that metric."""
    value = metric_param(eval_config, SMALL_SLICE, "min_slice_size")
    return None if value is None else int(value)


def _explain(metric: str, overall: SliceRow, eval_config) -> str:
    """What a gate check compared, in words and numbers (the p-values' tests)."""
    cand, base = overall.candidate, overall.baseline
    mae, constant = cand.get(MAE, math.nan), cand.get(CONSTANT_MAE, math.nan)
    if metric == GAIN_P:
        return (f"one-sided paired t-test of the absolute errors against the constant "
                f"predictor's, n={cand.get(EXAMPLE_COUNT, 0):.0f}: MAE {mae:.4f} vs {constant:.4f}")
    if metric == RELATIVE_GAIN:
        return f"MAE {mae:.4f} vs the constant predictor's {constant:.4f}"
    if metric == WORSE_P and MAE in base:
        tolerance = metric_param(eval_config, WORSE_P, "tolerance") or 0.0
        return (f"one-sided paired t-test: is the MAE above the baseline's + {tolerance:g}? "
                f"candidate {mae:.4f}, baseline {base[MAE]:.4f}")
    return ""


def _slice_spec_name(spec) -> str:
    if spec is None:
        return "every slice"
    keys = list(spec.feature_keys) + [f"{k}={v}" for k, v in spec.feature_values.items()]
    return " x ".join(keys) if keys else OVERALL


def _describe_threshold(threshold) -> Tuple[str, str]:
    """(kind, bound) of a TFMA value or change threshold."""
    from tensorflow_model_analysis.proto import config_pb2

    if isinstance(threshold, config_pb2.GenericValueThreshold):
        parts = []
        if threshold.HasField("lower_bound"):
            parts.append(f">= {threshold.lower_bound.value:g}")
        if threshold.HasField("upper_bound"):
            parts.append(f"<= {threshold.upper_bound.value:g}")
        return "value", " and ".join(parts) or "any"
    sign = "<=" if threshold.direction == config_pb2.MetricDirection.LOWER_IS_BETTER else ">="
    parts = []
    if threshold.HasField("absolute"):
        parts.append(f"{sign} baseline {threshold.absolute.value:+g}")
    if threshold.HasField("relative"):
        parts.append(f"{sign} baseline x (1 {threshold.relative.value:+g})")
    return "change", " and ".join(parts)


def blessing_checks(eval_config, validation, overall: SliceRow, has_baseline: bool) -> List[Check]:
    """Each configured threshold with its value and TFMA's verdict on it."""
    from tensorflow_model_analysis.metrics import metric_specs

    failures = []
    for per_slice in validation.metric_validations_per_slice:
        key = slice_key(per_slice.slice_key)
        for failure in per_slice.failures:
            failures.append((key, failure))
    checks = []
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(
        eval_config.metrics_specs, eval_config=eval_config)
    for key, entries in thresholds.items():
        if key.model_name == "baseline":
            continue
        for spec, threshold in entries:
            kind, bound = _describe_threshold(threshold)
            slice_name = _slice_spec_name(spec)
            if (kind == "change" or key.name in BASELINE_CHECKS) and not has_baseline:
                why = ("; TFX's Evaluator drops change thresholds without one"
                       if kind == "change" else "")
                checks.append(Check(key.name, slice_name, kind, bound, None, "skipped",
                                    NO_BASELINE + why))
                continue
            source = overall.diff if kind == "change" else overall.candidate
            value = source.get(key.name)
            overall_only = spec is not None and slice_name == OVERALL
            failed = [f for k, f in failures
                      if f.metric_key.name == key.name and f.metric_key.is_diff == key.is_diff
                      and (k == () or not overall_only)]
            note = _explain(key.name, overall, eval_config)
            if kind == "change" and key.name in overall.baseline:
                note = (f"candidate {overall.candidate.get(key.name, math.nan):.4f}, "
                        f"baseline {overall.baseline[key.name]:.4f}")
            if failed and failed[0].message.strip():
                note = (note + "; " if note else "") + failed[0].message.strip()
            checks.append(Check(key.name, slice_name, kind, bound, value,
                                "FAILED" if failed else "passed", note))
    order = {GAIN_P: 0, RELATIVE_GAIN: 1, MAE_GAIN: 2, CORR: 3, WORSE_P: 4, MAE: 5}
    return sorted(checks, key=lambda c: (order.get(c.metric, 9), c.metric, c.kind))
