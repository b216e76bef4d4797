"""Forward-backward over words that cut a frame sequence into runs.

The explicit-duration hidden semi-Markov model behind
:class:`~trainer.models.segmental_alignment.SegmentalWordAlignment`: the
``n`` words of a segment take its ``m`` frames in order, word ``t`` a run of
``k`` consecutive frames (``0 <= k <= K``) all in one state ``s``. A
segmentation's log-probability is the sum, over its words, of the word's
state prior, its duration's log-probability and its frames' log-likelihood
in its state. This module only does the arithmetic on those scores; the
layer decides what they are.
"""

from __future__ import annotations

from typing import Tuple

import tensorflow as tf

# log(0) stand-in: far below any real log-probability, finite so that
# float32 sums of a few of them stay finite.
LOG_ZERO = -1e9


def _later(x: tf.Tensor, k: int, axis: int = 1, fill: float = 0.0) -> tf.Tensor:
    """``x`` moved ``k`` places later along ``axis``; the first ``k`` places hold ``fill``."""
    if k == 0:
        return x
    shape = tf.shape(x)
    moved = tf.minimum(k, shape[axis])  # k may pass the end of a short batch
    head = tf.fill(tf.concat([shape[:axis], [moved], shape[axis + 1:]], 0),
                   tf.cast(fill, x.dtype))
    body = tf.gather(x, tf.range(shape[axis] - moved), axis=axis)
    return tf.concat([head, body], axis)


def _earlier(x: tf.Tensor, k: int) -> tf.Tensor:
    """``x`` moved ``k`` places earlier along axis 1; the last ``k`` places hold 0."""
    if k == 0:
        return x
    return tf.concat([x[:, k:], tf.zeros_like(x[:, :k])], 1)


def segment_words(log_prior: tf.Tensor, frame_scores: tf.Tensor, log_durations: tf.Tensor,
                  word_mask: tf.Tensor, n_frames: tf.Tensor, max_run: int
                  ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``(log_z (B,), boundaries (B, T, F + 1), states (B, T, 2))``.

    Inputs: ``log_prior`` ``(B, T, 2)``, log P(word t in state s);
    ``frame_scores`` ``(B, F, 2)``, log p(frame j | state s) (up to a term
    per frame shared by both states); ``log_durations`` ``(B, K + 1)``, log
    P(a word has k frames); ``word_mask`` ``(B, T)`` bool, the valid words
    first; ``n_frames`` ``(B,)`` int32, the frames to cover (the first
    ``n_frames``); ``max_run`` = K.

    ``log_z``: log of the sum over segmentations (log(0) where none covers
    the frames); its gradient is the posterior's expected gradient of a
    segmentation's score (Fisher's identity), so neither loop below is
    differentiated. ``boundaries[b, t, j]``: P(word t's run ends before
    frame j). ``states[b, t, s]``: P(word t has frames, all in state s).
    Words past ``word_mask`` leave everything as it was. Nothing returned
    but ``log_z`` carries a gradient.
    """
    width = tf.shape(frame_scores)[1] + 1  # F + 1 run boundaries
    k_index = tf.range(max_run + 1)[:, None, None]  # (K+1, 1, 1)
    j_index = tf.range(width)[None, None]  # (1, 1, F+1)
    zero = tf.zeros_like(frame_scores[:, :1])
    cumulative = tf.concat([zero, tf.cumsum(frame_scores, 1)], 1)  # (B, F+1, 2)
    log_prior = tf.transpose(log_prior, [1, 0, 2])[:, None, :, None, :]  # (T, 1, B, 1, 2)
    log_durations = tf.transpose(log_durations)[:, :, None]  # (K+1, B, 1)

    # by_state[t, k, b, j, s]: log P(word t takes the k frames from j, in state s);
    # runs_by_start sums the states. Indexed by a run's first boundary j
    # (frames [j, j + k)) for the backward loop, by its last (frames
    # [j - k, j)) for the forward one.
    by_state = log_prior + log_durations[None, ..., None] + tf.stack(
        [_earlier(cumulative, k) - cumulative for k in range(max_run + 1)])
    fits = (j_index + k_index < width)[None]
    runs_by_start = tf.where(fits, tf.reduce_logsumexp(by_state, -1), LOG_ZERO)
    runs_by_end = tf.stack([_later(runs_by_start[:, k], k, axis=2, fill=LOG_ZERO)
                            for k in range(max_run + 1)], 1)

    positions = j_index[0]
    start = tf.where(positions == 0, 0.0, LOG_ZERO) + tf.zeros_like(cumulative[:, :1, 0])
    end = tf.where(positions == n_frames[:, None], 0.0, LOG_ZERO)
    pad = tf.fill([max_run, tf.shape(start)[0]], LOG_ZERO)

    def before(x):  # (K+1, B, F+1): x[b, j - k], log(0) where j < k
        padded = tf.concat([pad, tf.transpose(x)], 0)
        return tf.transpose(tf.gather(padded, max_run + j_index[0] - k_index[:, 0]),
                            [0, 2, 1])

    def after(x):  # (K+1, B, F+1): x[b, j + k], log(0) past the end
        padded = tf.concat([tf.transpose(x), pad], 0)
        return tf.transpose(tf.gather(padded, j_index[0] + k_index[:, 0]), [0, 2, 1])

    def forward(alpha, step):  # alpha[b, j]: log P(frames < j, the words so far end at j)
        runs_t, valid_t = step
        new = tf.reduce_logsumexp(runs_t + before(alpha), 0)
        return tf.where(valid_t[:, None], tf.maximum(new, LOG_ZERO), alpha)

    def backward(beta, step):  # beta[b, j]: log P(frames >= j | the next word starts at j)
        runs_t, valid_t = step
        new = tf.reduce_logsumexp(runs_t + after(beta), 0)
        return tf.where(valid_t[:, None], tf.maximum(new, LOG_ZERO), beta)

    valid = tf.transpose(word_mask)  # (T, B)
    # Both loops run without gradient; the likelihood's gradient comes
    # from the posterior below (Fisher's identity).
    alphas = tf.scan(forward, (tf.stop_gradient(runs_by_end), valid),
                     initializer=start)  # after word t
    betas = tf.scan(backward, (tf.stop_gradient(runs_by_start), valid),
                    initializer=end, reverse=True)  # before word t
    following = tf.concat([betas[1:], end[None]], 0)
    log_z = tf.gather(alphas[-1], n_frames, batch_dims=1)  # (B,)
    # d log Z = E[d log p(segmentation, frames)]: the expected score of
    # each word's run under the posterior, with the posterior held fixed.
    preceding = tf.concat([start[None], alphas[:-1]], 0)  # before word t
    padded = tf.concat([following, tf.fill(
        tf.concat([tf.shape(following)[:2], [max_run]], 0), LOG_ZERO)], -1)
    following_by_k = tf.transpose(tf.gather(padded, j_index[0] + k_index[:, 0], axis=2),
                                  [0, 2, 1, 3])  # (T, K+1, B, F+1): beta_t[a + k]
    log_run_posterior = (preceding[:, None] + runs_by_start + following_by_k
                         - log_z[None, None, :, None])
    usable = valid[:, None, :, None] & (log_z > LOG_ZERO / 2)[None, None, :, None]
    run_posterior = tf.exp(tf.where(usable, tf.stop_gradient(log_run_posterior),
                                    LOG_ZERO))
    expected = tf.reduce_sum(run_posterior * runs_by_start, [0, 1, 3])
    log_z = tf.stop_gradient(log_z) + expected - tf.stop_gradient(expected)
    # Each state's share of a run (none for a run of no frames).
    share = tf.nn.softmax(tf.stop_gradient(by_state), -1) * tf.cast(
        k_index > 0, tf.float32)[None, ..., None]
    states = tf.einsum("tkba,tkbas->bts", run_posterior, share)
    boundaries = tf.nn.softmax(alphas + following, -1)
    return log_z, tf.transpose(boundaries, [1, 0, 2]), states
