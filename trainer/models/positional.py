"""Learnable positional embeddings and mask helpers.

Mask convention used throughout ``trainer.models``: a boolean tensor where
``True`` marks a valid (real) frame or an allowed attention link and
``False`` marks padding or a forbidden link.
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf


def as_bool_mask(mask: Optional[tf.Tensor]) -> Optional[tf.Tensor]:
    """Casts a bool / int / float 0-1 mask to bool (``None`` passes through)."""
    if mask is None:
        return None
    mask = tf.convert_to_tensor(mask)
    if mask.dtype == tf.bool:
        return mask
    # tf.cast to bool maps every non-zero value to True.
    return tf.cast(mask, tf.bool)


def create_padding_mask(sequences, pad_value: float = 0.0, epsilon: float = 1e-9):
    """Valid-frame mask of padded feature sequences.

    Args:
        sequences: ``(batch, L, F)`` features, padded with ``pad_value``.
        pad_value: value used for padded frames.
        epsilon: a frame is padding when all ``F`` features lie within
            ``epsilon`` of ``pad_value``.

    Returns:
        bool ``(batch, L)``; ``True`` for valid frames.
    """
    sequences = tf.convert_to_tensor(sequences)
    # Compare in (at least) float32: under mixed precision the inputs may be
    # float16/bfloat16, where a 1e-9 epsilon would underflow to zero.
    work_dtype = tf.float64 if sequences.dtype == tf.float64 else tf.float32
    sequences = tf.cast(sequences, work_dtype)
    distance = tf.abs(sequences - tf.cast(pad_value, work_dtype))
    return tf.reduce_any(distance > tf.cast(epsilon, work_dtype), axis=-1)


def create_look_ahead_mask(seq_len):
    """Causal mask: bool ``(seq_len, seq_len)``, True on and below the diagonal."""
    ones = tf.ones((seq_len, seq_len), dtype=tf.float32)
    return tf.cast(tf.linalg.band_part(ones, -1, 0), tf.bool)


def combine_masks(padding_mask, look_ahead_mask=None):
    """Combines a padding mask with an optional look-ahead mask.

    Args:
        padding_mask: bool ``(batch, L)`` valid-frame mask, or an already
            broadcastable attention mask such as ``(batch, 1, L)``.
        look_ahead_mask: optional bool ``(L, L)`` or ``(1, L, L)``.

    Returns:
        ``padding_mask`` unchanged when there is no look-ahead mask, else the
        bool attention mask ``(batch, L, L)`` (key ``j`` allowed for query
        ``i`` iff frame ``j`` is valid and ``j <= i``).
    """
    if look_ahead_mask is None:
        return padding_mask
    look_ahead_mask = as_bool_mask(look_ahead_mask)
    if padding_mask is None:
        return look_ahead_mask
    padding_mask = as_bool_mask(padding_mask)
    if padding_mask.shape.rank == 2:
        # (batch, L) -> (batch, 1, L): the padding mask restricts the keys.
        padding_mask = padding_mask[:, tf.newaxis, :]
        if look_ahead_mask.shape.rank == 2:
            look_ahead_mask = look_ahead_mask[tf.newaxis, :, :]
    return tf.logical_and(padding_mask, look_ahead_mask)


@tf.keras.utils.register_keras_serializable(package="msa")
class LearnablePositionalEmbedding(tf.keras.layers.Layer):
    """Adds a trainable position embedding to a sequence.

    Shapes: input ``(batch, L, model_dim)`` with ``L <= seq_len``; output the
    same shape. The weight is ``(seq_len, model_dim)``, glorot-uniform
    initialised; only its first ``L`` rows are used.
    """

    def __init__(self, seq_len: int, model_dim: int, **kwargs):
        super().__init__(**kwargs)
        if int(seq_len) < 1 or int(model_dim) < 1:
            raise ValueError(
                f"seq_len and model_dim must be >= 1, got {seq_len}, {model_dim}"
            )
        self.seq_len = int(seq_len)
        self.model_dim = int(model_dim)

    def build(self, input_shape):
        self.position_embedding = self.add_weight(
            name="position_embedding",
            shape=(self.seq_len, self.model_dim),
            initializer="glorot_uniform",
            trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        length = inputs.shape[1]
        if length is not None and length > self.seq_len:
            raise ValueError(
                f"{self.name}: input length {length} exceeds seq_len "
                f"{self.seq_len}"
            )
        # Dynamic lengths are checked implicitly by the broadcasting add.
        positions = self.position_embedding[: tf.shape(inputs)[1]]
        return inputs + tf.cast(positions, inputs.dtype)[tf.newaxis]

    def get_config(self):
        config = super().get_config()
        config.update({"seq_len": self.seq_len, "model_dim": self.model_dim})
        return config
