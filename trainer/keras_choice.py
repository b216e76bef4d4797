"""The project's one choice of Keras: tf_keras (Keras 2) as ``tf.keras``.

TensorFlow Transform and TFMA 1.16 are built on tf_keras, and the model's
layers use the Keras 2 API, so every process must see the same Keras.
TensorFlow reads ``TF_USE_LEGACY_KERAS`` when ``tf.keras`` is first used,
so :func:`use_tf_keras` must run before that; the entry points call it
first thing, and importing the ``trainer`` package calls it too (the
pipeline's executors load their code from here). The image sets the same
variable for any other Python it runs.
"""

from __future__ import annotations

import os

ENV_VAR = "TF_USE_LEGACY_KERAS"


def use_tf_keras() -> None:
    """Make ``tf.keras`` tf_keras in this process and its children (unless already set)."""
    os.environ.setdefault(ENV_VAR, "1")


def check_tf_keras(tf) -> None:
    """ImportError unless ``tf.keras`` (of the imported ``tf``) is Keras 2."""
    # tf_keras does not set tf.keras.__version__; Keras 3 does ("3.x").
    version = str(getattr(tf.keras, "__version__", "2"))
    if not version.startswith("2"):
        raise ImportError(f"this project needs Keras 2 (tf_keras) as tf.keras: set {ENV_VAR}=1 "
                          f"before tf.keras is first used (found tf.keras {version})")
