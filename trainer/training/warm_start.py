"""Warm start: a new Trainer run begins from a blessed model's weights.

Every Trainer run writes its trained weights beside its serving SavedModel
(``<model artifact>/Format-WarmStart/``): the weights as a ``.npz`` and a
JSON that names the architecture and every weight's shape. With
``--warm-start`` the pipeline hands the latest blessed model to the Trainer
as ``base_model``; :func:`apply` loads its weights when both files are
complete, the architecture and every shape match and every array is finite
with the variable's dtype, and otherwise says in one line which file and
why not, so training starts fresh (a NaN base would otherwise train 20
epochs of NaN and fail only at the Evaluator). Plain arrays rather than a Keras checkpoint, because the
layer names Keras generates differ between processes.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
import zlib
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from trainer.core.config import TrainerConfig

FOLDER = "Format-WarmStart"
WEIGHTS_FILE = "weights.npz"
META_FILE = "weights.json"


def folder_for(serving_model_dir: str) -> str:
    """The warm-start folder of the Model artifact whose serving dir is given."""
    return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), FOLDER)


def _layout(model: tf.keras.Model, config: TrainerConfig) -> dict:
    return {"architecture": config.architecture,
            "shapes": [list(w.shape) for w in model.weights]}


def save(model: tf.keras.Model, config: TrainerConfig, serving_model_dir: str) -> None:
    """Writes ``model``'s weights where a later warm start looks for them."""
    folder = folder_for(serving_model_dir)
    tf.io.gfile.makedirs(folder)
    buffer = io.BytesIO()
    np.savez(buffer, *model.get_weights())
    _write_whole(os.path.join(folder, WEIGHTS_FILE), buffer.getvalue())
    _write_whole(os.path.join(folder, META_FILE),
                 json.dumps({**_layout(model, config), "config": config.to_dict()}).encode())


def _write_whole(path: str, data: bytes) -> None:
    """Writes beside ``path``, then renames: a killed Trainer leaves no half file there."""
    partial = path + ".partial"
    with tf.io.gfile.GFile(partial, "wb") as f:
        f.write(data)
    tf.io.gfile.rename(partial, path, overwrite=True)


def apply(model: tf.keras.Model, config: TrainerConfig,
          base_model: Optional[str]) -> Tuple[bool, str]:
    """Loads ``base_model``'s weights into ``model`` when they fit.

    ``base_model`` is the base Model's serving dir (``fn_args.base_model``).
    Returns ``(loaded, reason)``; ``reason`` is the one line the console shows.
    Nothing is loaded unless every check passes (complete files, the same
    architecture, every array finite with the expected shape and dtype), so a
    bad file never leaves the model half-loaded.
    """
    if not base_model:
        return False, "warm start: no blessed model yet; training from scratch"
    folder = folder_for(base_model)
    meta_path = os.path.join(folder, META_FILE)
    if not tf.io.gfile.exists(meta_path):
        return False, (f"warm start: the blessed model {base_model} has no saved weights "
                       f"({meta_path}); training from scratch")
    try:
        saved = _read_layout(meta_path)
        wanted = _layout(model, config)
        if saved["architecture"] != wanted["architecture"] or \
                saved["shapes"] != wanted["shapes"]:
            return False, (f"warm start: the blessed model's architecture ({_describe(saved)}) "
                           f"differs from this run's ({_describe(wanted)}); training from "
                           "scratch")
        weights = _read_weights(os.path.join(folder, WEIGHTS_FILE), model)
    except UnusableWeights as err:
        return False, f"warm start: {err}; training from scratch"
    # Under mixed precision the variables stay float32, so the saved arrays fit.
    model.set_weights(weights)
    return True, f"warm start: from the blessed model {base_model}"


class UnusableWeights(ValueError):
    """A warm-start file that cannot be loaded; the message names it and says why."""


def _read_layout(path: str) -> dict:
    """``weights.json``, checked to be complete: an architecture and a list of shapes."""
    try:
        with tf.io.gfile.GFile(path) as f:
            saved = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise UnusableWeights(f"{path}: not complete JSON ({str(err).splitlines()[0]})") \
            from None
    shapes = saved.get("shapes") if isinstance(saved, dict) else None
    if not isinstance(saved, dict) or not isinstance(saved.get("architecture"), str) or \
            not isinstance(shapes, list) or \
            not all(isinstance(s, list) and all(isinstance(d, int) for d in s) for s in shapes):
        raise UnusableWeights(f"{path}: expected an object with 'architecture' and a list of "
                              "'shapes'")
    return saved


def _read_weights(path: str, model: tf.keras.Model) -> list:
    """The arrays of ``weights.npz``, each checked against ``model``'s variable."""
    if not tf.io.gfile.exists(path):
        raise UnusableWeights(f"{path}: missing")
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            with np.load(io.BytesIO(f.read()), allow_pickle=False) as arrays:
                names = set(arrays.files)
                expected = [f"arr_{i}" for i in range(len(model.weights))]
                if names != set(expected):
                    raise UnusableWeights(f"{path}: holds {len(names)} arrays, expected "
                                          f"{len(expected)} (arr_0..arr_{len(expected) - 1})")
                weights = [arrays[name] for name in expected]
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
        if isinstance(err, UnusableWeights):
            raise
        raise UnusableWeights(f"{path}: not a complete .npz archive "
                              f"({str(err).splitlines()[0] or type(err).__name__})") from None
    for i, (array, variable) in enumerate(zip(weights, model.weights)):
        want_shape, want_dtype = tuple(variable.shape), np.dtype(variable.dtype.as_numpy_dtype)
        if array.shape != want_shape:
            raise UnusableWeights(f"{path}: array arr_{i} ({variable.name}) has shape "
                                  f"{array.shape}, expected {want_shape}")
        if array.dtype != want_dtype:
            raise UnusableWeights(f"{path}: array arr_{i} ({variable.name}) is {array.dtype}, "
                                  f"expected {want_dtype}")
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            bad = int(array.size - np.isfinite(array).sum())
            raise UnusableWeights(f"{path}: array arr_{i} ({variable.name}) holds {bad} "
                                  "non-finite values (NaN or inf), expected finite weights")
    return weights


def _describe(layout: dict) -> str:
    count = sum(int(np.prod(s)) for s in layout.get("shapes", []))
    return f"{layout.get('architecture')}, {len(layout.get('shapes', []))} weights, {count} values"


def log(message: str) -> None:
    logging.info("Trainer: %s", message)
