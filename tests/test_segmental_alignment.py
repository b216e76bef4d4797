"""SegmentalWordAlignment (trainer/models/segmental_alignment.py): frames cut into words."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from msa_data.synth_features import render_frames
from msa_data.synth_unaligned import frame_words
from trainer.models.segmental_alignment import SegmentalWordAlignment


def _masks(lengths, width):
    return (np.arange(width)[None, :] < np.asarray(lengths)[:, None]).astype("int64")


def _two_state_layer(dim=1, **kwargs):
    """A layer whose frames are cue (value 2 in dim 0) or not (0), sharply."""
    layer = SegmentalWordAlignment(dim, **kwargs)
    layer.build(None)
    means = np.zeros((2, dim), "float32")
    means[1, 0] = 2.0
    layer.state_means.assign(means)
    layer.log_variance.assign(np.full(dim, np.log(0.01), "float32"))
    return layer


def test_a_cue_run_is_cut_where_the_state_changes(rng):
    # 4 words, 8 frames: frame 0 plain, frames 1-3 a cue, 4-7 plain. Relative
    # position gives word 0 frames 0 and 1; the segmentation cannot give a
    # word frames of both states, so frame 1 goes to the cue word.
    frames = np.array([0, 2, 2, 2, 0, 0, 0, 0], "float32").reshape(1, 8, 1)
    words = rng.normal(size=(1, 4, 3)).astype("float32")
    layer = _two_state_layer()
    member = layer.membership(words, frames, _masks([4], 4), _masks([8], 8)).numpy()[0]
    np.testing.assert_allclose(member.sum(0), 1.0, atol=1e-5)
    assert member[0, 1] < 0.01 and member[0, 0] > 0.99
    # Relative position would make word 0's mean 1.0 (half a cue); here it is plain.
    out = layer(words, frames, _masks([4], 4), _masks([8], 8)).numpy()[0, :, 0]
    assert out[0] < 0.05 and out[1] > 1.95


def test_every_frame_is_shared_out_and_padding_is_never_read(rng):
    layer = SegmentalWordAlignment(2)
    words = rng.normal(size=(3, 4, 5)).astype("float32")
    frames = rng.normal(size=(3, 9, 2)).astype("float32")
    word_mask, frame_mask = _masks([4, 2, 3], 4), _masks([9, 5, 0], 9)
    member = layer.membership(words, frames, word_mask, frame_mask).numpy()
    np.testing.assert_allclose(member.sum(1), frame_mask, atol=1e-5)
    assert np.all(member[1, 2:] == 0)  # padded words own nothing
    out = layer(words, frames, word_mask, frame_mask).numpy()
    poisoned = np.where(frame_mask[..., None] == 1, frames, np.float32(np.nan))
    np.testing.assert_array_equal(layer(words, poisoned, word_mask, frame_mask).numpy(), out)
    assert np.all(out[2] == 0) and np.all(out[1, 2:] == 0)
    assert np.all(np.isfinite(out))


def test_frames_that_no_segmentation_can_cover_fall_back_to_relative_position(rng):
    # One word cannot take 10 frames at most 3 a word.
    layer = SegmentalWordAlignment(1, max_frames_per_word=3)
    frames = np.arange(10, dtype="float32").reshape(1, 10, 1)
    words = rng.normal(size=(1, 2, 3)).astype("float32")
    member = layer.membership(words, frames, _masks([1], 2), _masks([10], 10)).numpy()[0]
    np.testing.assert_array_equal(member[0], np.ones(10))
    layer(words, frames, _masks([1], 2), _masks([10], 10), training=True)
    assert float(layer.losses[0]) == 0.0  # left out of the likelihood, not -log(0)


def test_the_label_never_trains_the_segmentation_and_evaluation_adds_no_loss(rng):
    layer = SegmentalWordAlignment(3)
    words = rng.normal(size=(2, 4, 5)).astype("float32")
    frames = rng.normal(size=(2, 10, 3)).astype("float32")
    masks = (_masks([4, 3], 4), _masks([10, 7], 10))
    with tf.GradientTape(persistent=True) as tape:
        out = layer(words, frames, *masks, training=True)
        label_loss = tf.reduce_sum(tf.square(out - 1.0))
    assert all(g is None for g in tape.gradient(label_loss, layer.trainable_variables))
    (nll,) = layer.losses
    grads = tape.gradient(nll, layer.trainable_variables)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)
    layer(words, frames, *masks, training=False)
    assert layer.losses == []


def test_maximum_likelihood_finds_the_cue_features_without_labels():
    # Frames as msa-synth --unaligned draws them: 4 cue features (a word's
    # frames all show its cue or none do) among 12 of noise.
    rng = np.random.default_rng(0)
    n_segments, max_words, max_frames, dim = 96, 12, 30, 16
    frames = np.zeros((n_segments, max_frames, dim), "float32")
    n_words = rng.integers(4, max_words + 1, n_segments)
    n_frames = np.zeros(n_segments, int)
    # Roughly standardised, as Transform leaves them.
    shift, scale = np.zeros(dim), np.ones(dim)
    shift[:4], scale[:4] = 0.6, 0.9
    for i, n in enumerate(n_words):
        owner = frame_words(rng, int(n))["audio"][:max_frames]
        rendered = render_frames(rng, owner, rng.random(n) < 0.3, dim, (0, 1, 2, 3))
        frames[i, :len(owner)] = (rendered - shift) / scale
        n_frames[i] = len(owner)
    words = np.zeros((n_segments, max_words, 2), "float32")
    masks = (_masks(n_words, max_words), _masks(n_frames, max_frames))
    tf.keras.utils.set_random_seed(0)
    layer = SegmentalWordAlignment(dim)
    optimizer = tf.keras.optimizers.Adam(0.05)
    for _ in range(10):
        for b in range(0, n_segments, 32):
            batch = [x[b:b + 32] for x in (words, frames) + masks]
            with tf.GradientTape() as tape:
                layer(*batch, training=True)
                loss = layer.losses[0]
            grads = tape.gradient(loss, layer.trainable_variables)
            optimizer.apply_gradients(zip(grads, layer.trainable_variables))
    gap = np.abs(np.diff(layer.state_means.numpy(), axis=0))[0]
    assert gap[:4].min() > 1.5, gap
    assert gap[4:].max() < 0.5, gap


def test_config_round_trip_and_mixed_precision(rng):
    layer = SegmentalWordAlignment(6, max_frames_per_word=5, loss_weight=0.5, name="a")
    clone = SegmentalWordAlignment.from_config(layer.get_config())
    assert (clone.frame_dim, clone.max_frames_per_word, clone.loss_weight, clone.name) == (
        6, 5, 0.5, "a")
    frames = tf.cast(rng.normal(size=(1, 5, 2)), tf.float16)
    out = SegmentalWordAlignment(2)(tf.cast(rng.normal(size=(1, 3, 4)), tf.float16), frames,
                                    _masks([3], 3), _masks([5], 5))
    assert out.dtype == tf.float16 and np.all(np.isfinite(out.numpy()))
    for flag, bad in (("frame_dim", {"frame_dim": 0}),
                      ("max_frames_per_word", {"frame_dim": 2, "max_frames_per_word": 0}),
                      ("loss_weight", {"frame_dim": 2, "loss_weight": 0.0})):
        with pytest.raises(ValueError, match=flag):
            SegmentalWordAlignment(**bad)


def test_the_model_fits_the_segmentation_only_while_training(rng):
    from tests.model_helpers import make_model, random_batch, with_junk
    from trainer.models import MSASeqLevelModel

    model = make_model(seq_len=(6, 10, 12), word_fusion=True, word_alignment="segmental")
    seqs, masks = random_batch(rng, lengths=(6, 10, 12))
    clean = model(seqs + masks, training=False).numpy()
    assert model.losses == [] and np.all(np.isfinite(clean))
    model(seqs + masks, training=True)
    assert len(model.losses) == 2  # audio and video, each its likelihood
    np.testing.assert_allclose(model(with_junk(seqs, masks, rng) + masks).numpy(), clean,
                               atol=1e-4)
    clone = MSASeqLevelModel.from_config(model.get_config())
    clone(seqs + masks)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(seqs + masks).numpy(), clean)
    with pytest.raises(ValueError, match="word_alignment"):
        make_model(seq_len=(6, 10, 12), word_fusion=True, word_alignment="hard")


def test_likelihood_and_its_gradient_match_a_sum_over_every_segmentation(rng):
    # 3 words, 5 frames, runs of 0-3 frames: few enough paths to list.
    import itertools

    layer = SegmentalWordAlignment(2, max_frames_per_word=3)
    words = rng.normal(size=(1, 3, 4)).astype("float32")
    frames = rng.normal(size=(1, 5, 2)).astype("float32")
    masks = (_masks([3], 3), _masks([5], 5))
    layer.build(None)
    layer.state_prior.build((None, 4))
    layer.state_prior.kernel.assign(rng.normal(size=(4, 1)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        layer(words, frames, *masks, training=True)
        (loss,) = layer.losses
        rate = tf.constant([5 / 3])
        durations = layer._log_durations(rate, 3)[0]
        per_state, both = layer._frame_log_likelihoods(frames, tf.constant(masks[1] == 1))
        emission = per_state[0] + both[0][:, None]  # (5, 2): log p(frame | state)
        prior = layer.state_prior(words)[0, :, 0]
        log_prior = tf.stack([tf.math.log_sigmoid(-prior), tf.math.log_sigmoid(prior)], -1)
        paths, owners, word_states = [], [], []
        for runs in itertools.product(range(4), repeat=3):
            if sum(runs) != 5:
                continue
            starts = np.cumsum((0,) + runs)
            for states in itertools.product((0, 1), repeat=3):
                owners.append(np.repeat(np.arange(3), runs))
                word_states.append(np.array([[k > 0 and s == state for state in (0, 1)]
                                             for k, s in zip(runs, states)], float))
                paths.append(tf.add_n([
                    log_prior[t, s] + durations[k]
                    + tf.reduce_sum(emission[starts[t]:starts[t] + k, s])
                    for t, (k, s) in enumerate(zip(runs, states))]))
        expected = -tf.reduce_logsumexp(tf.stack(paths)) / (5 * 2)
    np.testing.assert_allclose(float(loss), float(expected), rtol=1e-5)
    for got, want in zip(tape.gradient(loss, layer.trainable_variables),
                         tape.gradient(expected, layer.trainable_variables)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-6)
    # And each frame's owner, weighed over the paths.
    weights = tf.nn.softmax(tf.stack(paths)).numpy()
    want = sum(w * (np.arange(3)[:, None] == owner[None]) for w, owner in zip(weights, owners))
    got = layer.membership(words, frames, *masks).numpy()[0]
    np.testing.assert_allclose(got, want, atol=1e-5)
    # And each word's state, where it has frames.
    want = sum(w * states for w, states in zip(weights, word_states))
    np.testing.assert_allclose(layer.states(words, frames, *masks).numpy()[0], want, atol=1e-5)
