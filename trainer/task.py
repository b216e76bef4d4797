"""The Trainer's ``run_fn``: train the configured model on Transform's output.

Writes to the Trainer's artifacts:
* ``serving_model_dir``: the float32 serving SavedModel (see export.py);
* ``model_run_dir``: TensorBoard logs and ``training_summary.json``
  (the resolved settings, epochs, best epoch, validation loss, training
  throughput).

Training is deterministic: the same seed, data and settings on the same
machine give the same weights (op determinism, seeded shuffling, dropout
from checkpointed generators). Every epoch is checkpointed
(``trainer/checkpointing.py``), so a Trainer killed at epoch k resumes there
on the next run of the same inputs and ends with the same model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer import (checkpointing, data, optimization, precision, progress, tuning,
                     warm_start)
from trainer.config import TrainerConfig
from trainer.export import export_serving_model
from trainer.keras_model import build_keras_model, compile_model

SUMMARY_FILE = "training_summary.json"


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


def train(config: TrainerConfig, train_ds, valid_ds, train_size: int, train_steps: int,
          log_dir: str, resume_dir: Optional[str] = None, base_model: Optional[str] = None,
          warm: bool = False, log_epochs: bool = True):
    """Fits a model; returns ``(model, history, meter, policy, resumed_from)``.

    ``config`` must have its alignment options resolved. With ``resume_dir``
    every epoch is checkpointed there, and a checkpoint already there is
    resumed from (``resumed_from``: the epochs it had finished, else 0);
    ``history`` then covers every epoch, before and after the resume. With
    ``warm``, training starts from ``base_model``'s weights when they fit
    (trainer/warm_start.py). ``log_epochs`` logs one progress line per epoch.
    """
    policy = precision.resolve_policy(config.mixed_precision)
    per_epoch, epochs = data.steps_plan(train_size, config.batch_size, train_steps)
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
        callbacks = [meter, *tracked]
        if log_epochs:
            callbacks.append(EpochProgress(epochs))
        if log_dir:
            callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
        start, checkpoint = 0, None
        if resume_dir:
            checkpoint = checkpointing.EpochCheckpoint(resume_dir, tracked)
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
    return model, history, meter, policy, start


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor)."""
    config = TrainerConfig.from_dict(fn_args.custom_config or {})
    tuned = tuning.best_values(fn_args.hyperparameters)
    if tuned:  # the Tuner's best hyperparameters replace the runner's settings
        config = dataclasses.replace(config, **tuned)
        logging.info("Trainer: using the Tuner's best hyperparameters %s", tuned)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train_ds, valid_ds, train_size = data.read_train_and_valid(
        fn_args, tf_transform_output, "Trainer")
    aligned = data.is_word_aligned(train_ds)
    config = config.resolve_alignment(aligned)
    logging.info("Trainer: data %s word-aligned; shared_positions %s, word_fusion %s",
                 "is" if aligned else "is not", config.shared_positions, config.word_fusion)

    started = time.perf_counter()
    resume_dir = checkpointing.resume_dir(fn_args)
    model, history, meter, policy, resumed_from = train(
        config, train_ds, valid_ds, train_size, fn_args.train_steps, fn_args.model_run_dir,
        resume_dir, base_model=fn_args.base_model, warm=config.warm_start)
    train_seconds = time.perf_counter() - started
    export_serving_model(model, config, tf_transform_output, fn_args.serving_model_dir)
    warm_start.save(model, config, fn_args.serving_model_dir)

    val_loss = history.get("val_loss", [])
    summary = {
        "policy": policy,
        "jit_compile": bool(model.jit_compile),  # XLA train steps (--jit-compile)
        "word_aligned_data": aligned,
        "parameters": int(model.count_params()),
        "train_examples": train_size,
        "epochs_run": len(history.get("loss", [])),
        "resumed_from_epoch": resumed_from,
        "best_epoch": int(np.argmin(val_loss)) + 1 if val_loss else None,
        "best_val_loss": float(np.min(val_loss)) if val_loss else None,
        "train_seconds": round(train_seconds, 2),
        "train_examples_per_sec": meter.steady_state(),
        "train_examples_per_sec_by_epoch": meter.per_epoch,
        "history": {k: [float(v) for v in history[k]] for k in (
            "mae", "val_mae", "loss", "val_loss", "warm_start_val_mae") if k in history},
        "tuned_hyperparameters": tuned,
        "base_model": fn_args.base_model if config.warm_start else None,
        "config": config.to_dict(),
    }
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, SUMMARY_FILE), "w") as f:
        json.dump(summary, f, indent=2)
    checkpointing.EpochCheckpoint(resume_dir, []).clear()  # exported: nothing to resume
