"""The blessing gate's settings: defaults, runner flags and their checks.

Light on purpose (no TensorFlow): runners build their parsers from it before
the heavy libraries load. The gate is built in :mod:`pipeline.evaluation`; a
candidate is blessed, and only then pushed, when on the overall slice of the
evaluated split:

* ``gain_over_constant_p <= alpha``: its MAE beats the constant predictor's
  (the train-split label mean) significantly, by a one-sided paired t-test on
  the per-example absolute errors (:mod:`trainer.metrics.significance`);
* ``relative_gain_over_constant >= min_relative_gain``: and by a margin that
  matters;
* ``corr >= corr_floor``: its predictions correlate with the labels (NaN,
  i.e. constant predictions, fails);
* ``worse_than_baseline_p >= alpha``: it is not significantly worse than the
  last blessed model by more than ``mae_tolerance`` (the same paired test;
  skipped when there is no blessed model yet). A candidate whose MAE is a
  little higher, within the noise, is not called worse.

Slices with fewer than ``min_slice_size`` examples are reported and marked
"too small"; the gate never looks at slices other than the overall one.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

from pipeline import configs
from trainer.core import metric_names

# Blessing: MAE may exceed the last blessed model's by at most this much.
MAE_CHANGE_TOLERANCE = configs.MAE_CHANGE_TOLERANCE
# Significance level of both paired tests. A model with no real gain passes
# the gain test with probability alpha: with a retrain on every new span,
# about one useless candidate in a hundred would be pushed; a sound model is
# called worse than an equally good baseline as rarely. A replica of the
# model the old gate pushed (0.3% of the constant's MAE, r = 0.14 on 686
# segments) gets p = 0.33 (tests/test_msa_metrics.py).
ALPHA = 0.01
# Minimum share of the constant predictor's MAE the candidate must remove.
# Models that learned anything real remove far more: on CMU-MOSI the weakest
# published baselines reach MAE ~1.0-1.1 against the constant's ~1.46 (25-30%),
# current models ~0.7 (50%+). 5% refuses candidates whose gain, even when
# significant at MOSEI size (4,659 test segments), is too small to be worth a
# deployment.
MIN_RELATIVE_GAIN = 0.05
# Pearson r floor. 0.1 rejects models whose ranking of segments is no better
# than noise at MOSI test size (the standard error of r under no correlation
# is 1/sqrt(n) = 0.038 at n = 686, so 0.1 is ~2.6 standard errors), while any
# model that learned something (published MOSI models: r = 0.6-0.8) passes.
CORR_FLOOR = 0.1
# Slices with fewer examples are marked "too small" in reports.
MIN_SLICE_SIZE = metric_names.MIN_SLICE_SIZE


@dataclasses.dataclass(frozen=True)
class BlessingSettings:
    mae_tolerance: float = MAE_CHANGE_TOLERANCE
    corr_floor: float = CORR_FLOOR
    min_slice_size: int = MIN_SLICE_SIZE
    alpha: float = ALPHA
    min_relative_gain: float = MIN_RELATIVE_GAIN

    def __post_init__(self):
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"--gate-alpha: expected a significance level in (0, 1), got {self.alpha}")
        if not (self.min_relative_gain < 1.0 and math.isfinite(self.min_relative_gain)):
            raise ValueError("--min-relative-gain: expected a share of the constant predictor's "
                             f"MAE below 1 (e.g. 0.05), got {self.min_relative_gain}")
        if not (self.mae_tolerance >= 0 and math.isfinite(self.mae_tolerance)):
            raise ValueError(f"--mae-tolerance: expected a finite value >= 0, got {self.mae_tolerance}")
        if not -1.0 <= self.corr_floor <= 1.0:
            raise ValueError(f"--corr-floor: expected a value in [-1, 1], got {self.corr_floor}")
        if int(self.min_slice_size) < 1:
            raise ValueError(f"--min-slice-size: expected >= 1, got {self.min_slice_size}")


def add_evaluation_flags(p: argparse.ArgumentParser) -> None:
    """The gate's flags: ``--gate-alpha``, ``--min-relative-gain``, ``--corr-floor``,
    ``--mae-tolerance`` and ``--min-slice-size``."""
    g = p.add_argument_group("evaluation and blessing")
    g.add_argument("--gate-alpha", type=float, default=ALPHA,
                   help="significance level of the gate's paired tests: bless only if the MAE "
                        "beats the constant predictor's with one-sided p at most this, and "
                        "refuse as worse only if p is below it (default %(default)s)")
    g.add_argument("--min-relative-gain", type=float, default=MIN_RELATIVE_GAIN,
                   help="bless only if the model removes at least this share of the constant "
                        "predictor's MAE (default %(default)s)")
    g.add_argument("--mae-tolerance", type=float, default=MAE_CHANGE_TOLERANCE,
                   help="refuse as worse only a model whose MAE is significantly above the last "
                        "blessed model's plus this (default %(default)s)")
    g.add_argument("--corr-floor", type=float, default=CORR_FLOOR,
                   help="bless only if Pearson r on the overall test slice is at least this "
                        f"(default {CORR_FLOOR})")
    g.add_argument("--min-slice-size", type=int, default=MIN_SLICE_SIZE,
                   help="slices with fewer examples are marked too small in the reports "
                        f"(default {MIN_SLICE_SIZE})")


def settings_from(args) -> BlessingSettings:
    """Settings from parsed flags; raises ValueError naming a bad flag."""
    return BlessingSettings(
        mae_tolerance=float(getattr(args, "mae_tolerance", MAE_CHANGE_TOLERANCE)),
        corr_floor=float(getattr(args, "corr_floor", CORR_FLOOR)),
        min_slice_size=int(getattr(args, "min_slice_size", MIN_SLICE_SIZE)),
        alpha=float(getattr(args, "gate_alpha", ALPHA)),
        min_relative_gain=float(getattr(args, "min_relative_gain", MIN_RELATIVE_GAIN)))
