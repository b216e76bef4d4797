"""Warm start: a new Trainer run begins from a blessed model's weights.

Every Trainer run writes its trained weights beside its serving SavedModel
(``<model artifact>/Format-WarmStart/``): the weights as a ``.npz`` and a
JSON that names the architecture and every weight's shape. With
``--warm-start`` the pipeline hands the latest blessed model to the Trainer
as ``base_model``; :func:`apply` loads its weights when the architecture
and every shape match, and otherwise says in one line why not, so training
starts fresh. Plain arrays rather than a Keras checkpoint, because the
layer names Keras generates differ between processes.
"""

from __future__ import annotations

import io
import json
import logging
import os
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
    with tf.io.gfile.GFile(os.path.join(folder, WEIGHTS_FILE), "wb") as f:
        f.write(buffer.getvalue())
    with tf.io.gfile.GFile(os.path.join(folder, META_FILE), "w") as f:
        json.dump({**_layout(model, config), "config": config.to_dict()}, f)


def apply(model: tf.keras.Model, config: TrainerConfig,
          base_model: Optional[str]) -> Tuple[bool, str]:
    """Loads ``base_model``'s weights into ``model`` when they fit.

    ``base_model`` is the base Model's serving dir (``fn_args.base_model``).
    Returns ``(loaded, reason)``; ``reason`` is the one line the console shows.
    """
    if not base_model:
        return False, "warm start: no blessed model yet; training from scratch"
    folder = folder_for(base_model)
    meta_path = os.path.join(folder, META_FILE)
    if not tf.io.gfile.exists(meta_path):
        return False, (f"warm start: the blessed model {base_model} has no saved weights "
                       f"({meta_path}); training from scratch")
    with tf.io.gfile.GFile(meta_path) as f:
        saved = json.load(f)
    wanted = _layout(model, config)
    if saved.get("architecture") != wanted["architecture"] or saved.get("shapes") != wanted["shapes"]:
        return False, (f"warm start: the blessed model's architecture ({_describe(saved)}) "
                       f"differs from this run's ({_describe(wanted)}); training from scratch")
    with tf.io.gfile.GFile(os.path.join(folder, WEIGHTS_FILE), "rb") as f:
        arrays = np.load(io.BytesIO(f.read()))
        weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    # Under mixed precision the variables stay float32, so the saved arrays fit.
    model.set_weights(weights)
    return True, f"warm start: from the blessed model {base_model}"


def _describe(layout: dict) -> str:
    count = sum(int(np.prod(s)) for s in layout.get("shapes", []))
    return f"{layout.get('architecture')}, {len(layout.get('shapes', []))} weights, {count} values"


def log(message: str) -> None:
    logging.info("Trainer: %s", message)
