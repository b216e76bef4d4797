"""Segmental alignment of unaligned frames to words, fitted to the frames."""

from __future__ import annotations

import math
from typing import Optional

import tensorflow as tf

from trainer.models.positional import as_bool_mask
from trainer.models.word_segmentation import segment_words


@tf.keras.utils.register_keras_serializable(package="msa")
class SegmentalWordAlignment(tf.keras.layers.Layer):
    """Gives each word the state of its frames, by a segmentation fitted to the frames.

    A hidden semi-Markov model of the frames given the words. The ``n``
    valid words take the ``m`` valid frames in order, word ``t`` a run of
    ``k_t >= 0`` consecutive frames (a short word may fall between two
    frames). Its two parts are what relative position lacks:

    * **durations**: ``k_t`` is a lognormal word duration in units of the
      segment's own frames a word, ``m / n``, rounded; log-mean and log-sd
      are learned;
    * **a word's frames share its state**: each word is in one of two
      states (a cue shown or not: a stressed word, a smile), all of its
      frames with it, with a prior that depends on the word (a ``Dense`` on
      its features). Frames are diagonal Gaussians with one mean per state
      and one variance per feature.

    Forward-backward over the words gives each frame's posterior
    probability of belonging to each word (:meth:`membership`) and each
    word's posterior state (:meth:`states`). A word's output is its
    expected state mean, ``P(state 0) mean_0 + P(state 1) mean_1`` (zeros
    for a word without frames): what the model takes the word's frames to
    show, without their frame-to-frame noise. In the word-level path on the
    built-in unaligned data it gave 0.364 against 0.401 for the posterior
    mean of the raw frames (docs/model.md): the word-level gate, fed the
    noise of 74 + 47 features, fitted it.

    The model is fitted to the frames alone, by maximum likelihood: during
    training the layer adds ``loss_weight`` times the negative log-likelihood
    per valid frame and feature to the model's losses (not during
    evaluation, so ``val_loss`` stays the label's). The label's gradient
    does not reach it: learned from the label, a segmentation fits the
    train split's noise (docs/model.md, the unaligned section).

    Every word's run is at most ``max_frames_per_word`` frames (default
    ``4 * ceil(F / L) + 2`` for padded lengths ``L`` words and ``F``
    frames, at most ``F``). A segment whose frames cannot be covered that
    way (``m > n * max_frames_per_word``) is pooled by relative position
    instead (word ``t`` takes the frames in ``[t m / n, (t + 1) m / n)``).

    Shapes: ``words`` ``(batch, L, text_dim)``, ``frames`` ``(batch, F,
    frame_dim)``, ``word_mask`` ``(batch, L)``, ``frame_mask`` ``(batch,
    F)`` (True = valid; the valid frames first). Output ``(batch, L,
    frame_dim)`` in the frames' dtype. The layer computes in float32
    whatever the policy.
    """

    INITIAL_DURATION_LOG_SD = 0.5

    def __init__(self, frame_dim: int, max_frames_per_word: Optional[int] = None,
                 loss_weight: float = 1.0, **kwargs):
        kwargs["dtype"] = "float32"  # log-probabilities summed over hundreds of frames
        super().__init__(**kwargs)
        if int(frame_dim) < 1:
            raise ValueError(f"frame_dim must be >= 1, got {frame_dim}")
        if max_frames_per_word is not None and int(max_frames_per_word) < 1:
            raise ValueError(f"max_frames_per_word must be >= 1, got {max_frames_per_word}")
        if not float(loss_weight) > 0:
            raise ValueError(f"loss_weight must be > 0, got {loss_weight}")
        self.frame_dim = int(frame_dim)
        self.max_frames_per_word = (None if max_frames_per_word is None
                                    else int(max_frames_per_word))
        self.loss_weight = float(loss_weight)
        # Zero kernel: every word starts with the same prior.
        self.state_prior = tf.keras.layers.Dense(1, kernel_initializer="zeros",
                                                 dtype="float32", name="state_prior")

    def build(self, input_shape):
        dim = (self.frame_dim,)
        self.state_means = self.add_weight(
            name="state_means", shape=(2,) + dim,
            # Random, not equal: equal means are a saddle of the likelihood.
            initializer=tf.keras.initializers.RandomNormal(stddev=0.3))
        self.log_variance = self.add_weight(name="log_variance", shape=dim,
                                            initializer="zeros")
        self.duration_log_mean = self.add_weight(name="duration_log_mean", shape=(),
                                                 initializer="zeros")
        self.raw_duration_log_sd = self.add_weight(
            name="raw_duration_log_sd", shape=(),
            initializer=tf.keras.initializers.Constant(
                math.log(math.expm1(self.INITIAL_DURATION_LOG_SD))))
        super().build(input_shape)

    def _max_run(self, words_len: int, frames_len: int) -> int:
        if self.max_frames_per_word is not None:
            return min(self.max_frames_per_word, frames_len)
        return min(frames_len, 4 * math.ceil(frames_len / max(words_len, 1)) + 2)

    def _log_durations(self, rate: tf.Tensor, max_run: int) -> tf.Tensor:
        """``(batch, max_run + 1)``: log P(a word has k frames), k = 0..max_run."""
        log_sd = tf.nn.softplus(self.raw_duration_log_sd) + 1e-2
        k = tf.range(max_run + 1, dtype=tf.float32)[None]

        def below(x):  # P(duration * rate < x)
            z = (tf.math.log(tf.maximum(x, 1e-6) / rate[:, None]) - self.duration_log_mean)
            return 0.5 * (1.0 + tf.math.erf(z / (log_sd * math.sqrt(2.0))))

        mass = below(k + 0.5) - tf.where(k > 0, below(k - 0.5), 0.0)
        log_mass = tf.math.log(tf.maximum(mass, 1e-12))
        return log_mass - tf.reduce_logsumexp(log_mass, 1, keepdims=True)

    def _frame_log_likelihoods(self, frames, frame_mask):
        """``(per_state - both (batch, F, 2), both (batch, F))``; 0 at padded frames.

        ``per_state[..., s] = log p(frame | state s)``, ``both = log(p(frame |
        0) + p(frame | 1))``: subtracting it keeps the cumulative sums small
        (float32) without changing the posterior.
        """
        # The floor keeps a feature that barely varies from making the
        # likelihood unbounded.
        variance = tf.exp(self.log_variance) + 1e-3
        diff = frames[:, :, None, :] - self.state_means  # (B, F, 2, D)
        per_state = -0.5 * tf.reduce_sum(
            tf.square(diff) / variance + tf.math.log(variance) + math.log(2 * math.pi), -1)
        both = tf.reduce_logsumexp(per_state, -1)
        per_state = tf.where(frame_mask[..., None], per_state - both[..., None], 0.0)
        return per_state, tf.where(frame_mask, both, 0.0)

    def call(self, words, frames, word_mask, frame_mask, training=False):
        log_z, _, states, feasible = self._posterior(words, frames, word_mask, frame_mask)
        if training:
            self._add_likelihood_loss(log_z, as_bool_mask(frame_mask), feasible)
        # The label does not train the state means either.
        expected = tf.einsum("bls,sd->bld", states, tf.stop_gradient(self.state_means))
        return tf.cast(expected, frames.dtype)

    def membership(self, words, frames, word_mask, frame_mask) -> tf.Tensor:
        """``(batch, L, F)`` float32: P(frame j belongs to word t); 0 where padded.

        Each valid frame's column sums to 1 over the valid words.
        """
        if not self.built:
            self.build(tf.TensorShape(words.shape))
        return self._posterior(words, frames, word_mask, frame_mask)[1]

    def states(self, words, frames, word_mask, frame_mask) -> tf.Tensor:
        """``(batch, L, 2)`` float32: P(word t has frames, all in state s); 0 where padded.

        The two add up to P(word t has at least one frame).
        """
        if not self.built:
            self.build(tf.TensorShape(words.shape))
        return self._posterior(words, frames, word_mask, frame_mask)[2]

    def _posterior(self, words, frames, word_mask, frame_mask):
        """``(log-likelihood (B,), membership (B, L, F), states (B, L, 2), feasible (B,))``."""
        frame_mask = as_bool_mask(frame_mask)
        # Padded steps may hold anything (inf after a float16 cast).
        frames = tf.where(frame_mask[..., None], tf.cast(frames, tf.float32), 0.0)
        word_mask = as_bool_mask(word_mask)
        words = tf.cast(words, tf.float32)
        words = tf.where(word_mask[..., None], words, tf.zeros_like(words))
        n_words = tf.reduce_sum(tf.cast(word_mask, tf.int32), 1)
        # The words cover frames up to the last valid one; a masked frame
        # before it (an all-zero FACET frame when masks are inferred) is
        # covered too but tells nothing and is given to no word.
        positions = tf.range(1, tf.shape(frame_mask)[1] + 1)[None]
        n_frames = tf.reduce_max(tf.where(frame_mask, positions, 0), 1)
        max_run = self._max_run(words.shape[1], frames.shape[1])
        feasible = n_frames <= n_words * max_run
        # Only the batch's longest span of frames is computed on.
        frames_used = tf.reduce_max(n_frames)
        per_state, both = self._frame_log_likelihoods(frames, frame_mask)
        log_z, boundaries, states = self._forward_backward(
            words, per_state[:, :frames_used], word_mask, n_words, n_frames, max_run)
        log_z += tf.reduce_sum(both, 1)
        # P(word t's frames start at or before j) - P(they end at or before j)
        ends = tf.cumsum(boundaries, -1)[..., :-1]  # (B, L, frames_used)
        starts = tf.concat([tf.ones_like(ends[:, :1]), ends[:, :-1]], 1)
        membership = tf.maximum(starts - ends, 0.0)
        membership = tf.pad(membership, [[0, 0], [0, 0], [0, tf.shape(frames)[1] - frames_used]])
        membership = tf.where(feasible[:, None, None], membership,
                              self._relative_position(n_words, n_frames, membership))
        membership = tf.where(word_mask[..., None] & frame_mask[:, None, :], membership, 0.0)
        # Where no segmentation fits, each frame's state is judged alone (an
        # even prior) and a word's is the mean over its frames.
        alone = tf.matmul(membership, tf.nn.softmax(tf.stop_gradient(per_state), -1))
        alone /= tf.maximum(tf.reduce_sum(membership, -1, keepdims=True), 1.0)
        states = tf.where(feasible[:, None, None], states, alone)
        states = tf.where(word_mask[..., None], states, 0.0)
        return log_z, membership, states, feasible

    def _forward_backward(self, words, per_state, word_mask, n_words, n_frames, max_run):
        """``(log-likelihood (B,), boundaries (B, L, F + 1), states (B, L, 2))``.

        :func:`~trainer.models.word_segmentation.segment_words` on this
        layer's scores, over the batch's longest segment only. The
        log-likelihood lacks the frames' term shared by both states
        (``both`` of :meth:`_frame_log_likelihoods`).
        """
        rate = (tf.cast(tf.maximum(n_frames, 1), tf.float32)
                / tf.cast(tf.maximum(n_words, 1), tf.float32))
        # The loops stop after the batch's longest segment (words are a prefix).
        words_used = tf.maximum(tf.reduce_max(n_words), 1)
        prior = self.state_prior(words[:, :words_used])[..., 0]
        log_prior = tf.stack([tf.math.log_sigmoid(-prior), tf.math.log_sigmoid(prior)], -1)
        log_z, boundaries, states = segment_words(
            log_prior, per_state, self._log_durations(rate, max_run),
            word_mask[:, :words_used], n_frames, max_run)
        unused = tf.shape(word_mask)[1] - words_used
        boundaries = tf.pad(boundaries, [[0, 0], [0, unused], [0, 0]])
        states = tf.pad(states, [[0, 0], [0, unused], [0, 0]])
        return log_z, boundaries, states

    def _add_likelihood_loss(self, log_z, frame_mask, feasible):
        counted = tf.cast(frame_mask, tf.float32) * tf.cast(feasible, tf.float32)[:, None]
        per_value = tf.maximum(tf.reduce_sum(counted), 1.0) * float(self.frame_dim)
        log_z = tf.where(feasible, log_z, 0.0)
        self.add_loss(self.loss_weight * -tf.reduce_sum(log_z) / per_value)

    @staticmethod
    def _relative_position(n_words, n_frames, like):
        """``(B, L, F)``: frame j belongs to word floor((j + 0.5) n / m)."""
        j = tf.cast(tf.range(tf.shape(like)[2]), tf.float32)[None]
        word = tf.floor((j + 0.5) * tf.cast(n_words, tf.float32)[:, None]
                        / tf.cast(tf.maximum(n_frames, 1), tf.float32)[:, None])
        return tf.one_hot(tf.cast(word, tf.int32), tf.shape(like)[1], axis=1)

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)  # always float32 (see __init__)
        config.update({"frame_dim": self.frame_dim,
                       "max_frames_per_word": self.max_frames_per_word,
                       "loss_weight": self.loss_weight})
        return config
