"""Sequence-level multimodal sentiment model (Deep-HOSeq enhancement)."""

from __future__ import annotations

import numbers
from typing import Dict, Mapping

import tensorflow as tf

from msa_data.contract import MODALITIES
from trainer.models.blocks import TransformerBlock, zero_invalid
from trainer.models.fusion import AdaptiveFusionHead, CrossModalFusion
from trainer.models.positional import (
    LearnablePositionalEmbedding,
    as_bool_mask,
    create_padding_mask,
)


@tf.keras.utils.register_keras_serializable(package="msa")
class ModalityEncoder(tf.keras.layers.Layer):
    """Projects one modality to ``model_dim`` and runs Transformer blocks.

    ``Dense(model_dim) -> LearnablePositionalEmbedding(seq_len) -> Dropout ->
    n_layers x TransformerBlock``; no pooling.

    Shapes: ``x`` ``(batch, L, input_dim)`` with ``L <= seq_len``, optional
    ``mask`` ``(batch, L)`` (True = valid frame); output ``(batch, L,
    model_dim)`` with padded rows set to 0.
    """

    def __init__(self, input_dim: int, model_dim: int, seq_len: int,
                 num_heads: int, ff_dim: int, n_layers: int,
                 dropout_rate: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.model_dim = int(model_dim)
        self.seq_len = int(seq_len)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.n_layers = int(n_layers)
        self.dropout_rate = float(dropout_rate)
        sub = {"dtype": self.dtype_policy}  # sub-layers follow this policy
        self.projection = tf.keras.layers.Dense(
            self.model_dim, name="projection", **sub)
        self.position = LearnablePositionalEmbedding(
            self.seq_len, self.model_dim, name="position", **sub)
        self.dropout = tf.keras.layers.Dropout(self.dropout_rate, **sub)
        self.blocks = [
            TransformerBlock(self.model_dim, self.num_heads, self.ff_dim,
                             self.dropout_rate, name=f"block_{i}", **sub)
            for i in range(self.n_layers)
        ]

    def call(self, x, mask=None, training=False):
        if x.shape[-1] is not None and x.shape[-1] != self.input_dim:
            raise ValueError(
                f"{self.name}: expected {self.input_dim} features per frame, "
                f"got {x.shape[-1]}")
        mask = as_bool_mask(mask)
        # Padded frames may hold arbitrary values (inf after a float16 cast);
        # they must not reach the arithmetic at all.
        h = self.projection(zero_invalid(x, mask))
        h = self.dropout(self.position(h), training=training)
        for block in self.blocks:
            h = block(h, mask=mask, training=training)
        return zero_invalid(h, mask)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim,
            "model_dim": self.model_dim,
            # Plain types: Keras wraps dict attributes in trackable proxies.
            "seq_len": (self.seq_len if isinstance(self.seq_len, int)
                        else {m: self.seq_lens[m] for m in MODALITIES}),
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "n_layers": self.n_layers,
            "dropout_rate": self.dropout_rate,
        })
        return config


def _per_modality_lengths(seq_len) -> Dict[str, int]:
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


@tf.keras.utils.register_keras_serializable(package="msa")
class MSASeqLevelModel(tf.keras.Model):
    """Sequence-level MSA regressor: encoders -> cross-modal fusion -> head.

    ``seq_len`` is the maximum number of frames, either one int for all
    modalities, three ints ``(text, audio, video)`` or a dict keyed by
    modality (unaligned data); each encoder sizes its positional embedding
    from its own entry.

    Inputs (a tuple or list):

    * ``(text, audio, video)``: ``(batch, L_m, dim_m)`` each; a frame whose
      features are all 0 counts as padding;
    * ``(text, audio, video, text_mask, audio_mask, video_mask)``: explicit
      ``(batch, L_m)`` masks, bool or 0/1 numbers (True = valid frame).

    A modality may have zero valid frames. Output: ``(batch, 1)`` float32
    (also under a mixed-precision policy).
    """

    def __init__(self, seq_len, text_dim: int, audio_dim: int, video_dim: int,
                 model_dim: int, num_heads: int, ff_dim: int,
                 n_layers_mod: int = 2, n_layers_fuse: int = 1,
                 bidirectional_fusion: bool = False,
                 pooling_method: str = "mean", dropout_rate: float = 0.1,
                 **kwargs):
        # Masks are inferred from the raw inputs; autocasting them to float16
        # first would turn tiny non-zero frames into padding. Each encoder
        # still casts its own input to the compute dtype.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.seq_lens = _per_modality_lengths(seq_len)
        # For get_config: an int stays an int, anything else becomes a dict.
        self.seq_len = (self.seq_lens["text"] if isinstance(seq_len, numbers.Integral)
                        else dict(self.seq_lens))
        self.input_dims = {"text": int(text_dim), "audio": int(audio_dim),
                           "video": int(video_dim)}
        self.model_dim = int(model_dim)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.n_layers_mod = int(n_layers_mod)
        self.n_layers_fuse = int(n_layers_fuse)
        self.bidirectional_fusion = bool(bidirectional_fusion)
        self.pooling_method = pooling_method
        self.dropout_rate = float(dropout_rate)

        sub = {"dtype": self.dtype_policy}  # sub-layers follow this policy
        self.text_encoder, self.audio_encoder, self.video_encoder = [
            ModalityEncoder(self.input_dims[m], self.model_dim, self.seq_lens[m],
                            self.num_heads, self.ff_dim, self.n_layers_mod,
                            self.dropout_rate, name=f"{m}_encoder", **sub)
            for m in MODALITIES
        ]
        self.fusion = CrossModalFusion(
            self.model_dim, self.num_heads, self.ff_dim, self.n_layers_fuse,
            self.bidirectional_fusion, self.dropout_rate, name="fusion", **sub)
        self.fusion_head = AdaptiveFusionHead(
            self.model_dim, len(MODALITIES), pooling_method, self.dropout_rate,
            name="fusion_head", **sub)
        # float32 so that the prediction (and the loss) stay float32 under
        # mixed precision.
        self.regressor = tf.keras.layers.Dense(1, dtype="float32", name="regressor")

    def call(self, inputs, training=False):
        if not isinstance(inputs, (tuple, list)) or len(inputs) not in (3, 6):
            got = (f"a {type(inputs).__name__} of length {len(inputs)}"
                   if isinstance(inputs, (tuple, list)) else type(inputs).__name__)
            raise ValueError(
                "MSASeqLevelModel expects a tuple/list of 3 sequences (text, "
                "audio, video) or 6 tensors (text, audio, video, text_mask, "
                f"audio_mask, video_mask); got {got}.")
        sequences = list(inputs[:3])
        if len(inputs) == 6:
            masks = [as_bool_mask(m) for m in inputs[3:]]
        else:
            masks = [create_padding_mask(s) for s in sequences]
        encoders = (self.text_encoder, self.audio_encoder, self.video_encoder)
        text, audio, video = [
            encoder(sequence, mask=mask, training=training)
            for encoder, sequence, mask in zip(encoders, sequences, masks)
        ]
        text, audio, video = self.fusion(
            text, audio, video, text_mask=masks[0], audio_mask=masks[1],
            video_mask=masks[2], training=training)
        fused = self.fusion_head([text, audio, video], masks, training=training)
        return self.regressor(fused)

    def get_config(self):
        # tf.keras.Model.get_config() returns {} for subclassed models.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            # Plain types: Keras wraps dict attributes in trackable proxies.
            "seq_len": (self.seq_len if isinstance(self.seq_len, int)
                        else {m: self.seq_lens[m] for m in MODALITIES}),
            "text_dim": self.input_dims["text"],
            "audio_dim": self.input_dims["audio"],
            "video_dim": self.input_dims["video"],
            "model_dim": self.model_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "n_layers_mod": self.n_layers_mod,
            "n_layers_fuse": self.n_layers_fuse,
            "bidirectional_fusion": self.bidirectional_fusion,
            "pooling_method": self.pooling_method,
            "dropout_rate": self.dropout_rate,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)
