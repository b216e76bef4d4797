"""Hyperparameter search for TFX's Tuner component (``tuner_fn``).

A KerasTuner random search over the model's size, depth, learning rate,
dropout and fusion options (:data:`SEARCH_SPACE`; the names are
TrainerConfig fields). Its first trial is the runner's own settings, so the
search never reports a best trial worse than not tuning. Each trial trains
with the Trainer's own ``task.train`` for ``--tune-steps`` steps and is
scored by its best validation MAE; the Tuner writes the best values as its
``best_hyperparameters`` artifact, which the Trainer reads
(:func:`best_values`) and applies over its settings.

Settings the user fixed with a flag are left out of the search (the
runner passes them as ``fixed``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any, Dict, Mapping, Optional, Sequence

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
    known = {f.name for f in dataclasses.fields(_config_class())}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"hyperparameters: unknown setting(s) {unknown}; expected "
                         "TrainerConfig fields")
    return values


def _config_class():
    from trainer.config import TrainerConfig

    return TrainerConfig


def _hyperparameters(space: Mapping[str, Sequence[Any]], start: Mapping[str, Any]):
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    for name, values in space.items():
        values = list(values)
        if start.get(name) not in values:
            values = [start[name], *values]  # the starting point is always a candidate
        if all(isinstance(v, bool) for v in values):
            hp.Boolean(name, default=bool(start[name]))
        else:
            hp.Choice(name, values, default=start[name])
    return hp


def _oracle(space, start, trials: int, seed: int):
    import keras_tuner

    class StartFirstOracle(keras_tuner.oracles.RandomSearchOracle):
        """Random search whose first trial is the starting settings."""

        def populate_space(self, trial_id):
            if not self.trials:
                return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING,
                        "values": self.hyperparameters.values}
            return super().populate_space(trial_id)

    return StartFirstOracle(
        objective=keras_tuner.Objective(OBJECTIVE, direction="min"), max_trials=trials,
        hyperparameters=_hyperparameters(space, start), seed=seed,
        tune_new_entries=False, allow_new_entries=False)


def _tuner_class():
    import keras_tuner

    class MsaTuner(keras_tuner.engine.base_tuner.BaseTuner):
        """Runs each trial with the Trainer's own training loop."""

        def __init__(self, start, trials: int, **kwargs):
            super().__init__(**kwargs)
            self.start, self.total = start, trials

        def run_trial(self, trial, train_ds, valid_ds, train_size, train_steps, aligned):
            from trainer import progress, task

            values = dict(trial.hyperparameters.values)
            config = dataclasses.replace(self.start, **values).resolve_alignment(aligned)
            began = time.perf_counter()
            _, history, _, _, _ = task.train(config, train_ds, valid_ds, train_size,
                                             train_steps, log_dir="", log_epochs=False)
            score = min(history.get(OBJECTIVE) or [math.nan])
            logging.info(progress.TRIAL_FORMAT, len(self.oracle.trials), self.total, score,
                         time.perf_counter() - began,
                         ", ".join(f"{k}={v}" for k, v in sorted(values.items())))
            return {OBJECTIVE: score}

    return MsaTuner


def tuner_fn(fn_args):
    """TFX Tuner entry point: returns the tuner and the arguments of its search."""
    from tfx.components.tuner.component import TunerFnResult
    import tensorflow_transform as tft

    from trainer import data
    from trainer.config import TrainerConfig

    settings = fn_args.custom_config or {}
    start = TrainerConfig.from_dict(settings["trainer_config"])
    trials = int(settings["trials"])
    transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    train_ds, valid_ds, train_size = data.read_train_and_valid(fn_args, transform_output, "Tuner")
    tuner = _tuner_class()(
        start=start, trials=trials,
        oracle=_oracle(settings["search_space"], start.to_dict(), trials, start.seed),
        directory=fn_args.working_dir, project_name="msa_tuning", overwrite=True)
    return TunerFnResult(tuner=tuner, fit_kwargs={
        "train_ds": train_ds, "valid_ds": valid_ds, "train_size": train_size,
        "train_steps": int(fn_args.train_steps), "aligned": data.is_word_aligned(train_ds)})
