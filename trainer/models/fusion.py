"""Cross-modal attention fusion and the adaptive, mask-aware fusion head."""

from __future__ import annotations

import tensorflow as tf

from trainer.models.blocks import CrossAttentionBlock, zero_invalid
from trainer.models.positional import as_bool_mask

POOLING_METHODS = ("mean", "attention")


def masked_softmax(logits, mask, axis=-1):
    """float32 softmax over the ``True`` entries of ``mask``.

    Masked entries get weight 0; a slice without any ``True`` entry gets all
    zeros (not a uniform distribution over padding).
    """
    logits = tf.cast(logits, tf.float32)
    # Fill in float32 whatever the compute dtype: float32.min is exactly
    # representable here, whereas e.g. -1e9 overflows float16.
    filled = tf.where(mask, logits, tf.fill(tf.shape(logits), logits.dtype.min))
    weights = tf.nn.softmax(filled, axis=axis)
    return tf.where(mask, weights, tf.zeros_like(weights))


@tf.keras.utils.register_keras_serializable(package="msa")
class CrossModalFusion(tf.keras.layers.Layer):
    """Stacked cross-modal attention centred on the text modality.

    Each of ``n_layers`` layers updates text from audio, then text from
    video; with ``bidirectional=True`` it then updates audio and video from
    the updated text. Without it audio and video are returned unchanged.

    Shapes: ``text_seq`` ``(batch, Lt, model_dim)``, ``audio_seq`` ``(batch,
    La, model_dim)``, ``video_seq`` ``(batch, Lv, model_dim)``, optional
    masks ``(batch, L*)``; returns the three sequences with the same shapes.
    """

    def __init__(self, model_dim: int, num_heads: int, ff_dim: int,
                 n_layers: int = 1, bidirectional: bool = False,
                 dropout_rate: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.model_dim = int(model_dim)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.n_layers = int(n_layers)
        self.bidirectional = bool(bidirectional)
        self.dropout_rate = float(dropout_rate)

        def blocks(direction):
            return [
                CrossAttentionBlock(self.model_dim, self.num_heads, self.ff_dim,
                                    self.dropout_rate, name=f"{direction}_{i}",
                                    dtype=self.dtype_policy)
                for i in range(self.n_layers)
            ]

        self.text_from_audio = blocks("text_from_audio")
        self.text_from_video = blocks("text_from_video")
        if self.bidirectional:
            self.audio_from_text = blocks("audio_from_text")
            self.video_from_text = blocks("video_from_text")

    def call(self, text_seq, audio_seq, video_seq, text_mask=None,
             audio_mask=None, video_mask=None, training=False):
        # Keras autocasts only the first call argument under mixed precision.
        audio_seq = tf.cast(audio_seq, text_seq.dtype)
        video_seq = tf.cast(video_seq, text_seq.dtype)
        text_mask = as_bool_mask(text_mask)
        audio_mask = as_bool_mask(audio_mask)
        video_mask = as_bool_mask(video_mask)
        text, audio, video = text_seq, audio_seq, video_seq
        for i in range(self.n_layers):
            text = self.text_from_audio[i](
                text, audio, query_mask=text_mask, context_mask=audio_mask,
                training=training)
            text = self.text_from_video[i](
                text, video, query_mask=text_mask, context_mask=video_mask,
                training=training)
            if self.bidirectional:
                audio = self.audio_from_text[i](
                    audio, text, query_mask=audio_mask, context_mask=text_mask,
                    training=training)
                video = self.video_from_text[i](
                    video, text, query_mask=video_mask, context_mask=text_mask,
                    training=training)
        return text, audio, video

    def get_config(self):
        config = super().get_config()
        config.update({
            "model_dim": self.model_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "n_layers": self.n_layers,
            "bidirectional": self.bidirectional,
            "dropout_rate": self.dropout_rate,
        })
        return config


@tf.keras.utils.register_keras_serializable(package="msa")
class AdaptiveFusionHead(tf.keras.layers.Layer):
    """Pools each modality over time and mixes them with learned weights.

    Pooling is mask-aware (``'mean'`` over valid frames, or ``'attention'``:
    a per-modality ``Dense(model_dim // 4, tanh) -> Dense(1)`` score with a
    masked softmax over time); a modality without valid frames pools to 0.
    The fusion weights come from ``Dense(model_dim // 2, relu) -> Dropout ->
    Dense(num_modalities)`` applied to the mean of the pooled vectors of the
    present modalities, followed by a softmax over the present modalities
    only (an absent modality gets weight 0; with none present the output is
    0).

    Shapes: ``modality_sequences`` is a list of ``num_modalities`` tensors
    ``(batch, L_m, model_dim)``, ``modality_masks`` ``None`` or a list of
    ``(batch, L_m)`` masks (entries may be ``None``). Output ``(batch,
    model_dim)``; with ``return_weights=True`` also the fusion weights
    ``(batch, num_modalities)`` (float32).
    """

    def __init__(self, model_dim: int, num_modalities: int = 3,
                 pooling_method: str = "mean", dropout_rate: float = 0.1,
                 **kwargs):
        super().__init__(**kwargs)
        if pooling_method not in POOLING_METHODS:
            raise ValueError(
                f"pooling_method must be one of {POOLING_METHODS}, got "
                f"{pooling_method!r}"
            )
        self.model_dim = int(model_dim)
        self.num_modalities = int(num_modalities)
        self.pooling_method = pooling_method
        self.dropout_rate = float(dropout_rate)
        sub = {"dtype": self.dtype_policy}  # sub-layers follow this policy
        if pooling_method == "attention":
            self.pool_hidden = [
                tf.keras.layers.Dense(max(1, self.model_dim // 4),
                                      activation="tanh", name=f"pool_hidden_{m}",
                                      **sub)
                for m in range(self.num_modalities)
            ]
            self.pool_score = [
                tf.keras.layers.Dense(1, name=f"pool_score_{m}", **sub)
                for m in range(self.num_modalities)
            ]
        self.weight_hidden = tf.keras.layers.Dense(
            max(1, self.model_dim // 2), activation="relu", name="weight_hidden",
            **sub)
        self.weight_dropout = tf.keras.layers.Dropout(self.dropout_rate, **sub)
        self.weight_logits = tf.keras.layers.Dense(
            self.num_modalities, name="weight_logits", **sub)

    def _pool(self, index, sequence, mask):
        """(batch, L, D), bool (batch, L) -> (batch, D) in float32."""
        # Padded rows may hold anything (even inf/NaN, and 0 * inf = NaN), so
        # they are replaced before any arithmetic touches them.
        sequence = zero_invalid(sequence, mask)
        if self.pooling_method == "mean":
            weights = tf.cast(mask, tf.float32)
            count = tf.reduce_sum(weights, axis=1, keepdims=True)
            weights = weights / tf.maximum(count, 1.0)  # empty -> all zeros
        else:
            scores = self.pool_score[index](self.pool_hidden[index](sequence))
            weights = masked_softmax(scores[..., 0], mask, axis=1)
        # Reduce in float32: sums over long float16 sequences lose precision.
        return tf.einsum("bl,bld->bd", weights, tf.cast(sequence, tf.float32))

    def call(self, modality_sequences, modality_masks=None, training=False,
             return_weights=False):
        sequences = list(modality_sequences)
        if len(sequences) != self.num_modalities:
            raise ValueError(
                f"expected {self.num_modalities} modality sequences, got "
                f"{len(sequences)}")
        masks = ([None] * len(sequences) if modality_masks is None
                 else list(modality_masks))
        if len(masks) != len(sequences):
            raise ValueError(
                f"expected {len(sequences)} modality masks, got {len(masks)}")
        dtype = self.compute_dtype
        pooled, present = [], []
        for m, (sequence, mask) in enumerate(zip(sequences, masks)):
            sequence = tf.cast(sequence, dtype)
            mask = as_bool_mask(mask)
            if mask is None:
                mask = tf.ones(tf.shape(sequence)[:2], dtype=tf.bool)
            pooled.append(self._pool(m, sequence, mask))
            present.append(tf.reduce_any(mask, axis=1))
        stacked = tf.stack(pooled, axis=1)  # (batch, M, D), float32
        present = tf.stack(present, axis=1)  # (batch, M)
        n_present = tf.reduce_sum(tf.cast(present, tf.float32), axis=1,
                                  keepdims=True)
        # Absent modalities pool to 0, so the sum only counts present ones.
        global_context = tf.reduce_sum(stacked, axis=1) / tf.maximum(n_present, 1.0)
        hidden = self.weight_hidden(tf.cast(global_context, dtype))
        hidden = self.weight_dropout(hidden, training=training)
        weights = masked_softmax(self.weight_logits(hidden), present, axis=-1)
        fused = tf.cast(tf.einsum("bm,bmd->bd", weights, stacked), dtype)
        if return_weights:
            return fused, weights
        return fused

    def get_config(self):
        config = super().get_config()
        config.update({
            "model_dim": self.model_dim,
            "num_modalities": self.num_modalities,
            "pooling_method": self.pooling_method,
            "dropout_rate": self.dropout_rate,
        })
        return config
