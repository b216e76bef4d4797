"""Paired tests of MAE differences, on mergeable sums: the blessing gate's statistics.

The gate compares two predictors on the same test examples twice: the
candidate against the constant predictor (does it beat it?), and the
candidate against the last blessed model (is it worse?). Both questions are
about MAE, and both predictors score the same examples, so each test is
paired: per example, the difference of the two absolute errors, ``d``.

The test is the one-sided paired t-test on ``d``: Diebold and Mariano's test
of equal predictive accuracy under absolute loss, for independent examples.
Chosen over the alternatives because:

* it tests exactly the quantity the gate reports, the MAE difference (mean
  ``d``); a Wilcoxon signed-rank test tests the median of ``d``, whose sign
  can disagree with the MAE's;
* it needs only ``n``, ``sum d`` and ``sum d^2``, so Beam computes it exactly
  on every slice, merged like every other metric (a bootstrap needs every
  example in one place);
* ``d`` is bounded (``|d| <= |a - b|``), so the t distribution is accurate at
  test-split sizes (``tests/test_significance.py`` checks its false-positive
  rate by simulation).

It assumes independent examples. Segments of one video share a speaker, so
their errors correlate and the p-values are somewhat optimistic; the minimum
relative gain (:mod:`pipeline.blessing`) is the margin for that.

The statistics vector (:data:`PAIRED_SIZE` floats, merged by ``+``):

* ``gain`` terms, ``d = |c - y| - |p - y|`` over examples with a known
  constant ``c``: positive when the candidate ``p`` beats the constant;
* ``excess`` terms, ``d = |p - y| - |b - y|`` over examples with a baseline
  prediction ``b``: positive when the candidate is worse than the baseline.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np
from scipy import special

GAIN_N, GAIN_SUM, GAIN_SQ = 0, 1, 2
EXCESS_N, EXCESS_SUM, EXCESS_SQ = 3, 4, 5
PAIRED_SIZE = 6


def empty_paired() -> np.ndarray:
    return np.zeros(PAIRED_SIZE, np.float64)


def _add(s: np.ndarray, at: int, d: np.ndarray) -> None:
    s[at], s[at + 1], s[at + 2] = d.size, np.sum(d), np.dot(d, d)


def paired_stats(labels, predictions, constants=None, baselines=None) -> np.ndarray:
    """The statistics vector of one batch; NaN constants or baselines are skipped."""
    y = np.asarray(labels, np.float64).reshape(-1)
    p = np.asarray(predictions, np.float64).reshape(-1)
    s = empty_paired()
    err = np.abs(p - y)
    for at, other, sign in ((GAIN_N, constants, 1.0), (EXCESS_N, baselines, -1.0)):
        if other is None:
            continue
        o = np.asarray(other, np.float64).reshape(-1)
        if o.shape != y.shape:
            raise ValueError(f"paired stats: {y.size} labels but {o.size} reference predictions")
        known = ~np.isnan(o)
        _add(s, at, sign * (np.abs(o[known] - y[known]) - err[known]))
    return s


@dataclasses.dataclass(frozen=True)
class PairedTest:
    """One one-sided paired t-test: is the mean difference above ``margin``?

    ``p_value`` is NaN with fewer than two examples; with no spread at all it
    is 0 or 1 (the difference is known exactly).
    """

    n: int
    mean: float
    std_error: float
    margin: float
    p_value: float

    def lower_bound(self, alpha: float) -> float:
        """The one-sided ``1 - alpha`` lower confidence bound of the mean difference."""
        if self.n < 2:
            return math.nan
        return self.mean - float(special.stdtrit(self.n - 1, 1.0 - alpha)) * self.std_error

    def describe(self, what: str) -> str:
        if self.n < 2:
            return f"paired t-test: fewer than 2 examples with a {what}"
        return (f"paired t-test on absolute errors, n={self.n}: mean difference "
                f"{self.mean:+.4f} ± {self.std_error:.4f} s.e., one-sided p = {self.p_value:.3g}")


def one_sided_test(n: float, total: float, squares: float, margin: float = 0.0) -> PairedTest:
    """Tests H0 ``mean d <= margin`` against H1 ``mean d > margin`` from the sums."""
    n = int(round(n))
    if n < 2:
        return PairedTest(n, math.nan if n == 0 else total, math.nan, margin, math.nan)
    mean = total / n
    var = max(squares - n * mean * mean, 0.0) / (n - 1)
    se = math.sqrt(var / n)
    # Sums of squares carry relative rounding error ~1e-13: a spread below
    # this is no spread (identical predictors, a rerun of the same model).
    if se <= 1e-9 * max(1.0, abs(mean)):
        return PairedTest(n, mean, 0.0, margin, 0.0 if mean > margin else 1.0)
    t = (mean - margin) / se
    return PairedTest(n, mean, se, margin, float(special.stdtr(n - 1, -t)))


def gain_over_constant(stats: np.ndarray) -> PairedTest:
    """Does the candidate's MAE beat the constant predictor's?"""
    return one_sided_test(stats[GAIN_N], stats[GAIN_SUM], stats[GAIN_SQ])


def worse_than_baseline(stats: np.ndarray, tolerance: float) -> Optional[PairedTest]:
    """Is the candidate's MAE above the baseline's plus ``tolerance``? None without a baseline."""
    if stats[EXCESS_N] == 0:
        return None
    return one_sided_test(stats[EXCESS_N], stats[EXCESS_SUM], stats[EXCESS_SQ], tolerance)
