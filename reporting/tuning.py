"""The Tuner's trials, when the run tuned (``--tune``).

TFX's Tuner writes ``tuner_results.json`` into its ``tuner_results``
artifact: the completed trials, best first, each with its score (our
objective, the best validation MAE of the trial) and the values it tried.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional

RESULTS_FILE = "tuner_results.json"


@dataclasses.dataclass
class Trial:
    trial_id: str
    val_mae: float
    values: Dict[str, Any]


def read_trials(tuner_results_uri: Optional[str]) -> List[Trial]:
    """The trials, best first; [] when the run did not tune."""
    if not tuner_results_uri:
        return []
    path = os.path.join(tuner_results_uri, RESULTS_FILE)
    if not os.path.exists(path):
        raise LookupError(f"the Tuner's results {path} are missing")
    with open(path) as f:
        rows = json.load(f)
    # KerasTuner numbers trials from 0 ("00" with 10 or more); the console counts from 1.
    trials = [Trial(_number(r.pop("trial_id")), float(r.pop("score")), r) for r in rows]
    return sorted(trials, key=lambda t: t.val_mae)


def trial_columns(trials: List[Trial]) -> List[str]:
    """The searched settings, in a stable order."""
    return sorted({name for t in trials for name in t.values})


def trials_text(trials: List[Trial]) -> str:
    """The console table: one row per trial, best first."""
    if not trials:
        return ""
    names = trial_columns(trials)
    widths = [max(len(n), *(len(str(t.values.get(n, ""))) for t in trials)) for n in names]
    lines = [f"  tuning trials ({len(trials)}, best first; the Trainer used the first row's "
             "settings)",
             "  " + "  ".join([f"{'trial':<6}", f"{'val MAE':>8}",
                               *(f"{n:<{w}}" for n, w in zip(names, widths))])]
    for t in trials:
        lines.append("  " + "  ".join([f"{t.trial_id:<6}", f"{t.val_mae:8.4f}",
                                       *(f"{str(t.values.get(n, '')):<{w}}"
                                         for n, w in zip(names, widths))]).rstrip())
    return "\n".join(lines)


def _number(trial_id) -> str:
    text = str(trial_id)
    return str(int(text) + 1) if text.isdigit() else text
