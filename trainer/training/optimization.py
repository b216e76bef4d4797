"""The training recipe: optimizer, learning-rate schedule, clipping, stopping.

Everything comes from :class:`trainer.core.config.TrainerConfig`:

* ``optimizer``: ``adamw`` (decoupled weight decay; biases and LayerNorm
  scales/offsets are not decayed) or ``adam``;
* ``lr_schedule``: ``cosine`` (linear warmup over ``warmup_fraction`` of the
  planned steps, then cosine decay to 0 at the last planned step),
  ``plateau`` (warmup, then ``learning_rate`` halved by ``plateau_factor``
  after ``plateau_patience`` epochs without validation improvement, down to
  ``min_learning_rate``) or ``constant`` (warmup, then constant);
* ``clip_norm``: global gradient-norm clipping (0 = off);
* early stopping on the validation loss with ``early_stopping_patience``
  epochs and ``early_stopping_min_delta``, restoring the best weights.
"""

from __future__ import annotations

import contextlib
from typing import List

import tensorflow as tf

from trainer.core.config import TrainerConfig

# Variables AdamW leaves alone: shrinking a bias or a LayerNorm scale towards
# 0 is not a sensible prior (and the word gate's bias encodes "gate = 1").
NO_DECAY = ["bias", "gamma", "beta"]


def warmup_steps(config: TrainerConfig, total_steps: int) -> int:
    return int(round(config.warmup_fraction * total_steps))


def learning_rate(config: TrainerConfig, total_steps: int):
    """A schedule for ``cosine``; a float (changed by callbacks) otherwise."""
    if config.lr_schedule != "cosine":
        return config.learning_rate
    warmup = warmup_steps(config, total_steps)
    decay = max(1, total_steps - warmup)
    if warmup:
        return tf.keras.optimizers.schedules.CosineDecay(
            0.0, decay, alpha=0.0, warmup_target=config.learning_rate, warmup_steps=warmup)
    return tf.keras.optimizers.schedules.CosineDecay(config.learning_rate, decay, alpha=0.0)


def build_optimizer(config: TrainerConfig, total_steps: int):
    kwargs = {"learning_rate": learning_rate(config, total_steps)}
    if config.clip_norm > 0:
        kwargs["global_clipnorm"] = config.clip_norm
    if config.optimizer == "adamw":
        optimizer = tf.keras.optimizers.AdamW(weight_decay=config.weight_decay, **kwargs)
        optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
        return optimizer
    return tf.keras.optimizers.Adam(**kwargs)


class LinearWarmup(tf.keras.callbacks.Callback):
    """Ramps a float learning rate from 0 to its value over the first steps.

    For the ``plateau`` and ``constant`` schedules, whose learning rate must
    stay a variable that ReduceLROnPlateau can change.
    """

    def __init__(self, target: float, steps: int):
        super().__init__()
        self.target = float(target)
        self.steps = int(steps)
        self._step = 0

    @property
    def finished(self) -> bool:
        return self._step > self.steps

    def on_train_batch_begin(self, batch, logs=None):
        if self._step < self.steps:
            self.model.optimizer.learning_rate.assign(
                self.target * (self._step + 1) / self.steps)
        elif self._step == self.steps:
            self.model.optimizer.learning_rate.assign(self.target)
        self._step += 1


class ReduceLROnPlateauAfterWarmup(tf.keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau that starts counting once the warmup is over.

    Epochs inside the warmup would otherwise count as plateaus, and the
    warmup would then overwrite the reduced rate.
    """

    def __init__(self, warmup: "LinearWarmup" = None, **kwargs):
        super().__init__(**kwargs)
        self.warmup = warmup

    def on_epoch_end(self, epoch, logs=None):
        if self.warmup is not None and not self.warmup.finished:
            return
        super().on_epoch_end(epoch, logs)


def callbacks(config: TrainerConfig, total_steps: int) -> List[tf.keras.callbacks.Callback]:
    """Early stopping, and the schedule's callbacks when it needs any."""
    result: List[tf.keras.callbacks.Callback] = [
        tf.keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping_patience,
            min_delta=config.early_stopping_min_delta, restore_best_weights=True),
    ]
    warmup = None
    if config.lr_schedule != "cosine" and warmup_steps(config, total_steps):
        warmup = LinearWarmup(config.learning_rate, warmup_steps(config, total_steps))
        result.append(warmup)
    if config.lr_schedule == "plateau":
        result.append(ReduceLROnPlateauAfterWarmup(
            warmup, monitor="val_loss", factor=config.plateau_factor,
            patience=config.plateau_patience, min_lr=config.min_learning_rate))
    return result


@contextlib.contextmanager
def deterministic_ops():
    """Op determinism while training: same seed and data -> same weights.

    Restored afterwards, so the rest of the process (the Evaluator runs in
    the same process under the local runner) is unaffected.
    """
    from tensorflow.python.framework import config as tf_config

    was_enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was_enabled:
            tf_config.disable_op_determinism()


@contextlib.contextmanager
def checkpointable_dropout():
    """Dropout layers built inside draw from a ``tf.random.Generator``.

    Its state is a variable of the layer, so an epoch checkpoint holds it and
    a resumed run draws the same masks as an uninterrupted one (the legacy
    stateful ops restart their sequence in every new process). Restored
    afterwards, like :func:`deterministic_ops`.
    """
    experimental = tf.keras.backend.experimental
    was_enabled = experimental.is_tf_random_generator_enabled()
    experimental.enable_tf_random_generator()
    try:
        yield
    finally:
        if not was_enabled:
            experimental.disable_tf_random_generator()
