"""Post-LN Transformer blocks: self-attention and cross-attention."""

from __future__ import annotations

import tensorflow as tf

from trainer.models.positional import as_bool_mask


def zero_invalid(x, mask):
    """Sets the padded rows of ``x`` ``(batch, L, D)`` to 0 (``mask`` bool)."""
    if mask is None:
        return x
    return tf.where(mask[..., tf.newaxis], x, tf.zeros_like(x))


class _AttentionFFNBlock(tf.keras.layers.Layer):
    """Shared parts of the two blocks: attention, FFN, two post-LNs."""

    def __init__(self, model_dim: int, num_heads: int, ff_dim: int,
                 dropout_rate: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if model_dim % num_heads:
            raise ValueError(
                f"model_dim ({model_dim}) must be divisible by num_heads "
                f"({num_heads})"
            )
        self.model_dim = int(model_dim)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.dropout_rate = float(dropout_rate)
        # Sub-layers follow this layer's dtype policy (Keras 2 would otherwise
        # give them the global one, ignoring an explicit `dtype=`).
        sub = {"dtype": self.dtype_policy}
        self.attention = tf.keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=self.model_dim // self.num_heads,
            dropout=self.dropout_rate,
            name="attention",
            **sub,
        )
        self.attention_dropout = tf.keras.layers.Dropout(self.dropout_rate, **sub)
        self.attention_norm = tf.keras.layers.LayerNormalization(
            epsilon=1e-6, name="attention_norm", **sub
        )
        self.ffn_hidden = tf.keras.layers.Dense(
            self.ff_dim, activation="gelu", name="ffn_hidden", **sub
        )
        self.ffn_hidden_dropout = tf.keras.layers.Dropout(self.dropout_rate, **sub)
        self.ffn_output = tf.keras.layers.Dense(
            self.model_dim, name="ffn_output", **sub)
        self.ffn_dropout = tf.keras.layers.Dropout(self.dropout_rate, **sub)
        self.ffn_norm = tf.keras.layers.LayerNormalization(
            epsilon=1e-6, name="ffn_norm", **sub
        )

    def _block(self, query, context, query_mask, context_mask, training,
               attention_mask=None):
        """Attention + FFN.

        ``query_mask`` / ``context_mask`` are bool ``(batch, L)`` or ``None``;
        ``attention_mask``, when given, is the bool ``(batch, Lq, Lc)`` set of
        allowed links and replaces the one built from ``context_mask``.
        """
        # Padded rows may hold anything, even inf (large junk cast to
        # float16). Masking the softmax is not enough: inf * 0 = NaN in the
        # score matmul and in the weight gradients. So they are zeroed first.
        query = zero_invalid(query, query_mask)
        context = zero_invalid(context, context_mask)
        if attention_mask is None and context_mask is not None:
            attention_mask = context_mask[:, tf.newaxis, :]  # (batch, 1, Lc)
        attended = self.attention(
            query, context, attention_mask=attention_mask, training=training
        )
        if attention_mask is not None:
            # A query row without any allowed key gets a uniform softmax over
            # forbidden ones; such rows must contribute nothing instead.
            has_context = tf.reduce_any(attention_mask, axis=-1)  # (batch, Lq or 1)
            attended = tf.where(has_context[..., tf.newaxis], attended,
                                tf.zeros_like(attended))
        x = self.attention_norm(
            query + self.attention_dropout(attended, training=training)
        )
        ffn = self.ffn_hidden(x)
        ffn = self.ffn_hidden_dropout(ffn, training=training)
        ffn = self.ffn_output(ffn)
        x = self.ffn_norm(x + self.ffn_dropout(ffn, training=training))
        # Zeroed padded rows keep anything computed from padding from
        # travelling further, even to a consumer that ignores the mask.
        return zero_invalid(x, query_mask)

    def get_config(self):
        config = super().get_config()
        config.update({
            "model_dim": self.model_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout_rate": self.dropout_rate,
        })
        return config


@tf.keras.utils.register_keras_serializable(package="msa")
class TransformerBlock(_AttentionFFNBlock):
    """Post-LN Transformer encoder block (masked self-attention + GELU FFN).

    Shapes: ``x`` ``(batch, L, model_dim)``; optional ``mask`` (bool or 0/1
    numbers), either a padding mask ``(batch, L)`` (True = valid frame) or an
    attention mask ``(batch, L, L)`` (True = query ``i`` may attend to key
    ``j``), e.g. ``combine_masks(padding_mask, create_look_ahead_mask(L))``
    for causal attention. With an attention mask, frame ``i`` counts as valid
    when it may attend to itself (``mask[:, i, i]``), which holds for every
    mask ``combine_masks`` builds from a padding mask. Output ``(batch, L,
    model_dim)`` with invalid rows set to 0; a sequence without valid frames
    comes out as all zeros.
    """

    def call(self, x, mask=None, training=False):
        mask = as_bool_mask(mask)
        if mask is not None and mask.shape.rank == 3:
            valid = tf.linalg.diag_part(mask)  # (batch, L)
            return self._block(x, x, valid, valid, training, attention_mask=mask)
        return self._block(x, x, mask, mask, training)


@tf.keras.utils.register_keras_serializable(package="msa")
class CrossAttentionBlock(_AttentionFFNBlock):
    """Post-LN block in which ``query`` attends to ``context``.

    Shapes: ``query`` ``(batch, Lq, model_dim)``, ``context`` ``(batch, Lc,
    model_dim)``, optional masks ``(batch, Lq)`` / ``(batch, Lc)``; output
    ``(batch, Lq, model_dim)``. When a row's context has no valid frame the
    attention term is 0 (the block reduces to LN + FFN of the query).
    Padded query rows of the output are set to 0.
    """

    def call(self, query, context, query_mask=None, context_mask=None,
             training=False):
        # Keras autocasts only the first call argument under mixed precision.
        context = tf.cast(context, query.dtype)
        return self._block(query, context, as_bool_mask(query_mask),
                           as_bool_mask(context_mask), training)
