"""Epoch checkpoints: a Trainer killed at epoch k resumes from epoch k.

After every epoch, :class:`EpochCheckpoint` writes the model, the optimizer
(slots, step count, learning rate) and the state of the callbacks that
decide what happens next (early stopping with its best weights so far, the
plateau schedule, the warmup) into a folder keyed by the Trainer's inputs.
A rerun of the same inputs (the upstream components cached, so the same
artifact URIs; the same settings and step budget) finds the folder and
continues from the last finished epoch. Together with the seeded data order
(``trainer.training.data.training_batches`` skipped to the same batch) and dropout
drawn from a ``tf.random.Generator`` whose state is checkpointed, the
resumed run trains exactly as the uninterrupted one would have.

TFX's own stateful working directory is per execution, and a rerun after a
kill is a new execution, so the folder lives beside the Trainer's outputs:
``<pipeline_root>/Trainer/_resume/<key>``. It is removed once the model has
been exported.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

STATE_FILE = "state.json"
_WEIGHTS_FILE = "best_weights.npz"
_CKPT_PREFIX = "ckpt"


def resume_dir(fn_args) -> str:
    """The checkpoint folder for this Trainer's exact inputs and settings."""
    key = json.dumps({
        "train": sorted(fn_args.train_files), "eval": sorted(fn_args.eval_files),
        "transform": fn_args.transform_output, "config": fn_args.custom_config,
        "steps": int(fn_args.train_steps), "base_model": getattr(fn_args, "base_model", None),
        "hyperparameters": getattr(fn_args, "hyperparameters", None)},
        sort_keys=True, default=str)
    node_dir = os.path.dirname(os.path.dirname(fn_args.model_run_dir.rstrip("/")))
    return os.path.join(node_dir, "_resume", hashlib.sha256(key.encode()).hexdigest()[:16])


def for_structure(resume_dir: str, model: tf.keras.Model) -> str:
    """``resume_dir``'s subfolder for this model's structure (its variables' shapes).

    The resume key (:func:`resume_dir`) holds the inputs and settings, not the
    code: an interrupted run rerun after an upgrade that changed the model
    would otherwise read a checkpoint whose variables do not fit (the Trainer
    stopped with "incompatible tensor with shape"). Keyed by structure, such a
    checkpoint is never found, and training starts from the first epoch.
    """
    shapes = json.dumps([list(w.shape) for w in model.weights])
    return os.path.join(resume_dir, "model-" + hashlib.sha256(shapes.encode()).hexdigest()[:12])


def dropout_generators(model: tf.keras.Model) -> List[tf.random.Generator]:
    """The ``tf.random.Generator`` of every random layer, in a stable order.

    Keras keeps these out of checkpoints (only SavedModels get them), so
    their states are saved beside the checkpoint. ``_random_generator`` is
    tf_keras' own attribute for this; there is no public accessor.
    """
    found = []
    for module in model.submodules:
        generator = getattr(getattr(module, "_random_generator", None), "_generator", None)
        if isinstance(generator, tf.random.Generator):
            found.append(generator)
    return found


def _callback_state(callback) -> Dict:
    names = ("wait", "best", "best_epoch", "stopped_epoch", "cooldown_counter", "_step")
    return {n: float(getattr(callback, n)) if isinstance(getattr(callback, n), float)
            else getattr(callback, n) for n in names if hasattr(callback, n)}


class EpochCheckpoint(tf.keras.callbacks.Callback):
    """Saves training state after each epoch; :meth:`restore` reads it back.

    ``tracked`` are the callbacks whose state is saved (by position, so the
    same list must be given on resume). Put this callback after them, so
    their end-of-epoch updates are in the saved state.
    """

    def __init__(self, directory: str, tracked: List[tf.keras.callbacks.Callback]):
        super().__init__()
        self.directory = directory
        self.tracked = list(tracked)
        self.history: Dict[str, List[float]] = {}
        self.resumed_from = 0
        self.stopped = False  # the restored run had already stopped early
        self._pending: Optional[dict] = None

    def restore(self, model: tf.keras.Model) -> int:
        """Loads the last finished epoch into ``model``; returns it (0: none)."""
        path = os.path.join(self.directory, STATE_FILE)
        if not tf.io.gfile.exists(path):
            return 0
        with tf.io.gfile.GFile(path) as f:
            state = json.load(f)
        tf.train.Checkpoint(model=model, optimizer=model.optimizer).read(
            os.path.join(self.directory, state["checkpoint"])).assert_existing_objects_matched()
        generators = dropout_generators(model)
        if len(generators) != len(state["generators"]):
            raise ValueError(f"{self.directory}: the checkpoint holds {len(state['generators'])} "
                             f"random generators, the model {len(generators)}")
        for generator, values in zip(generators, state["generators"]):
            generator.state.assign(np.asarray(values, generator.state.dtype.as_numpy_dtype))
        self.history = state["history"]
        self._pending = state
        self.resumed_from = int(state["epoch"])
        self.stopped = bool(state.get("stopped"))
        return self.resumed_from

    def on_train_begin(self, logs=None):
        # The tracked callbacks reset themselves in their own on_train_begin,
        # which runs before this one: put the saved state back afterwards.
        if not self._pending:
            return
        best = None
        weights_path = os.path.join(self.directory, _WEIGHTS_FILE)
        if tf.io.gfile.exists(weights_path):
            with tf.io.gfile.GFile(weights_path, "rb") as f:
                stored = np.load(io.BytesIO(f.read()))
                best = [stored[f"w{i}"] for i in range(len(stored.files))]
        for callback, saved in zip(self.tracked, self._pending["callbacks"]):
            for name, value in saved.items():
                setattr(callback, name, value)
            if hasattr(callback, "best_weights"):
                callback.best_weights = best
        self._pending = None

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        tf.io.gfile.makedirs(self.directory)
        name = f"{_CKPT_PREFIX}-{epoch + 1}"
        tf.train.Checkpoint(model=self.model, optimizer=self.model.optimizer).write(
            os.path.join(self.directory, name))
        for callback in self.tracked:
            weights = getattr(callback, "best_weights", None)
            if weights is not None:
                tmp = os.path.join(self.directory, _WEIGHTS_FILE + ".tmp")
                buffer = io.BytesIO()  # np.savez needs a seekable file; GFile is not
                np.savez(buffer, **{f"w{i}": w for i, w in enumerate(weights)})
                with tf.io.gfile.GFile(tmp, "wb") as f:
                    f.write(buffer.getvalue())
                tf.io.gfile.rename(tmp, os.path.join(self.directory, _WEIGHTS_FILE),
                                   overwrite=True)
        state = {"epoch": epoch + 1, "checkpoint": name, "history": self.history,
                 "stopped": bool(self.model.stop_training),
                 "generators": [g.state.numpy().tolist() for g in
                                dropout_generators(self.model)],
                 "callbacks": [_callback_state(c) for c in self.tracked]}
        # The state file names the checkpoint; writing it last and by rename
        # means a kill at any moment leaves the previous epoch's state whole.
        tmp = os.path.join(self.directory, STATE_FILE + ".tmp")
        with tf.io.gfile.GFile(tmp, "w") as f:
            json.dump(state, f)
        tf.io.gfile.rename(tmp, os.path.join(self.directory, STATE_FILE), overwrite=True)
        self._drop_older_checkpoints(name)

    def _drop_older_checkpoints(self, keep: str) -> None:
        for path in tf.io.gfile.glob(os.path.join(self.directory, f"{_CKPT_PREFIX}-*")):
            if not os.path.basename(path).startswith(keep + "."):
                tf.io.gfile.remove(path)

    def clear(self) -> None:
        """Removes the folder (the model is exported; nothing left to resume)."""
        if tf.io.gfile.exists(self.directory):
            tf.io.gfile.rmtree(self.directory)
