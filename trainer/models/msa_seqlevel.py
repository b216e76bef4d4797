"""Sequence-level multimodal sentiment model (Deep-HOSeq enhancement)."""

from __future__ import annotations

import numbers

import tensorflow as tf

from msa_data.contract import MODALITIES
from trainer.core.config import WORD_ALIGNMENTS
from trainer.models.alignment import SoftWordAlignment
from trainer.models.encoder import ModalityEncoder, per_modality_lengths
from trainer.models.fusion import AdaptiveFusionHead, CrossModalFusion
from trainer.models.positional import (
    LearnablePositionalEmbedding,
    as_bool_mask,
    create_padding_mask,
)
from trainer.models.segmental_alignment import SegmentalWordAlignment
from trainer.models.tracing import traced_without_autograph
from trainer.models.word_context import WordContext
from trainer.models.word_fusion import WordLevelFusion

__all__ = ["MSASeqLevelModel", "ModalityEncoder"]


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

    The defaults are the seed design. Options for word-aligned data (all
    modalities one length, step ``t`` = word ``t``; they raise ValueError
    when the ``seq_len`` entries differ):

    * ``shared_positions``: one positional table for all three encoders, so
      text step ``t`` and audio step ``t`` start out as the same moment
      instead of the model having to learn that from labels;
    * ``word_fusion``: a :class:`WordLevelFusion` path (each word's score
      gated by the audio/video frames of its own step, summed over words)
      whose ``word_fusion_channels`` scores are added to the prediction
      through their own float32 ``Dense(1)``, which starts at zero.

    ``word_alignment`` says where a word's audio and video frames are for
    that path: ``"steps"`` (word-aligned data: step ``t`` of every modality
    is word ``t``), or for unaligned data (any lengths) one aligner per
    modality that pools the frames onto the word steps: ``"soft"`` (a
    learned :class:`SoftWordAlignment`) or ``"segmental"`` (a
    :class:`SegmentalWordAlignment`, fitted to the frames by maximum
    likelihood through its own loss).

    ``word_context`` (with ``word_fusion``): a :class:`WordContext` reads
    each word's neighbours and multiplies its word-level score, so the path
    tells "good" from "not good".

    ``causal=True`` makes every encoder's self-attention causal (the seed's
    look-ahead mask option).
    """

    def __init__(self, seq_len, text_dim: int, audio_dim: int, video_dim: int,
                 model_dim: int, num_heads: int, ff_dim: int,
                 n_layers_mod: int = 2, n_layers_fuse: int = 1,
                 bidirectional_fusion: bool = False,
                 pooling_method: str = "mean", dropout_rate: float = 0.1,
                 shared_positions: bool = False, word_fusion: bool = False,
                 word_fusion_channels: int = 1, word_alignment: str = "steps",
                 word_context: bool = False, causal: bool = False, **kwargs):
        # Masks are inferred from the raw inputs; autocasting them to float16
        # first would turn tiny non-zero frames into padding. Each encoder
        # still casts its own input to the compute dtype.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.seq_lens = per_modality_lengths(seq_len)
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
        self.shared_positions = bool(shared_positions)
        self.word_fusion = bool(word_fusion)
        self.word_fusion_channels = int(word_fusion_channels)
        self.word_context = bool(word_context)
        self.causal = bool(causal)
        if word_alignment not in WORD_ALIGNMENTS:
            raise ValueError(f"word_alignment: expected one of {', '.join(WORD_ALIGNMENTS)}, "
                             f"got {word_alignment!r}")
        self.word_alignment = word_alignment
        aligned = len(set(self.seq_lens.values())) == 1
        step_options = ["shared_positions"] + (["word_fusion"] if word_alignment == "steps" else [])
        for option in step_options:
            if getattr(self, option) and not aligned:
                raise ValueError(
                    f"{option} needs word-aligned modalities of one length; got seq_len "
                    f"{self.seq_lens} (unaligned data: leave {option} off)")

        sub = {"dtype": self.dtype_policy}  # sub-layers follow this policy
        self.shared_position = None
        if self.shared_positions:
            self.shared_position = LearnablePositionalEmbedding(
                self.seq_lens["text"], self.model_dim, name="shared_position", **sub)
        self.text_encoder, self.audio_encoder, self.video_encoder = [
            ModalityEncoder(self.input_dims[m], self.model_dim, self.seq_lens[m],
                            self.num_heads, self.ff_dim, self.n_layers_mod,
                            self.dropout_rate, causal=self.causal,
                            own_positions=not self.shared_positions,
                            name=f"{m}_encoder", **sub)
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
        self.word_level = self.word_regressor = None
        self.aligners = self.context = None
        if self.word_fusion and self.word_alignment == "soft":
            self.aligners = [SoftWordAlignment(self.model_dim, name=f"{m}_to_words", **sub)
                             for m in MODALITIES[1:]]
        if self.word_fusion and self.word_alignment == "segmental":
            # float32 whatever the policy (its own __init__ sets it).
            self.aligners = [SegmentalWordAlignment(self.input_dims[m], name=f"{m}_to_words")
                             for m in MODALITIES[1:]]
        if self.word_fusion and self.word_context:
            self.context = WordContext(self.word_fusion_channels, name="word_context", **sub)
        if self.word_fusion:
            self.word_level = WordLevelFusion(
                self.word_fusion_channels, name="word_level", **sub)
            # Zero-initialised: the path adds nothing until it has learned
            # something (a random sum over words would swamp the early
            # predictions with noise several times the label range).
            self.word_regressor = tf.keras.layers.Dense(
                1, kernel_initializer="zeros", dtype="float32", name="word_regressor")

    @traced_without_autograph
    def call(self, inputs, training=False):
        sequence_score, word_score = self.scores(inputs, training=training)
        return sequence_score if word_score is None else sequence_score + word_score

    @tf.autograph.experimental.do_not_convert
    def scores(self, inputs, training=False):
        """The prediction's two terms: ``(sequence_score, word_score)``.

        Each ``(batch, 1)`` float32; ``word_score`` is None without the
        word-level path. ``call`` returns their sum; the Trainer fits the
        word-level term on its own loss
        (:class:`~trainer.training.keras_model.WordPathOnItsOwnLoss`).
        """
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
            encoder(sequence, mask=mask, training=training, positions=self.shared_position)
            for encoder, sequence, mask in zip(encoders, sequences, masks)
        ]
        text, audio, video = self.fusion(
            text, audio, video, text_mask=masks[0], audio_mask=masks[1],
            video_mask=masks[2], training=training)
        fused = self.fusion_head([text, audio, video], masks, training=training)
        sequence_score = self.regressor(fused)
        if self.word_level is None:
            return sequence_score, None
        # Word steps are the text's; aligned audio/video frames share them,
        # unaligned ones are pooled onto them first.
        audio, video = sequences[1], sequences[2]
        if self.aligners is not None:
            audio, video = [aligner(sequences[0], frames, masks[0], mask, training=training)
                            for aligner, frames, mask in zip(
                                self.aligners, sequences[1:], masks[1:])]
        context = (None if self.context is None
                   else self.context(sequences[0], masks[0]))
        words = self.word_level(sequences[0], audio, video, masks[0], context=context)
        return sequence_score, self.word_regressor(words)

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
            "shared_positions": self.shared_positions,
            "word_fusion": self.word_fusion,
            "word_fusion_channels": self.word_fusion_channels,
            "word_alignment": self.word_alignment,
            "word_context": self.word_context,
            "causal": self.causal,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)
