"""What the report shows, as plain data: slices, checks, predictions.

The Evaluator's TFMA output read into :class:`SliceRow` objects (candidate,
baseline and candidate-minus-baseline metrics per slice, plus the 7-class
confusion matrix), the noise floor of the built-in data, and the containers
for per-example predictions (read by :mod:`reporting.predictions`) and the
Tuner's trials (:mod:`reporting.tuning`). The run itself is found through ML
Metadata by :func:`pipeline.results.run_evaluation`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Tuple

import numpy as np

from msa_data import synth
from trainer.core import features
from trainer.core.metric_names import CONFUSION_7, EXAMPLE_COUNT, MAE, SMALL_SLICE

if TYPE_CHECKING:  # the real import is deferred: it loads TFX
    from pipeline.results import RunEvaluation

SliceKey = Tuple[Tuple[str, str], ...]

OVERALL = "overall"
# Why a run had no baseline model (the Evaluator's inputs say it had none).
NO_BASELINE = "no blessed baseline yet, or the candidate is itself the last blessed model"


@dataclasses.dataclass(eq=False)  # compared by identity (holds an array)
class SliceRow:
    key: SliceKey  # () for overall
    candidate: Dict[str, float]
    baseline: Dict[str, float]
    diff: Dict[str, float]
    confusion: Optional[np.ndarray]  # 7x7, true x predicted (candidate)

    @property
    def family(self) -> str:
        return " x ".join(c for c, _ in self.key) if self.key else OVERALL

    @property
    def value(self) -> str:
        return " / ".join(v for _, v in self.key) if self.key else OVERALL

    @property
    def name(self) -> str:
        return f"{self.family}={self.value}" if self.key else OVERALL

    @property
    def count(self) -> int:
        n = self.candidate.get(EXAMPLE_COUNT, math.nan)
        return int(n) if math.isfinite(n) else 0

    @property
    def small(self) -> bool:
        return self.candidate.get(SMALL_SLICE, 0.0) >= 0.5


@dataclasses.dataclass
class Check:
    """One blessing threshold: what it asks, the value, and how it went."""

    metric: str
    slice: str
    kind: str  # "value" or "change"
    bound: str
    value: Optional[float]
    status: str  # "passed", "FAILED" or "skipped"
    note: str = ""

    @property
    def label(self) -> str:
        """What is checked: the metric, or its change against the baseline."""
        return f"{self.metric} vs baseline" if self.kind == "change" else self.metric


@dataclasses.dataclass
class Predictions:
    labels: np.ndarray
    predictions: np.ndarray
    mae_recomputed: float


@dataclasses.dataclass
class Report:
    run: RunEvaluation
    split: str
    rows: List[SliceRow]
    checks: List[Check]
    validation_ok: Optional[bool]
    min_slice_size: Optional[int]
    noise_floor: Optional[float]
    noise_floor_path: Optional[str]
    predictions: Optional[Predictions] = None
    # Reference MAEs from the built-in data's known function (test split only).
    references: Dict[str, float] = dataclasses.field(default_factory=dict)
    notes: List[str] = dataclasses.field(default_factory=list)
    # The Tuner's trials, best first (reporting.tuning.Trial); empty when the run did not tune.
    trials: list = dataclasses.field(default_factory=list)
    # Data spans: the run's span, its drift distances, the previous span's run
    # (pipeline/span_results.py); empty for a plain contract folder.
    span_lines: List[str] = dataclasses.field(default_factory=list)

    @property
    def overall(self) -> SliceRow:
        return next(r for r in self.rows if not r.key)

    @property
    def has_baseline(self) -> bool:
        return self.run.baseline_model_uri is not None


# --------------------------------------------------------------------------
# Slices


def import_tfma():
    """``tensorflow_model_analysis``, with its per-call deprecation warnings silenced."""

    import tensorflow_model_analysis as tfma

    # tfma.load_* warn about TF's deprecated tf_record_iterator on every call.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return tfma


def _slice_value(single) -> str:
    if single.HasField("bytes_value"):
        return single.bytes_value.decode("utf-8", "replace")
    if single.HasField("int64_value"):
        return str(single.int64_value)
    return repr(single.float_value)


def slice_key(proto_slice_key) -> SliceKey:
    """A TFMA ``SliceKey`` proto as ((column, value), ...); () for overall."""
    return tuple((s.column, _slice_value(s)) for s in proto_slice_key.single_slice_keys)


def _metric_value(value):
    if value.HasField("double_value"):
        return value.double_value.value
    if value.HasField("array_value"):
        array = value.array_value
        values = (list(array.int64_values) or list(array.int32_values)
                  or list(array.float64_values) or list(array.float32_values))
        return np.asarray(values).reshape(list(array.shape))
    return None


def read_slices(evaluation_uri: str) -> List[SliceRow]:
    """Every slice's candidate, baseline and diff metrics from a TFMA output."""
    tfma = import_tfma()
    rows: Dict[SliceKey, SliceRow] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        if slice_metrics.HasField("cross_slice_key"):
            continue
        key = slice_key(slice_metrics.slice_key)
        row = rows.setdefault(key, SliceRow(key, {}, {}, {}, None))
        for kv in slice_metrics.metric_keys_and_values:
            value = _metric_value(kv.value)
            if value is None:
                continue
            if kv.key.is_diff:
                target = row.diff
            elif kv.key.model_name == "baseline":
                target = row.baseline
            else:
                target = row.candidate
            if isinstance(value, np.ndarray):
                if kv.key.name == CONFUSION_7 and target is row.candidate:
                    row.confusion = value.astype(np.int64)
                continue
            target[kv.key.name] = float(value)
    return sort_rows(rows.values())


def _family_order():
    from pipeline import evaluation

    return {" x ".join(keys) if keys else OVERALL: i for i, keys in enumerate(evaluation.SLICES)}


def _value_order(family: str):
    orders = {
        features.POLARITY: features.POLARITY_NAMES,
        features.TEXT_LEN_BUCKET: tuple(n for n, _, _ in features.TEXT_LEN_BUCKETS),
    }
    order = orders.get(family)
    return {v: i for i, v in enumerate(order)} if order else None


def sort_rows(rows) -> List[SliceRow]:
    families = _family_order()

    def sort_key(row: SliceRow):
        parts = []
        for column, value in row.key:
            order = _value_order(column)
            parts.append((order.get(value, len(order)) if order else 0, value))
        return (families.get(row.family, len(families)), row.family, parts)

    return sorted(rows, key=sort_key)


def group_by_family(rows: Iterable[SliceRow]) -> Dict[str, List[SliceRow]]:
    """The rows of each slice family, in the order they come."""
    families: Dict[str, List[SliceRow]] = {}
    for row in rows:
        families.setdefault(row.family, []).append(row)
    return families


def highest_mae_first(rows: Iterable[SliceRow]) -> List[SliceRow]:
    """Trusted slices before too-small ones, each by descending MAE."""
    return sorted(rows, key=lambda r: (r.small, -r.candidate.get(MAE, 0.0)))


# --------------------------------------------------------------------------
# Noise floor and predictions


# What the console and the page call each reference MAE of noise_floor.json.
REFERENCE_NAMES = {"text_part": "text part alone", "pooled_oracle": "pooled oracle",
                   "proportional_alignment": "proportional alignment",
                   "bag_of_words": "bag of words"}


def _noise_floor_file(data_root: Optional[str]):
    """(noise_floor.json's content, its path), or (None, None)."""
    if not data_root:
        return None, None

    path = os.path.join(data_root, synth.NOISE_FLOOR_FILE)
    try:
        import tensorflow as tf

        with tf.io.gfile.GFile(path) as f:
            return json.load(f), path
    except Exception:  # not the built-in data, or moved since the run
        return None, None


def noise_floor(data_root: Optional[str], split: str):
    """(the split's MAE noise floor, the file it came from), or (None, None)."""
    floor, path = _noise_floor_file(data_root)
    value = (floor or {}).get(f"{split}_mae_noise_floor")
    return (float(value), path) if value is not None else (None, None)


def reference_maes(data_root: Optional[str], split: str) -> Dict[str, float]:
    """Test MAEs of the known function's reference predictors (built-in data only).

    They are fitted on train and scored on test (msa_data.synth_reference),
    so they only apply when the evaluated split is ``test``.
    """
    floor, _ = _noise_floor_file(data_root)
    if split != "test" or not floor:
        return {}
    known = floor.get("reference_test_mae") or {}
    return {k: float(known[k]) for k in REFERENCE_NAMES if k in known}


def signal_captured(model_mae: float, constant_mae: Optional[float],
                    floor: Optional[float]) -> Optional[float]:
    """Share of the learnable MAE gap (constant predictor -> noise floor) closed."""
    if constant_mae is None or floor is None or not constant_mae > floor:
        return None
    if model_mae is None or math.isnan(model_mae):
        return None
    return (constant_mae - model_mae) / (constant_mae - floor)
