"""Reference architectures trained by the same pipeline: late fusion and text only.

They take the same inputs as :class:`MSASeqLevelModel` (a tuple of the three
sequences, optionally followed by their three masks) and return the same
float32 ``(batch, 1)`` score, so Transform, the Trainer, the export and the
Evaluator treat them exactly like it.
"""

from __future__ import annotations

import tensorflow as tf

from trainer.models.blocks import zero_invalid
from trainer.models.encoder import ModalityEncoder
from trainer.models.fusion import AdaptiveFusionHead
from trainer.models.positional import as_bool_mask, create_padding_mask
from trainer.models.tracing import traced_without_autograph


def split_inputs(inputs, model_name: str):
    """``(sequences, masks)`` from 3 sequences or 3 sequences + 3 masks."""
    if not isinstance(inputs, (tuple, list)) or len(inputs) not in (3, 6):
        raise ValueError(
            f"{model_name} expects a tuple/list of 3 sequences (text, audio, video) "
            "or 6 tensors (text, audio, video, text_mask, audio_mask, video_mask)")
    sequences = list(inputs[:3])
    if len(inputs) == 6:
        masks = [as_bool_mask(m) for m in inputs[3:]]
    else:
        masks = [create_padding_mask(s) for s in sequences]
    return sequences, masks


def masked_mean_and_sum(sequence, mask):
    """float32 ``(batch, 2 * D)``: mean and sum over valid frames (0 when none)."""
    sequence = tf.cast(zero_invalid(sequence, mask), tf.float32)
    total = tf.reduce_sum(sequence, axis=1)
    count = tf.reduce_sum(tf.cast(mask, tf.float32), axis=1, keepdims=True)
    return tf.concat([total / tf.maximum(count, 1.0), total], axis=-1)


@tf.keras.utils.register_keras_serializable(package="msa")
class PooledFusionModel(tf.keras.Model):
    """Mask-aware late fusion: pool each modality over time, then an MLP.

    Each modality is reduced to the mean and the sum of its valid frames (the
    sum keeps what a mean loses: how much of something a segment holds); the
    concatenation goes through ``Dense(hidden_dim, gelu) -> Dropout ->
    Dense(1)``. Nothing here can see which frames co-occur, so it
    is the reference for what fusing *after* pooling can reach.

    Inputs as :class:`MSASeqLevelModel`; output ``(batch, 1)`` float32.
    """

    def __init__(self, hidden_dim: int = 64, dropout_rate: float = 0.1, **kwargs):
        kwargs.setdefault("autocast", False)  # masks are inferred from raw inputs
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.dropout_rate = float(dropout_rate)
        sub = {"dtype": self.dtype_policy}
        self.hidden = tf.keras.layers.Dense(self.hidden_dim, activation="gelu",
                                            name="hidden", **sub)
        self.hidden_dropout = tf.keras.layers.Dropout(self.dropout_rate, **sub)
        self.regressor = tf.keras.layers.Dense(1, dtype="float32", name="regressor")

    @traced_without_autograph
    def call(self, inputs, training=False):
        sequences, masks = split_inputs(inputs, "PooledFusionModel")
        pooled = tf.concat([masked_mean_and_sum(s, m) for s, m in zip(sequences, masks)],
                           axis=-1)
        h = self.hidden(tf.cast(pooled, self.compute_dtype))
        h = self.hidden_dropout(h, training=training)
        return self.regressor(h)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "dtype": self.dtype_policy.name, "hidden_dim": self.hidden_dim,
                "dropout_rate": self.dropout_rate}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


@tf.keras.utils.register_keras_serializable(package="msa")
class TextOnlyModel(tf.keras.Model):
    """The sequence-level model's text branch alone: what text can reach.

    ``ModalityEncoder`` over the text -> mask-aware pooling
    (``AdaptiveFusionHead`` with one modality) -> float32 ``Dense(1)``, plus,
    with ``word_scores=True``, the word-level path without its gate (a
    linear score per word, summed), as the default sequence-level model has
    it. Audio and video are accepted and ignored.

    Inputs as :class:`MSASeqLevelModel`; output ``(batch, 1)`` float32.
    """

    def __init__(self, seq_len: int, text_dim: int, model_dim: int, num_heads: int,
                 ff_dim: int, n_layers: int = 2, pooling_method: str = "mean",
                 dropout_rate: float = 0.1, word_scores: bool = False, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.seq_len = int(seq_len)
        self.text_dim = int(text_dim)
        self.model_dim = int(model_dim)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.n_layers = int(n_layers)
        self.pooling_method = pooling_method
        self.dropout_rate = float(dropout_rate)
        self.word_scores = bool(word_scores)
        sub = {"dtype": self.dtype_policy}
        self.encoder = ModalityEncoder(self.text_dim, self.model_dim, self.seq_len,
                                       self.num_heads, self.ff_dim, self.n_layers,
                                       self.dropout_rate, name="text_encoder", **sub)
        self.pooling = AdaptiveFusionHead(self.model_dim, 1, pooling_method,
                                          self.dropout_rate, name="pooling", **sub)
        self.regressor = tf.keras.layers.Dense(1, dtype="float32", name="regressor")
        self.word_score = None
        if self.word_scores:
            self.word_score = tf.keras.layers.Dense(
                1, kernel_initializer="zeros", dtype="float32", name="word_score")

    @traced_without_autograph
    def call(self, inputs, training=False):
        sequences, masks = split_inputs(inputs, "TextOnlyModel")
        text, mask = sequences[0], masks[0]
        encoded = self.encoder(text, mask=mask, training=training)
        prediction = self.regressor(self.pooling([encoded], [mask], training=training))
        if self.word_score is not None:
            words = tf.cast(zero_invalid(text, mask), tf.float32)
            prediction = prediction + tf.reduce_sum(
                zero_invalid(self.word_score(words), mask), axis=1)
        return prediction

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "dtype": self.dtype_policy.name, "seq_len": self.seq_len,
                "text_dim": self.text_dim, "model_dim": self.model_dim,
                "num_heads": self.num_heads, "ff_dim": self.ff_dim,
                "n_layers": self.n_layers, "pooling_method": self.pooling_method,
                "dropout_rate": self.dropout_rate, "word_scores": self.word_scores}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

