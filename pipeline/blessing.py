"""The blessing rules' settings: defaults, runner flags and their checks.

Light on purpose (no TensorFlow): runners build their parsers from it before
the heavy libraries load. The rules themselves are in
:mod:`pipeline.evaluation`; a candidate is blessed, and only then pushed,
when on the overall slice of the evaluated split:

* ``mae_gain_over_constant > 0``: its MAE beats the constant predictor (the
  train-split label mean);
* ``corr >= corr_floor``: its predictions correlate with the labels (NaN,
  i.e. constant predictions, fails);
* ``mae - baseline mae <= mae_tolerance``: it is no worse than the last
  blessed model (skipped when there is none yet).

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

    def __post_init__(self):
        if not (self.mae_tolerance >= 0 and math.isfinite(self.mae_tolerance)):
            raise ValueError(f"--mae-tolerance: expected a finite value >= 0, got {self.mae_tolerance}")
        if not -1.0 <= self.corr_floor <= 1.0:
            raise ValueError(f"--corr-floor: expected a value in [-1, 1], got {self.corr_floor}")
        if int(self.min_slice_size) < 1:
            raise ValueError(f"--min-slice-size: expected >= 1, got {self.min_slice_size}")


def add_evaluation_flags(p: argparse.ArgumentParser) -> None:
    """``--corr-floor`` and ``--min-slice-size`` (``--mae-tolerance`` lives with the training flags)."""
    g = p.add_argument_group("evaluation and blessing")
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
        min_slice_size=int(getattr(args, "min_slice_size", MIN_SLICE_SIZE)))
