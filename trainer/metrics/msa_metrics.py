"""The MSA evaluation metrics, defined once, on mergeable sufficient statistics.

Every consumer computes the same numbers from the same code:

* the Evaluator (TFMA metrics in :mod:`trainer.metrics.tfma_metrics`, computed in Beam
  per slice: a CombineFn sums :func:`batch_stats` vectors);
* the Trainer's validation metrics (:class:`trainer.metrics.keras_metrics.MSAMetrics`,
  a streaming Keras metric whose state is the same vector);
* the report (:mod:`reporting.report`), which reads the Evaluator's output and
  recomputes from the BulkInferrer's predictions only as a consistency check.

Definitions (``y`` label, ``p`` prediction; papers on CMU-MOSI/MOSEI)
=====================================================================

``mae``
    mean ``|p - y|``.
``corr``
    Pearson's r between ``p`` and ``y`` (signed). Undefined, and reported as
    NaN, when there are fewer than two examples or when ``p`` or ``y`` is
    constant on the slice (see :data:`CONSTANT_REL_STD`): a constant predictor
    has no correlation, and reporting 0 would hide that. NaN fails the
    blessing gate's ``corr`` floor.
``acc2_has0``, ``f1_has0``
    negative vs non-negative: true class ``y >= 0``, predicted ``p >= 0``;
    every example counts (zero labels are "non-negative").
``acc2_non0``, ``f1_non0``
    negative vs positive with the zero-labelled segments dropped: true class
    ``y > 0``, predicted ``p > 0``, over the examples with ``y != 0``. NaN when
    every label is 0.
    Both F1 scores are sklearn's ``f1_score(average='weighted')``: per-class F1
    weighted by the class's support among the true labels (a class that is
    never predicted has F1 0).
``acc7``
    ``round(clip(p, -3, 3)) == round(clip(y, -3, 3))``, rounding half to even
    as ``numpy.round`` does (2.5 -> 2, -0.5 -> -0).
``acc5``
    the same with clipping to ``[-2, 2]``.
``example_count``
    number of examples.
``constant_mae``
    MAE of a given constant predictor (the pipeline's: the train-split label
    mean); NaN when no constant was given.

All metrics are unweighted. A slice with no examples reports NaN everywhere
(``example_count`` 0).

The statistics vector
=====================

A float64 vector of :data:`STATS_SIZE` sums (counts, sums of errors and
moments, confusion counts). Statistics of disjoint data add up, so merging
is ``+``: a Beam CombineFn, a Keras metric variable and a numpy loop all hold
the same vector.
"""

from __future__ import annotations

import math
from typing import Dict

import numpy as np

# --- layout of the statistics vector ---------------------------------------
N = 0  # examples
ABS_ERR = 1  # sum |p - y|
SUM_Y, SUM_P, SUM_YY, SUM_PP, SUM_YP = 2, 3, 4, 5, 6
CONST_N = 7  # examples with a known constant prediction
CONST_ABS_ERR = 8  # sum |c - y|
HAS0 = slice(9, 13)  # 2x2 confusion (true row, predicted column): [negative, non-negative]
NON0 = slice(13, 17)  # 2x2 confusion over y != 0: [negative, positive]
C7_CLASSES = tuple(range(-3, 4))
C7 = slice(17, 17 + 49)  # 7x7 confusion of rounded classes -3..3
C5 = slice(66, 66 + 25)  # 5x5 confusion of rounded classes -2..2
STATS_SIZE = 91

# Pearson's r is undefined when a variable is constant. Sums of squares carry
# rounding error of ~1e-13 relative to E[x^2] at MOSEI size, so a spread below
# this fraction of the variable's RMS is treated as "constant".
CONSTANT_REL_STD = 1e-5

METRIC_NAMES = ("mae", "corr", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc7", "acc5",
                "example_count")
# What the Trainer logs (the constant predictor is the Evaluator's business).
TRAINING_METRIC_NAMES = METRIC_NAMES[:-1]


def empty_stats() -> np.ndarray:
    return np.zeros(STATS_SIZE, np.float64)


def _confusion(true_idx: np.ndarray, pred_idx: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(true_idx * k + pred_idx, minlength=k * k).astype(np.float64)


def rounded_class(values: np.ndarray, bound: int) -> np.ndarray:
    """``round(clip(values, -bound, bound))`` as an int class in ``[-bound, bound]``."""
    return np.round(np.clip(values, -bound, bound)).astype(np.int64)


def batch_stats(labels, predictions, constants=None) -> np.ndarray:
    """Statistics vector of one batch.

    ``labels`` and ``predictions`` are flattened to 1-D (any shape with one
    value per example); ``constants`` is an optional per-example constant
    prediction (NaN where unknown) for ``constant_mae``.
    """
    y = np.asarray(labels, np.float64).reshape(-1)
    p = np.asarray(predictions, np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"msa metrics: {y.size} labels but {p.size} predictions")
    s = empty_stats()
    if y.size == 0:
        return s
    s[N] = y.size
    s[ABS_ERR] = np.sum(np.abs(p - y))
    s[SUM_Y], s[SUM_P] = np.sum(y), np.sum(p)
    s[SUM_YY], s[SUM_PP], s[SUM_YP] = np.dot(y, y), np.dot(p, p), np.dot(y, p)
    if constants is not None:
        c = np.asarray(constants, np.float64).reshape(-1)
        if c.shape != y.shape:
            raise ValueError(f"msa metrics: {y.size} labels but {c.size} constants")
        known = ~np.isnan(c)
        s[CONST_N] = np.sum(known)
        s[CONST_ABS_ERR] = np.sum(np.abs(c[known] - y[known]))
    s[HAS0] = _confusion((y >= 0).astype(np.int64), (p >= 0).astype(np.int64), 2)
    nonzero = y != 0
    s[NON0] = _confusion((y[nonzero] > 0).astype(np.int64), (p[nonzero] > 0).astype(np.int64), 2)
    s[C7] = _confusion(rounded_class(y, 3) + 3, rounded_class(p, 3) + 3, 7)
    s[C5] = _confusion(rounded_class(y, 2) + 2, rounded_class(p, 2) + 2, 5)
    return s


def merge(*stats) -> np.ndarray:
    total = empty_stats()
    for s in stats:
        total += s
    return total


def confusion_7(stats: np.ndarray) -> np.ndarray:
    """7x7 int64 counts: row = true class -3..3, column = predicted class."""
    return np.asarray(stats[C7], np.float64).reshape(7, 7).round().astype(np.int64)


def _accuracy(confusion: np.ndarray) -> float:
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total > 0 else math.nan


def weighted_f1(confusion: np.ndarray) -> float:
    """sklearn's ``f1_score(average='weighted')`` from a confusion matrix.

    Per class ``F1 = 2TP / (2TP + FP + FN)``, weighted by the class's true
    count; classes absent from the true labels weigh 0.
    """
    confusion = np.asarray(confusion, np.float64)
    support = confusion.sum(axis=1)
    total = support.sum()
    if total <= 0:
        return math.nan
    tp = np.diag(confusion)
    fp = confusion.sum(axis=0) - tp
    fn = support - tp
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(np.sum(f1 * support) / total)


def pearson(stats: np.ndarray) -> float:
    """Pearson's r from the sums; NaN when undefined (see the module doc)."""
    n = stats[N]
    if n < 2:
        return math.nan
    my, mp = stats[SUM_Y] / n, stats[SUM_P] / n
    eyy, epp = stats[SUM_YY] / n, stats[SUM_PP] / n
    var_y, var_p = eyy - my * my, epp - mp * mp
    cov = stats[SUM_YP] / n - my * mp
    tol = CONSTANT_REL_STD ** 2
    if var_y <= tol * eyy or var_p <= tol * epp or var_y <= 0 or var_p <= 0:
        return math.nan
    return float(np.clip(cov / math.sqrt(var_y * var_p), -1.0, 1.0))


def compute(stats: np.ndarray) -> Dict[str, float]:
    """Every metric of :data:`METRIC_NAMES` plus ``constant_mae``."""
    stats = np.asarray(stats, np.float64)
    n = stats[N]
    has0 = stats[HAS0].reshape(2, 2)
    non0 = stats[NON0].reshape(2, 2)
    return {
        "mae": float(stats[ABS_ERR] / n) if n > 0 else math.nan,
        "corr": pearson(stats),
        "acc2_has0": _accuracy(has0),
        "f1_has0": weighted_f1(has0),
        "acc2_non0": _accuracy(non0),
        "f1_non0": weighted_f1(non0),
        "acc7": _accuracy(stats[C7].reshape(7, 7)),
        "acc5": _accuracy(stats[C5].reshape(5, 5)),
        "example_count": float(n),
        "constant_mae": (float(stats[CONST_ABS_ERR] / stats[CONST_N])
                         if stats[CONST_N] > 0 else math.nan),
    }


def evaluate(labels, predictions, constants=None) -> Dict[str, float]:
    """Convenience: all metrics of one array of labels and predictions."""
    return compute(batch_stats(labels, predictions, constants))


DEFINITIONS = {
    "mae": "mean |pred - label|",
    "corr": "Pearson r (NaN when pred or label is constant)",
    "acc2_has0": "Acc-2, negative vs non-negative (label >= 0 vs pred >= 0)",
    "f1_has0": "weighted F1, negative vs non-negative",
    "acc2_non0": "Acc-2, negative vs positive, label == 0 dropped (> 0 vs > 0)",
    "f1_non0": "weighted F1, negative vs positive, label == 0 dropped",
    "acc7": "round(clip(., -3, 3)) agrees (7 classes, half to even)",
    "acc5": "round(clip(., -2, 2)) agrees (5 classes, half to even)",
    "example_count": "examples",
    "constant_mae": "MAE of the train-split label mean (constant predictor)",
    "mae_gain_over_constant": "constant_mae - mae",
    "relative_gain_over_constant": "mae_gain_over_constant / constant_mae",
    "gain_over_constant_p": "one-sided p: MAE below the constant's (paired t-test, abs. errors)",
    "worse_than_baseline_p": "one-sided p: MAE above the baseline's + tolerance (paired t-test)",
}
