"""The model options beyond the seed, and the baseline architectures (tiny sizes)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.model_helpers import BATCH, D_MODEL, DIMS, FF, HEADS, make_model, with_junk
from trainer.models import (
    ModalityEncoder,
    MSASeqLevelModel,
    PooledFusionModel,
    TextOnlyModel,
    TransformerBlock,
    WordContext,
    WordLevelFusion,
    combine_masks,
    create_look_ahead_mask,
)

pytestmark = pytest.mark.usefixtures("tf_seed")  # every test starts from seed 0

L = 8


def aligned_batch(rng, length=L, empty_example=3):
    """Word-aligned sequences: one mask shared by the three modalities."""
    true_len = rng.integers(2, length + 1, size=BATCH)
    true_len[empty_example] = 0
    mask = np.arange(length)[None, :] < true_len[:, None]
    seqs = [(rng.normal(size=(BATCH, length, d)) * mask[..., None]).astype("float32")
            for d in DIMS]
    return seqs, [mask, mask, mask]


# ----------------------------------------------------------------- causal attention

def test_transformer_block_accepts_a_causal_attention_mask(rng):
    block = TransformerBlock(D_MODEL, HEADS, FF, 0.0)
    padding = tf.constant([[True, True, True, True, False], [True, True, False, False, False]])
    mask = combine_masks(padding, create_look_ahead_mask(5))
    assert mask.shape == (2, 5, 5)
    x = rng.normal(size=(2, 5, D_MODEL)).astype("float32")
    out = block(x, mask=mask).numpy()
    # Changing frames after position 1 leaves positions 0..1 unchanged ...
    later = x.copy()
    later[:, 2:] = rng.normal(size=later[:, 2:].shape)
    out_later = block(later, mask=mask).numpy()
    np.testing.assert_allclose(out_later[:, :2], out[:, :2], atol=1e-6)
    # ... while a valid later frame sees them (example 0, position 3).
    assert np.abs(out_later[0, 3] - out[0, 3]).max() > 1e-3
    # Padded frames (mask[i, i] False) come out as zeros.
    np.testing.assert_array_equal(out[0, 4], 0.0)
    np.testing.assert_array_equal(out[1, 2:], 0.0)
    # Without the look-ahead part the block is the padding-mask block.
    np.testing.assert_allclose(
        block(x, mask=combine_masks(padding, None)).numpy(), block(x, mask=padding).numpy())


def test_causal_encoder_and_model(rng):
    encoder = ModalityEncoder(DIMS[0], D_MODEL, L, HEADS, FF, 2, 0.0, causal=True)
    x = rng.normal(size=(2, L, DIMS[0])).astype("float32")
    mask = np.ones((2, L), bool)
    changed = x.copy()
    changed[:, 5:] += 1.0
    np.testing.assert_allclose(encoder(changed, mask=mask).numpy()[:, :5],
                               encoder(x, mask=mask).numpy()[:, :5], atol=1e-6)
    plain = ModalityEncoder(DIMS[0], D_MODEL, L, HEADS, FF, 2, 0.0)
    assert np.abs(plain(changed, mask=mask).numpy()[:, :5]
                  - plain(x, mask=mask).numpy()[:, :5]).max() > 1e-3
    model = make_model(seq_len=L, causal=True)
    seqs, masks = aligned_batch(rng)
    clean = model(seqs + masks).numpy()
    np.testing.assert_allclose(model(with_junk(seqs, masks, rng) + masks).numpy(), clean,
                               atol=1e-5)
    assert MSASeqLevelModel.from_config(model.get_config()).causal


# ----------------------------------------------------------------- word-level fusion

def test_word_level_fusion_scores_words_at_their_own_step(rng):
    layer = WordLevelFusion(channels=2)
    seqs, masks = aligned_batch(rng)
    out = layer(*seqs, masks[0]).numpy()
    assert out.shape == (BATCH, 2)
    np.testing.assert_array_equal(out[3], 0.0)  # no words -> 0
    # Padded steps never count, whatever they hold.
    junk = with_junk(seqs, masks, rng)
    np.testing.assert_allclose(layer(*junk, masks[0]).numpy(), out, atol=1e-4)
    # Give the gate weights, then: moving all three modalities' steps
    # together changes nothing (a sum over words) ...
    for sub in (layer.video_factor, layer.linear_gate):
        sub.kernel.assign(rng.normal(size=sub.kernel.shape).astype("float32"))
    out = layer(*seqs, masks[0]).numpy()
    order = np.arange(L)[::-1]
    full = [np.ones((BATCH, L), bool)] * 3
    dense = [s.copy() for s in seqs]
    np.testing.assert_allclose(layer(*[s[:, order] for s in dense], full[0]).numpy(),
                               layer(*dense, full[0]).numpy(), rtol=1e-5, atol=1e-5)
    # ... but moving the audio alone (same frames, other words) does.
    shuffled = layer(dense[0], dense[1][:, order], dense[2], full[0]).numpy()
    assert np.abs(shuffled - layer(*dense, full[0]).numpy()).max() > 1e-3


def test_word_level_fusion_starts_as_a_word_score_scaled_by_the_audio_factor(rng):
    layer = WordLevelFusion()
    seqs, masks = aligned_batch(rng)
    out = layer(*seqs, masks[0]).numpy()
    w, b = layer.word_score.kernel.numpy(), layer.word_score.bias.numpy()
    p, pb = layer.audio_factor.kernel.numpy(), layer.audio_factor.bias.numpy()
    score = seqs[0] @ w + b
    gate = 1.0 + seqs[1] @ p + pb  # video factor and linear gate start at 0
    expected = np.where(masks[0][..., None], score * gate, 0.0).sum(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_word_level_fusion_refuses_unaligned_lengths(rng):
    layer = WordLevelFusion()
    with pytest.raises(ValueError, match="word-aligned"):
        layer(tf.zeros((1, 6, 5)), tf.zeros((1, 4, 4)), tf.zeros((1, 6, 3)),
              tf.ones((1, 6), tf.bool))


def test_word_context_starts_as_the_bag_of_words_and_reads_the_neighbours(rng):
    layer = WordContext(channels=2, window=2, reduced=4, hidden=8, readout_stddev=0.0,
                        reduce_l2=0.5)
    text = tf.constant(rng.normal(size=(BATCH, L, 5)), tf.float32)
    mask = np.arange(L)[None, :] < np.array([L, 5, 1, 0])[:, None]
    start = layer(text, mask).numpy()
    assert start.shape == (BATCH, L, 2) and start.dtype == np.float32
    np.testing.assert_array_equal(start, np.ones_like(start))  # no effect until learned
    # the default read-out starts small and random: near the bag of words, off its saddle
    nudged = WordContext(channels=2)(text, mask).numpy()
    assert not np.allclose(nudged[mask], 1.0)
    assert np.abs(nudged[mask] - 1.0).mean() < 0.2
    np.testing.assert_array_equal(nudged[~mask], 1.0)
    layer.modifier.kernel.assign(tf.ones_like(layer.modifier.kernel))
    moved = layer(text, mask).numpy()
    assert not np.allclose(moved[mask], 1.0)
    np.testing.assert_array_equal(moved[~mask], 1.0)  # padded words: 1
    # word t reads words t-2..t+2 but t itself, and never the padding, whatever it holds
    changed = text.numpy().copy()
    changed[0, 7] += 5.0
    changed[1, 6:] = np.inf
    after = layer(tf.constant(changed), mask).numpy()
    np.testing.assert_array_equal(after[0, [0, 1, 2, 3, 4, 7]], moved[0, [0, 1, 2, 3, 4, 7]])
    assert not np.allclose(after[0, 5], moved[0, 5]) and not np.allclose(after[0, 6], moved[0, 6])
    np.testing.assert_array_equal(after[1], moved[1])
    config = layer.get_config()
    assert (config["channels"], config["window"], config["reduced"], config["hidden"],
            config["readout_stddev"], config["reduce_l2"]) == (2, 2, 4, 8, 0.0, 0.5)
    # the neighbours' reduction is weight-decayed: 0.5 * sum(w^2), one loss term
    reduce_kernel = layer.reduce.kernel.numpy()
    np.testing.assert_allclose(float(tf.add_n(layer.losses)),
                               0.5 * float(np.sum(reduce_kernel ** 2)), rtol=1e-5)
    unregularised = WordContext(reduce_l2=0.0)
    unregularised(text, mask)
    assert unregularised.losses == []
    with pytest.raises(ValueError, match="window"):
        WordContext(window=0)
    with pytest.raises(ValueError, match="readout_stddev"):
        WordContext(readout_stddev=-1.0)
    with pytest.raises(ValueError, match="reduce_l2"):
        WordContext(reduce_l2=-1.0)


def test_word_context_multiplies_the_word_level_scores(rng):
    model = make_model(seq_len=L, word_fusion=True, word_context=True)
    seqs, masks = aligned_batch(rng)
    clean = model(seqs + masks).numpy()
    np.testing.assert_allclose(model(with_junk(seqs, masks, rng) + masks).numpy(), clean,
                               atol=1e-4)
    config = model.get_config()
    assert config["word_context"]
    clone = MSASeqLevelModel.from_config(config)
    clone(seqs + masks)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(seqs + masks).numpy(), clean)
    # a multiplier of -1 on every word flips the word-level part
    model.word_regressor.kernel.assign(tf.ones_like(model.word_regressor.kernel))
    model.context.modifier.kernel.assign(tf.zeros_like(model.context.modifier.kernel))
    with_path = model(seqs + masks).numpy()  # multipliers of 1: the bag of words
    model.context.bias.assign(tf.ones_like(model.context.bias))
    model.context.kernel.assign(tf.zeros_like(model.context.kernel))  # gelu(bias) everywhere
    gelu_one = float(tf.nn.gelu(1.0))
    units = model.context.hidden
    model.context.modifier.kernel.assign(
        tf.fill(model.context.modifier.kernel.shape, -2.0 / (gelu_one * units)))
    flipped = model(seqs + masks).numpy()
    model.word_regressor.kernel.assign(tf.zeros_like(model.word_regressor.kernel))
    seq_part = model(seqs + masks).numpy()
    np.testing.assert_allclose(flipped - seq_part, -(with_path - seq_part), rtol=1e-4,
                               atol=1e-5)


def test_model_with_aligned_options(rng):
    model = make_model(seq_len=L, shared_positions=True, word_fusion=True)
    assert model.text_encoder.position is None and model.shared_position is not None
    seqs, masks = aligned_batch(rng)
    clean = model(seqs + masks).numpy()
    assert clean.shape == (BATCH, 1) and clean.dtype == np.float32
    np.testing.assert_allclose(model(with_junk(seqs, masks, rng) + masks).numpy(), clean,
                               atol=1e-4)
    # One positional table, used by all three encoders.
    names = [w.name for w in model.trainable_weights if "position_embedding" in w.name]
    assert len(names) == 1, names
    config = model.get_config()
    assert config["shared_positions"] and config["word_fusion"]
    clone = MSASeqLevelModel.from_config(config)
    clone(seqs + masks)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(seqs + masks).numpy(), clean)
    # The word path adds to the sequence-level prediction: silencing it
    # leaves exactly the sequence-level part.
    model.word_regressor.kernel.assign(tf.zeros_like(model.word_regressor.kernel))
    model.word_regressor.bias.assign(tf.zeros_like(model.word_regressor.bias))
    seq_only = make_model(seq_len=L, shared_positions=True)
    seq_only(seqs + masks)
    seq_only.set_weights([w for w in model.get_weights()][:len(seq_only.get_weights())])
    np.testing.assert_allclose(model(seqs + masks).numpy(), seq_only(seqs + masks).numpy(),
                               atol=1e-5)


@pytest.mark.parametrize("option", ["shared_positions", "word_fusion"])
def test_aligned_options_refuse_unaligned_lengths(option):
    with pytest.raises(ValueError, match=f"{option} needs word-aligned"):
        make_model(seq_len=(10, 6, 8), **{option: True})


# ----------------------------------------------------------------- baselines

@pytest.mark.parametrize("factory", [
    lambda: PooledFusionModel(hidden_dim=8, dropout_rate=0.0, name="pooled"),
    lambda: TextOnlyModel(L, DIMS[0], D_MODEL, HEADS, FF, 1, "mean", 0.0, True),
    lambda: TextOnlyModel(L, DIMS[0], D_MODEL, HEADS, FF, 1, "attention", 0.0, False),
], ids=["pooled", "text_only+word_scores", "text_only"])
def test_baselines_shapes_padding_and_round_trip(factory, rng):
    model = factory()
    seqs, masks = aligned_batch(rng)
    out = model(seqs + masks).numpy()
    assert out.shape == (BATCH, 1) and out.dtype == np.float32
    np.testing.assert_allclose(model(with_junk(seqs, masks, rng) + masks).numpy(), out,
                               atol=1e-4)
    clone = type(model).from_config(model.get_config())
    clone(seqs + masks)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(seqs + masks).numpy(), out)


def test_text_only_ignores_audio_and_video(rng):
    model = TextOnlyModel(L, DIMS[0], D_MODEL, HEADS, FF, 1, "mean", 0.0, True)
    seqs, masks = aligned_batch(rng)
    other = [seqs[0], rng.normal(size=seqs[1].shape).astype("float32"),
             rng.normal(size=seqs[2].shape).astype("float32")]
    np.testing.assert_array_equal(model(other + masks).numpy(), model(seqs + masks).numpy())


def test_pooled_model_cannot_see_which_frames_co_occur(rng):
    model = PooledFusionModel(hidden_dim=8, dropout_rate=0.0)
    seqs, masks = aligned_batch(rng, empty_example=0)
    full = [np.ones_like(m) for m in masks]
    dense = [rng.normal(size=s.shape).astype("float32") for s in seqs]
    order = np.arange(L)[::-1]
    np.testing.assert_allclose(model([dense[0], dense[1][:, order], dense[2]] + full).numpy(),
                               model(dense + full).numpy(), rtol=1e-5, atol=1e-5)
