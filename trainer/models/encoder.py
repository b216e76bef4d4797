"""Per-modality Transformer encoder and the per-modality length argument."""

from __future__ import annotations

import numbers
from typing import Dict, Mapping

import tensorflow as tf

from msa_data.contract import MODALITIES
from trainer.models.blocks import TransformerBlock, zero_invalid
from trainer.models.positional import (
    LearnablePositionalEmbedding,
    as_bool_mask,
    combine_masks,
    create_look_ahead_mask,
)


@tf.keras.utils.register_keras_serializable(package="msa")
class ModalityEncoder(tf.keras.layers.Layer):
    """Projects one modality to ``model_dim`` and runs Transformer blocks.

    ``Dense(model_dim) -> LearnablePositionalEmbedding(seq_len) -> Dropout ->
    n_layers x TransformerBlock``; no pooling. With ``causal=True`` each
    frame attends only to itself and earlier frames (the padding mask
    combined with ``create_look_ahead_mask``). With ``own_positions=False``
    the encoder has no positional table of its own; the caller passes a
    (shared) positional layer to ``call``.

    Shapes: ``x`` ``(batch, L, input_dim)`` with ``L <= seq_len``, optional
    ``mask`` ``(batch, L)`` (True = valid frame); output ``(batch, L,
    model_dim)`` with padded rows set to 0.
    """

    def __init__(self, input_dim: int, model_dim: int, seq_len: int,
                 num_heads: int, ff_dim: int, n_layers: int,
                 dropout_rate: float = 0.1, causal: bool = False,
                 own_positions: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.model_dim = int(model_dim)
        self.seq_len = int(seq_len)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.n_layers = int(n_layers)
        self.dropout_rate = float(dropout_rate)
        self.causal = bool(causal)
        self.own_positions = bool(own_positions)
        sub = {"dtype": self.dtype_policy}  # sub-layers follow this policy
        self.projection = tf.keras.layers.Dense(
            self.model_dim, name="projection", **sub)
        self.position = None
        if self.own_positions:
            self.position = LearnablePositionalEmbedding(
                self.seq_len, self.model_dim, name="position", **sub)
        self.dropout = tf.keras.layers.Dropout(self.dropout_rate, **sub)
        self.blocks = [
            TransformerBlock(self.model_dim, self.num_heads, self.ff_dim,
                             self.dropout_rate, name=f"block_{i}", **sub)
            for i in range(self.n_layers)
        ]

    def call(self, x, mask=None, training=False, positions=None):
        """``positions``: the shared positional layer when ``own_positions=False``."""
        if x.shape[-1] is not None and x.shape[-1] != self.input_dim:
            raise ValueError(
                f"{self.name}: expected {self.input_dim} features per frame, "
                f"got {x.shape[-1]}")
        mask = as_bool_mask(mask)
        # Padded frames may hold arbitrary values (inf after a float16 cast);
        # they must not reach the arithmetic at all.
        h = self.projection(zero_invalid(x, mask))
        positions = self.position if self.own_positions else positions
        if positions is None:
            raise ValueError(f"{self.name}: built with own_positions=False; pass positions")
        h = self.dropout(positions(h), training=training)
        attention_mask = mask
        if self.causal:
            if mask is None:
                mask = tf.ones(tf.shape(h)[:2], dtype=tf.bool)
            attention_mask = combine_masks(mask, create_look_ahead_mask(tf.shape(h)[1]))
        for block in self.blocks:
            h = block(h, mask=attention_mask, training=training)
        return zero_invalid(h, mask)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim,
            "model_dim": self.model_dim,
            "seq_len": self.seq_len,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "n_layers": self.n_layers,
            "dropout_rate": self.dropout_rate,
            "causal": self.causal,
            "own_positions": self.own_positions,
        })
        return config



def per_modality_lengths(seq_len) -> Dict[str, int]:
    """int | 3 ints (text, audio, video) | {modality: int} -> {modality: int}."""
    if isinstance(seq_len, Mapping):
        if set(seq_len) != set(MODALITIES):
            raise ValueError(
                f"seq_len dict must have exactly the keys {MODALITIES}, got "
                f"{sorted(seq_len)}")
        lengths = {m: seq_len[m] for m in MODALITIES}
    elif isinstance(seq_len, (list, tuple)):
        if len(seq_len) != len(MODALITIES):
            raise ValueError(
                f"seq_len sequence must have {len(MODALITIES)} entries "
                f"{MODALITIES}, got {len(seq_len)}")
        lengths = dict(zip(MODALITIES, seq_len))
    else:
        lengths = {m: seq_len for m in MODALITIES}
    for modality, length in lengths.items():
        if (not isinstance(length, numbers.Integral) or isinstance(length, bool)
                or length < 1):
            raise ValueError(
                f"seq_len for {modality} must be a positive int, got {length!r}")
    return {m: int(n) for m, n in lengths.items()}
