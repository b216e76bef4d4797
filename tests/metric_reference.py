"""The MSA metrics written the plain way (numpy + sklearn), to check the project's against."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

NAMES = ("mae", "corr", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc7", "acc5",
         "example_count")


def reference(y, p) -> dict:
    """The literature's definitions, written the plain way (numpy + sklearn)."""
    y = np.asarray(y, np.float64)
    p = np.asarray(p, np.float64)
    out = {"example_count": float(len(y))}
    out["mae"] = float(np.mean(np.abs(p - y))) if len(y) else math.nan
    if len(y) < 2 or np.std(y) == 0 or np.std(p) == 0:
        out["corr"] = math.nan  # documented: undefined -> NaN
    else:
        out["corr"] = float(np.corrcoef(y, p)[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(y):
            out["acc2_has0"] = accuracy_score(y >= 0, p >= 0)
            out["f1_has0"] = f1_score(y >= 0, p >= 0, average="weighted", zero_division=0)
        else:
            out["acc2_has0"] = out["f1_has0"] = math.nan
        nz = y != 0
        if nz.any():
            out["acc2_non0"] = accuracy_score(y[nz] > 0, p[nz] > 0)
            out["f1_non0"] = f1_score(y[nz] > 0, p[nz] > 0, average="weighted", zero_division=0)
        else:
            out["acc2_non0"] = out["f1_non0"] = math.nan
    for name, bound in (("acc7", 3), ("acc5", 2)):
        out[name] = (float(np.mean(np.round(np.clip(p, -bound, bound))
                                   == np.round(np.clip(y, -bound, bound))))
                     if len(y) else math.nan)
    return out


def assert_matches(got: dict, want: dict, names=NAMES, tol=1e-9, where=""):
    for name in names:
        g, w = got[name], want[name]
        if math.isnan(w):
            assert math.isnan(g), f"{where}{name}: expected NaN, got {g}"
        else:
            assert g == pytest.approx(w, abs=tol), f"{where}{name}: {g} != {w}"
