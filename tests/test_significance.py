"""The gate's paired test (trainer/metrics/significance.py) against scipy, and its error rates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from trainer.metrics import significance


def _errors(rng, n, shift=0.0):
    """Labels and two predictors whose expected absolute errors differ by about ``shift``."""
    y = np.clip(rng.normal(0.0, 1.8, n), -3, 3)
    a = y + rng.normal(0.0, 0.8, n)
    b = y + rng.normal(0.0, 0.8, n) + shift * np.sign(rng.normal(size=n))
    return y, a, b


def test_the_gain_test_is_scipys_paired_t_test(rng):
    y, p, c = _errors(rng, 300, shift=0.3)
    test = significance.gain_over_constant(significance.paired_stats(y, p, constants=c))
    want = stats.ttest_rel(np.abs(c - y), np.abs(p - y), alternative="greater")
    assert test.n == 300
    assert test.p_value == pytest.approx(want.pvalue, rel=1e-9)
    assert test.mean == pytest.approx(np.mean(np.abs(c - y) - np.abs(p - y)), rel=1e-12)


def test_the_baseline_test_shifts_by_the_tolerance(rng):
    y, p, b = _errors(rng, 200)
    test = significance.worse_than_baseline(significance.paired_stats(y, p, baselines=b), 0.02)
    d = np.abs(p - y) - np.abs(b - y)
    want = stats.ttest_1samp(d - 0.02, 0.0, alternative="greater")
    assert test.p_value == pytest.approx(want.pvalue, rel=1e-9)
    assert test.lower_bound(0.05) == pytest.approx(
        d.mean() - stats.t.ppf(0.95, 199) * stats.sem(d), rel=1e-9)


def test_statistics_of_parts_merge_by_addition(rng):
    y, p, c = _errors(rng, 101)
    whole = significance.paired_stats(y, p, c, c[::-1])
    parts = (significance.paired_stats(y[:40], p[:40], c[:40], c[::-1][:40])
             + significance.paired_stats(y[40:], p[40:], c[40:], c[::-1][40:]))
    np.testing.assert_allclose(parts, whole, rtol=1e-12)


def test_unknown_references_are_skipped(rng):
    y, p, c = _errors(rng, 10)
    c[3] = np.nan
    s = significance.paired_stats(y, p, constants=c)
    assert s[significance.GAIN_N] == 9 and s[significance.EXCESS_N] == 0
    assert significance.worse_than_baseline(s, 0.0) is None


def test_false_positive_rate_is_the_level():
    """Two equally good predictors: the test says "better" in about alpha of the samples."""
    rng = np.random.default_rng(7)
    alpha, trials, n = 0.05, 3000, 150
    hits = 0
    for _ in range(trials):
        y, a, b = _errors(rng, n)
        hits += significance.gain_over_constant(
            significance.paired_stats(y, a, constants=b)).p_value <= alpha
    # The binomial standard error at 3000 trials is 0.004.
    assert abs(hits / trials - alpha) < 0.015, hits / trials


def test_degenerate_cases():
    y = np.array([0.5, -1.0, 2.0])
    same = significance.paired_stats(y, y + 0.3, constants=y + 0.3, baselines=y + 0.3)
    assert significance.gain_over_constant(same).p_value == 1.0  # a tie is no gain
    assert significance.worse_than_baseline(same, 0.0).p_value == 1.0  # nor worse
    shifted = significance.paired_stats(y, y, baselines=y + 0.5)  # better by 0.5 everywhere
    assert significance.worse_than_baseline(shifted, 0.0).p_value == 1.0
    worse = significance.paired_stats(y + 0.5, y, baselines=y + 0.5)  # worse by 0.5 everywhere
    assert worse[[3, 4, 5]].tolist() == [3.0, 1.5, 0.75]
    assert significance.worse_than_baseline(worse, 0.4).p_value == 0.0
    assert significance.worse_than_baseline(worse, 0.5).p_value == 1.0
    one = significance.paired_stats(y[:1], y[:1], constants=y[:1] + 1)
    assert math.isnan(significance.gain_over_constant(one).p_value)
    assert "fewer than 2" in significance.gain_over_constant(one).describe("constant")
