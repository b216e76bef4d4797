"""The Tuner's search space and how its result comes back to the Trainer.

:data:`SEARCH_SPACE` names TrainerConfig fields and the values a trial may
take. :func:`tune_config` is what the pipeline gives the Tuner (the start
settings, the space without the settings the user fixed with a flag, the
trial count); :func:`best_values` turns the Tuner's ``best_hyperparameters``
back into TrainerConfig overrides. Light: no TensorFlow, no KerasTuner.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Sequence

from trainer.core.config import TrainerConfig

# Field -> the values tried. Every default of the 'default' preset is among them.
SEARCH_SPACE: Dict[str, Sequence[Any]] = {
    "model_dim": (16, 32, 64),
    "n_layers_mod": (1, 2),
    "learning_rate": (1e-3, 3e-3, 1e-2),
    "dropout_rate": (0.1, 0.3, 0.5),
    "bidirectional_fusion": (False, True),
    "word_fusion": ("auto", "off"),
}
OBJECTIVE = "val_mae"


def tune_config(trainer_config: Mapping[str, Any], trials: int,
                fixed: Sequence[str] = ()) -> Dict[str, Any]:
    """The Tuner's ``custom_config``: the settings to start from, and what to search."""
    space = {name: list(values) for name, values in SEARCH_SPACE.items() if name not in fixed}
    if "model_dim" in space:  # attention needs model_dim divisible by the head count
        heads = int(trainer_config.get("num_heads", 1))
        space["model_dim"] = [d for d in space["model_dim"] if d % heads == 0] or \
            [trainer_config["model_dim"]]
    if trials < 1:
        raise ValueError(f"--tune-trials: expected >= 1, got {trials}")
    return {"trainer_config": dict(trainer_config), "search_space": space, "trials": trials}


def best_values(hyperparameters: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """TrainerConfig overrides from a ``best_hyperparameters`` config (or {})."""
    if not hyperparameters:
        return {}
    values = dict(hyperparameters.get("values", {}))
    known = {f.name for f in dataclasses.fields(TrainerConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"hyperparameters: unknown setting(s) {unknown}; expected "
                         "TrainerConfig fields")
    return values
