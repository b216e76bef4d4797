"""Mixed-precision policy selection, scoped to model construction.

Keras layers read the global dtype policy when they are *constructed*, so we
set it only around construction and restore the previous one afterwards:
nothing else in the process (Transform, TFMA, tests) sees a changed policy.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf


def resolve_policy(name: str) -> str:
    """'auto' -> mixed_float16 when a GPU is visible, else float32."""
    if name == "auto":
        return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    if name not in ("float32", "mixed_float16", "mixed_bfloat16"):
        raise ValueError(
            f"--mixed-precision: expected auto, float32, mixed_float16 or mixed_bfloat16, got {name!r}")
    return name


@contextlib.contextmanager
def policy_scope(name: str):
    """Builds layers under policy ``name`` and restores the previous policy."""
    previous = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy(previous)


def wrap_optimizer(optimizer, policy_name: str):
    """float16 gradients underflow without loss scaling; bfloat16 needs none."""
    if policy_name == "mixed_float16":
        return tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer
