"""Hyperparameter search for TFX's Tuner component (``tuner_fn``).

A KerasTuner random search over the model's size, depth, learning rate,
dropout and fusion options (:mod:`trainer.core.search_space`; the names are
TrainerConfig fields). Its first trial is the runner's own settings, so the
search never reports a best trial worse than not tuning. Each trial trains
with the Trainer's own loop (:func:`trainer.training.loop.train`) for
``--tune-steps`` steps and is scored by its best validation MAE; the Tuner
writes the best values as its ``best_hyperparameters`` artifact, which the
Trainer applies over its settings
(:func:`trainer.core.search_space.best_values`).

Settings the user fixed with a flag are left out of the search (the
runner passes them as ``fixed``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any, Mapping, Sequence

import keras_tuner
import tensorflow_transform as tft
from tfx.components.tuner.component import TunerFnResult

from trainer.core import progress
from trainer.core.config import TrainerConfig
from trainer.core.search_space import OBJECTIVE
from trainer.training import data
from trainer.training.loop import train


def _hyperparameters(space: Mapping[str, Sequence[Any]], start: Mapping[str, Any]):
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
    class MsaTuner(keras_tuner.engine.base_tuner.BaseTuner):
        """Runs each trial with the Trainer's own training loop."""

        def __init__(self, start, trials: int, **kwargs):
            super().__init__(**kwargs)
            self.start, self.total = start, trials

        def run_trial(self, trial, train_ds, valid_ds, train_size, train_steps, aligned):
            values = dict(trial.hyperparameters.values)
            config = dataclasses.replace(self.start, **values).resolve_alignment(aligned)
            began = time.perf_counter()
            result = train(config, train_ds, valid_ds, train_size, train_steps, log_dir="",
                           log_epochs=False)
            score = min(result.history.get(OBJECTIVE) or [math.nan])
            logging.info(progress.TRIAL_FORMAT, len(self.oracle.trials), self.total, score,
                         time.perf_counter() - began,
                         ", ".join(f"{k}={v}" for k, v in sorted(values.items())))
            return {OBJECTIVE: score}

    return MsaTuner


def tuner_fn(fn_args):
    """TFX Tuner entry point: returns the tuner and the arguments of its search."""
    settings = fn_args.custom_config or {}
    transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    start = dataclasses.replace(TrainerConfig.from_dict(settings["trainer_config"]),
                                max_lens=data.transformed_lengths(transform_output))
    trials = int(settings["trials"])
    train_ds, valid_ds, train_size = data.read_train_and_valid(fn_args, transform_output, "Tuner")
    tuner = _tuner_class()(
        start=start, trials=trials,
        oracle=_oracle(settings["search_space"], start.to_dict(), trials, start.seed),
        directory=fn_args.working_dir, project_name="msa_tuning", overwrite=True)
    return TunerFnResult(tuner=tuner, fit_kwargs={
        "train_ds": train_ds, "valid_ds": valid_ds, "train_size": train_size,
        "train_steps": int(fn_args.train_steps), "aligned": data.is_word_aligned(train_ds)})
