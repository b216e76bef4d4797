"""Word-level fusion for word-aligned data: nonverbal cues gate each word."""

from __future__ import annotations

import tensorflow as tf

from trainer.models.blocks import zero_invalid
from trainer.models.positional import as_bool_mask


@tf.keras.utils.register_keras_serializable(package="msa")
class WordLevelFusion(tf.keras.layers.Layer):
    """Scores every word, gated by the audio and video frames of the same step.

    On word-aligned data (CMU-MOSI/MOSEI aligned to words, as most released
    features are) step ``t`` of text, audio and video is the same word, so a
    cue such as emphasis or a smile changes what *that* word contributes.
    This is the per-step higher-order fusion of Deep-HOSeq, in the low-rank
    form of LMF (Liu et al., 2018), kept as small as the data allows. For
    each of ``channels`` channels ``k``::

        s_tk   = (w_k . text_t + b_k) * gate_tk
        gate_tk = (1 + p_k . audio_t) * (1 + q_k . video_t) + l_k . [audio_t; video_t]

    Audio and video each rescale the word, their co-occurrence multiplies,
    and the linear term frees every combination of the two (the product
    alone ties "both" to "each"). ``q`` and ``l`` start at 0 and ``p`` at
    random, so training starts near a bag-of-words score but not at the
    saddle where a sentiment carried only by the interaction (no text-only
    signal) would give the gate no gradient. The scores are summed over the
    valid words: a segment's sentiment accumulates over its words (a mean
    would need the segment's length to undo it).

    Shapes: ``text`` ``(batch, L, text_dim)``, ``audio`` ``(batch, L,
    audio_dim)``, ``video`` ``(batch, L, video_dim)`` with the same ``L``,
    ``mask`` ``(batch, L)`` (True = a valid word), optional ``context``
    ``(batch, L, channels)``: a multiplier of each word's score from the
    words around it (:class:`~trainer.models.word_context.WordContext`).
    Output ``(batch, channels)`` in float32. Padded steps contribute nothing
    whatever they hold; a segment without words scores 0.
    """

    def __init__(self, channels: int = 1, **kwargs):
        super().__init__(**kwargs)
        if int(channels) < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = int(channels)
        sub = {"dtype": self.dtype_policy}  # sub-layers follow this policy
        self.word_score = tf.keras.layers.Dense(self.channels, name="word_score", **sub)
        self.audio_factor = tf.keras.layers.Dense(self.channels, name="audio_factor", **sub)
        self.video_factor = tf.keras.layers.Dense(
            self.channels, kernel_initializer="zeros", name="video_factor", **sub)
        self.linear_gate = tf.keras.layers.Dense(
            self.channels, kernel_initializer="zeros", name="linear_gate", **sub)

    def call(self, text, audio, video, mask, context=None):
        # Keras autocasts only the first call argument under mixed precision.
        audio = tf.cast(audio, text.dtype)
        video = tf.cast(video, text.dtype)
        if text.shape[1] is not None and audio.shape[1] is not None and (
                text.shape[1] != audio.shape[1] or text.shape[1] != video.shape[1]):
            raise ValueError(
                f"{self.name}: word-level fusion needs word-aligned modalities of one "
                f"length, got text/audio/video lengths {text.shape[1]}/{audio.shape[1]}/"
                f"{video.shape[1]}")
        mask = as_bool_mask(mask)
        # Padded steps may hold anything (inf after a float16 cast).
        text = zero_invalid(text, mask)
        audio = zero_invalid(audio, mask)
        video = zero_invalid(video, mask)
        gate = ((1.0 + self.audio_factor(audio)) * (1.0 + self.video_factor(video))
                + self.linear_gate(tf.concat([audio, video], axis=-1)))
        scores = tf.cast(self.word_score(text) * gate, tf.float32)
        if context is not None:
            scores *= tf.cast(context, tf.float32)
        scores = zero_invalid(scores, mask)
        return tf.reduce_sum(scores, axis=1)

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels})
        return config
