"""The Keras training loop shared by the Trainer's ``run_fn`` and the Tuner's trials.

:func:`train` builds and compiles the configured model, optionally starts it
from a previous model's weights, fits it with the project's callbacks
(throughput, progress lines, TensorBoard, a checkpoint per epoch) and
returns a :class:`TrainResult`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from trainer.core import progress
from trainer.core.config import TrainerConfig
from trainer.training import checkpointing, data, optimization, precision, warm_start
from trainer.training.keras_model import build_keras_model, compile_model


class ThroughputMeter(tf.keras.callbacks.Callback):
    """Training examples/s per epoch, timed over the train steps only.

    Validation is excluded; the first epoch (tracing, filling the cache) is
    reported separately from the steady state.
    """

    def __init__(self, batch_size: int):
        super().__init__()
        self.batch_size = batch_size
        self.per_epoch = []
        self._start = None
        self._last = None
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._steps:
            self.per_epoch.append(self._steps * self.batch_size / (self._last - self._start))

    def steady_state(self) -> float:
        rates = self.per_epoch[1:] or self.per_epoch
        return float(np.median(rates)) if rates else 0.0


class EpochProgress(tf.keras.callbacks.Callback):
    """Logs epoch k of n with the train and validation MAE and the epoch's time."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        logging.info(progress.EPOCH_FORMAT, epoch + 1, self.epochs,
                     float(logs.get("mae", np.nan)), float(logs.get("val_mae", np.nan)),
                     time.perf_counter() - self._start)


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    ``history``: Keras's per-epoch logs (``loss``, ``mae``, ``val_*``) over
    every epoch, before and after a resume, plus ``warm_start_val_mae``
    ([loaded weights, untrained]) when a warm start loaded weights;
    ``policy``: the mixed-precision policy's name; ``resumed_from``: the
    epochs a checkpoint had already finished (0: a fresh start).
    """

    model: tf.keras.Model
    history: Dict[str, List[float]]
    meter: ThroughputMeter
    policy: str
    resumed_from: int


def train(config: TrainerConfig, train_ds, valid_ds, train_size: int, train_steps: int,
          log_dir: str, resume_dir: Optional[str] = None, base_model: Optional[str] = None,
          warm: bool = False, log_epochs: bool = True) -> TrainResult:
    """Fits a model (see :class:`TrainResult` for what comes back).

    ``config`` must have its alignment options resolved. With ``resume_dir``
    every epoch is checkpointed there, and a checkpoint already there is
    resumed from; ``history`` then covers every epoch, before and after the resume. With
    ``warm``, training starts from ``base_model``'s weights when they fit
    (trainer/training/warm_start.py). ``log_epochs`` logs one progress line per epoch.
    """
    policy = precision.resolve_policy(config.mixed_precision)
    per_epoch, epochs = data.steps_plan(train_size, config.batch_size, train_steps,
                                        config.min_epochs)
    total_steps = per_epoch * epochs
    with optimization.deterministic_ops(), optimization.checkpointable_dropout():
        tf.keras.utils.set_random_seed(config.seed)
        model = build_keras_model(config, policy)
        compile_model(model, config, policy, total_steps)
        warm_val_mae = None
        if warm:
            def val_mae():
                return float(model.evaluate(data.eval_batches(valid_ds, config.batch_size),
                                            verbose=0, return_dict=True)["mae"])

            untrained = val_mae() if base_model else None
            loaded, message = warm_start.apply(model, config, base_model)
            if loaded:  # where training starts, against a fresh model on the same data
                warm_val_mae = [val_mae(), untrained]
                message += (f" (val MAE {warm_val_mae[0]:.4f} before training; an untrained "
                            f"model's {untrained:.4f})")
            warm_start.log(message)
        meter = ThroughputMeter(config.batch_size)
        tracked = optimization.callbacks(config, total_steps)
        # A NaN loss ends training at once; trainer/core/divergence.py then fails the Trainer.
        callbacks = [meter, tf.keras.callbacks.TerminateOnNaN(), *tracked]
        if log_epochs:
            callbacks.append(EpochProgress(epochs))
        if log_dir:
            callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
        start, checkpoint = 0, None
        if resume_dir:
            checkpoint = checkpointing.EpochCheckpoint(
                checkpointing.for_structure(resume_dir, model), tracked)
            start = checkpoint.restore(model)
            callbacks.append(checkpoint)  # last: saves the others' end-of-epoch state
            if start:
                logging.info("Trainer: resuming from epoch %d of %d (checkpoint in %s)",
                             start, epochs, resume_dir)
        fit = model.fit(
            # The same batches an uninterrupted run would see from here on.
            data.training_batches(train_ds, train_size, config.batch_size, config.seed)
            .skip(start * per_epoch),
            steps_per_epoch=per_epoch,
            initial_epoch=epochs if checkpoint and checkpoint.stopped else start,
            epochs=epochs,
            validation_data=data.eval_batches(valid_ds, config.batch_size),
            callbacks=callbacks,
            verbose=0,  # EpochProgress logs each epoch
        )
    history = dict(checkpoint.history if checkpoint else fit.history)
    if warm_val_mae is not None:
        history["warm_start_val_mae"] = warm_val_mae  # [loaded weights, untrained]
    return TrainResult(model=model, history=history, meter=meter, policy=policy,
                       resumed_from=start)
