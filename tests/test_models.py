"""Tests for trainer.models (tiny sizes: runs on a 2-core CPU in seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.model_helpers import (
    BATCH,
    D_MODEL,
    DIMS,
    FF,
    HEADS,
    JUNK,
    global_policy,
    make_model,
    random_batch,
    with_junk,
)
from trainer.models import (
    AdaptiveFusionHead,
    CrossAttentionBlock,
    CrossModalFusion,
    LearnablePositionalEmbedding,
    ModalityEncoder,
    MSASeqLevelModel,
    TransformerBlock,
    combine_masks,
    create_look_ahead_mask,
    create_padding_mask,
)

pytestmark = pytest.mark.usefixtures("tf_seed")  # every test starts from seed 0


# ----------------------------------------------------------------- masks

def test_create_padding_mask_values():
    seqs = np.array([[[0, 0], [1, 0], [0, 1e-12], [0, -2]],
                     [[3, 3], [0, 0], [0, 0], [0, 0]]], dtype="float32")
    expected = [[False, True, False, True], [True, False, False, False]]
    mask = create_padding_mask(seqs)
    assert mask.dtype == tf.bool
    np.testing.assert_array_equal(mask.numpy(), expected)
    # A non-zero pad value and a coarser epsilon.
    np.testing.assert_array_equal(
        create_padding_mask(seqs - 1.0, pad_value=-1.0).numpy(), expected)
    np.testing.assert_array_equal(
        create_padding_mask(np.array([[[0.05, 0.0], [0.5, 0.0]]]),
                            epsilon=0.1).numpy(), [[False, True]])


def test_create_look_ahead_mask_values():
    np.testing.assert_array_equal(
        create_look_ahead_mask(3).numpy(),
        [[True, False, False], [True, True, False], [True, True, True]])


def test_combine_masks_values():
    padding = tf.constant([[True, True, False], [True, False, False]])
    assert combine_masks(padding) is padding
    combined = combine_masks(padding, create_look_ahead_mask(3)).numpy()
    assert combined.shape == (2, 3, 3)
    np.testing.assert_array_equal(combined[0], [[True, False, False],
                                                [True, True, False],
                                                [True, True, False]])
    np.testing.assert_array_equal(combined[1], [[True, False, False]] * 3)
    # 0/1 integers and an already expanded (batch, 1, L) mask: plain AND.
    int_mask = tf.constant([[[1, 0, 1]]])
    np.testing.assert_array_equal(
        combine_masks(int_mask, create_look_ahead_mask(3)[tf.newaxis]).numpy(),
        [[[True, False, False], [True, False, False], [True, False, True]]])


# ---------------------------------------------------------------- layers

def test_positional_embedding_slices_to_input_length():
    layer = LearnablePositionalEmbedding(8, 4)
    out = layer(tf.zeros((2, 5, 4)))
    weight = layer.position_embedding.numpy()
    assert weight.shape == (8, 4)
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(weight[:5], (2, 5, 4)))
    with pytest.raises(ValueError, match="exceeds seq_len"):
        layer(tf.zeros((2, 9, 4)))


def test_transformer_block_masking(rng):
    block = TransformerBlock(D_MODEL, HEADS, FF, dropout_rate=0.0)
    x = rng.normal(size=(3, 6, D_MODEL)).astype("float32")
    mask = np.array([[1] * 6, [1, 1, 1, 0, 0, 0], [0] * 6], dtype=bool)
    out = block(x, mask=mask).numpy()
    assert out.shape == (3, 6, D_MODEL)
    # Padded rows (all of them for the empty example 2) are zeroed ...
    assert np.all(out[~mask] == 0.0)
    # ... and nothing in them reaches the valid rows.
    junk_out = block(with_junk([x], [mask], rng)[0], mask=mask).numpy()
    np.testing.assert_allclose(junk_out, out, atol=1e-5)
    # 0/1 numeric masks behave like bool masks; the mask really matters.
    np.testing.assert_allclose(block(x, mask=mask.astype("float32")).numpy(), out)
    assert not np.allclose(block(x).numpy()[1, :3], out[1, :3], atol=1e-3)


def test_cross_attention_block_empty_context_contributes_nothing(rng):
    block = CrossAttentionBlock(D_MODEL, HEADS, FF, dropout_rate=0.0)
    query = rng.normal(size=(2, 5, D_MODEL)).astype("float32")
    context = rng.normal(size=(2, 7, D_MODEL)).astype("float32")
    other_context = rng.normal(size=(2, 7, D_MODEL)).astype("float32") * JUNK
    out = block(query, context).numpy()
    assert out.shape == (2, 5, D_MODEL)
    # Non-zero biases: with the zero initial biases an attention over
    # all-zero (sanitised) padding would be 0 by accident.
    block.set_weights([0.3 * rng.normal(size=w.shape) for w in block.get_weights()])
    out = block(query, context).numpy()
    # With valid context frames, the context matters.
    assert not np.allclose(block(query, other_context).numpy(), out, atol=1e-3)
    # With no valid context frame (example 1), it must not.
    ctx_mask = np.array([[1, 1, 0, 0, 0, 0, 0], [0] * 7], dtype=bool)
    a = block(query, context, context_mask=ctx_mask).numpy()
    b = block(query, other_context, context_mask=ctx_mask).numpy()
    np.testing.assert_allclose(a[1], b[1], atol=1e-5)
    assert not np.allclose(a[0], b[0], atol=1e-3)
    # ... and the attention term is exactly 0: LN -> FFN of the query alone.
    x = block.attention_norm(query[1:])
    expected = block.ffn_norm(x + block.ffn_output(block.ffn_hidden(x)))
    np.testing.assert_allclose(a[1:], expected.numpy(), atol=1e-5)


def test_cross_modal_fusion_directions(rng):
    text = tf.constant(rng.normal(size=(BATCH, 10, D_MODEL)), tf.float32)
    audio = tf.constant(rng.normal(size=(BATCH, 6, D_MODEL)), tf.float32)
    video = tf.constant(rng.normal(size=(BATCH, 8, D_MODEL)), tf.float32)
    uni = CrossModalFusion(D_MODEL, HEADS, FF, n_layers=2)
    t, a, v = uni(text, audio, video)
    assert (t.shape, a.shape, v.shape) == (text.shape, audio.shape, video.shape)
    assert not np.allclose(t.numpy(), text.numpy())
    np.testing.assert_array_equal(a.numpy(), audio.numpy())
    np.testing.assert_array_equal(v.numpy(), video.numpy())
    bi = CrossModalFusion(D_MODEL, HEADS, FF, n_layers=1, bidirectional=True)
    t, a, v = bi(text, audio, video)
    assert (t.shape, a.shape, v.shape) == (text.shape, audio.shape, video.shape)
    assert not np.allclose(a.numpy(), audio.numpy())
    assert not np.allclose(v.numpy(), video.numpy())
    # 2 directions x 2 layers vs 4 directions x 1 layer of blocks.
    assert len(uni.text_from_audio) == 2 and not hasattr(uni, "audio_from_text")
    assert len(bi.audio_from_text) == 1 and len(bi.video_from_text) == 1


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_adaptive_fusion_head_weights(pooling, rng):
    head = AdaptiveFusionHead(D_MODEL, num_modalities=3, pooling_method=pooling)
    seqs = [rng.normal(size=(BATCH, n, D_MODEL)).astype("float32")
            for n in (10, 6, 8)]
    fused, weights = head(seqs, return_weights=True)
    assert fused.shape == (BATCH, D_MODEL) and weights.shape == (BATCH, 3)
    np.testing.assert_allclose(weights.numpy().sum(axis=1), 1.0, atol=1e-6)

    _, masks = random_batch(rng, lengths=(10, 6, 8))
    fused, weights = head(seqs, masks, return_weights=True)
    weights = weights.numpy()
    present = np.stack([m.any(axis=1) for m in masks], axis=1)
    assert np.all(weights[~present] == 0.0)
    assert np.all(weights[present] > 0.0)
    np.testing.assert_allclose(weights[:3].sum(axis=1), 1.0, atol=1e-6)
    # Example 3 has no valid frame anywhere: no weights, zero vector.
    assert not present[3].any()
    assert np.all(weights[3] == 0.0) and np.all(fused.numpy()[3] == 0.0)


def test_adaptive_fusion_head_pooling_single_modality(rng):
    # With one modality the fusion weight is 1, so the output is the pooled
    # vector itself.
    x = rng.normal(size=(3, 6, D_MODEL)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0, 0], [1] * 6, [0] * 6], dtype=bool)
    mean_head = AdaptiveFusionHead(D_MODEL, num_modalities=1)
    # NaN padding: 0-weighting it is not enough (0 * NaN = NaN).
    nan_padded = np.where(mask[..., None], x, np.nan).astype("float32")
    out = mean_head([nan_padded], [mask]).numpy()
    np.testing.assert_allclose(out[0], x[0, :3].mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(out[1], x[1].mean(axis=0), atol=1e-5)
    np.testing.assert_array_equal(out[2], 0.0)
    # Attention pooling is a convex combination of the valid frames: when
    # they are all equal, it returns that frame whatever the junk.
    same = np.repeat(x[:, :1], 6, axis=1)
    att_head = AdaptiveFusionHead(D_MODEL, num_modalities=1,
                                  pooling_method="attention")
    out = att_head([np.where(mask[..., None], same, np.inf).astype("float32")],
                   [mask]).numpy()
    np.testing.assert_allclose(out[:2], same[:2, 0], atol=1e-5)
    np.testing.assert_array_equal(out[2], 0.0)
    with pytest.raises(ValueError, match="pooling_method"):
        AdaptiveFusionHead(D_MODEL, pooling_method="max")
    with pytest.raises(ValueError, match="expected 1 modality"):
        mean_head([x, x])


def test_adaptive_fusion_head_matches_reference(rng):
    """Mean pooling, present-modality context and weights, in numpy."""
    head = AdaptiveFusionHead(D_MODEL, num_modalities=3)
    seqs = [rng.normal(size=(BATCH, n, D_MODEL)).astype("float32")
            for n in (10, 6, 8)]
    _, masks = random_batch(rng, lengths=(10, 6, 8))
    fused, weights = head(seqs, masks, return_weights=True)
    pooled = np.stack([
        (s * m[..., None]).sum(axis=1) / np.maximum(m.sum(axis=1), 1)[:, None]
        for s, m in zip(seqs, masks)], axis=1)  # (batch, 3, D)
    present = np.stack([m.any(axis=1) for m in masks], axis=1)
    context = pooled.sum(axis=1) / np.maximum(present.sum(axis=1), 1)[:, None]
    logits = head.weight_logits(head.weight_hidden(context)).numpy()
    expected = np.where(present, np.exp(logits - logits.max(axis=1,
                                                             keepdims=True)), 0)
    expected /= np.maximum(expected.sum(axis=1, keepdims=True), 1e-30)
    np.testing.assert_allclose(weights.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(fused.numpy(),
                               (expected[..., None] * pooled).sum(axis=1),
                               atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_fusion_components_padding_invariance(pooling, rng):
    """Fusion + head alone (no encoder zeroing the padding beforehand)."""
    fusion = CrossModalFusion(D_MODEL, HEADS, FF, n_layers=2, bidirectional=True)
    head = AdaptiveFusionHead(D_MODEL, pooling_method=pooling)
    seqs, masks = random_batch(rng, dims=(D_MODEL,) * 3)

    def run(sequences):
        fused = fusion(*sequences, *masks)
        return head(list(fused), masks).numpy()

    clean = run(seqs)
    np.testing.assert_allclose(run(with_junk(seqs, masks, rng)), clean, atol=1e-5)
    np.testing.assert_array_equal(clean[3], 0.0)


def test_fusion_components_float16_inf_in_padding(rng):
    """Junk that overflows to inf in float16 leaves outputs and grads clean."""
    with global_policy("mixed_float16"):
        # No dropout, so that the training=True passes are deterministic.
        fusion = CrossModalFusion(D_MODEL, HEADS, FF, bidirectional=True,
                                  dropout_rate=0.0)
        head = AdaptiveFusionHead(D_MODEL, pooling_method="attention",
                                  dropout_rate=0.0)
        seqs, masks = random_batch(rng, dims=(D_MODEL,) * 3)
        junk = [tf.cast(s, tf.float16)
                for s in with_junk(seqs, masks, rng, scale=1e6)]
        assert not np.all(np.isfinite(junk[0].numpy()))

        def run(sequences):
            with tf.GradientTape() as tape:
                fused = head(list(fusion(*sequences, *masks, training=True)),
                             masks, training=True)
                loss = tf.reduce_sum(tf.cast(fused, tf.float32))
            weights = fusion.trainable_weights + head.trainable_weights
            return fused.numpy(), tape.gradient(loss, weights)

        clean, clean_grads = run(seqs)
        dirty, dirty_grads = run(junk)
    assert clean.dtype == np.float16
    np.testing.assert_array_equal(dirty, clean)
    for clean_grad, dirty_grad in zip(clean_grads, dirty_grads):
        if clean_grad is not None:
            assert np.all(np.isfinite(dirty_grad.numpy()))
            np.testing.assert_array_equal(dirty_grad.numpy(), clean_grad.numpy())


def test_modality_encoder(rng):
    encoder = ModalityEncoder(5, D_MODEL, 10, HEADS, FF, n_layers=2,
                              dropout_rate=0.0)
    (x, _, _), (mask, _, _) = random_batch(rng)
    out = encoder(x, mask=mask).numpy()
    assert out.shape == (BATCH, 10, D_MODEL)
    assert np.all(out[~mask] == 0.0)  # includes the empty example 3
    junk = with_junk([x], [mask], rng)[0]
    np.testing.assert_allclose(encoder(junk, mask=mask).numpy(), out, atol=1e-5)
    with pytest.raises(ValueError, match="features per frame"):
        encoder(tf.zeros((2, 10, 6)))


# Each entry: (factory, call(layer, rng) -> output array).
def _call_block(layer, rng):
    return layer(tf.constant(rng.normal(size=(2, 6, D_MODEL)), tf.float32),
                 mask=np.array([[1] * 6, [1, 1, 0, 0, 0, 0]], bool))


def _call_cross(layer, rng):
    q = tf.constant(rng.normal(size=(2, 6, D_MODEL)), tf.float32)
    c = tf.constant(rng.normal(size=(2, 4, D_MODEL)), tf.float32)
    return layer(q, c, context_mask=np.array([[1, 1, 1, 0], [1, 0, 0, 0]], bool))


def _call_fusion(layer, rng):
    seqs = [tf.constant(rng.normal(size=(2, n, D_MODEL)), tf.float32)
            for n in (6, 4, 5)]
    return tf.concat(layer(*seqs), axis=1)


def _call_head(layer, rng):
    seqs = [tf.constant(rng.normal(size=(2, n, D_MODEL)), tf.float32)
            for n in (6, 4, 5)]
    return layer(seqs)


LAYER_CASES = {
    "positional": (lambda: LearnablePositionalEmbedding(8, D_MODEL),
                   lambda layer, rng: layer(tf.zeros((2, 6, D_MODEL)))),
    "transformer": (lambda: TransformerBlock(D_MODEL, HEADS, FF, 0.2), _call_block),
    "cross": (lambda: CrossAttentionBlock(D_MODEL, HEADS, FF, 0.0), _call_cross),
    "fusion": (lambda: CrossModalFusion(D_MODEL, HEADS, FF, 2, True, 0.0),
               _call_fusion),
    "head": (lambda: AdaptiveFusionHead(D_MODEL, 3, "attention", 0.3), _call_head),
    "encoder": (lambda: ModalityEncoder(5, D_MODEL, 8, HEADS, FF, 1, 0.0),
                lambda layer, rng: layer(tf.ones((2, 6, 5)))),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_config_round_trip(case):
    factory, call = LAYER_CASES[case]
    layer = factory()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    out = call(layer, np.random.default_rng(1))
    call(clone, np.random.default_rng(1))  # builds the weights
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(
        call(clone, np.random.default_rng(1)).numpy(), out.numpy())


# ----------------------------------------------------------------- model

def test_model_outputs_and_input_validation(rng):
    model = make_model()
    seqs, masks = random_batch(rng)
    for inputs in (seqs, tuple(seqs), seqs + masks):
        out = model(inputs)
        assert out.shape == (BATCH, 1) and out.dtype == tf.float32
    for bad in (seqs[:2], seqs + masks[:1], seqs[0]):
        with pytest.raises(ValueError, match="3 sequences"):
            model(bad)


def test_model_uses_explicit_and_inferred_masks(rng):
    model = make_model(bidirectional_fusion=True)
    seqs, masks = random_batch(rng, empty=())
    # Inferred masks (all-zero frames are padding) match explicit ones.
    np.testing.assert_allclose(model(seqs).numpy(), model(seqs + masks).numpy(),
                               atol=1e-6)
    # Explicit masks are honoured: hiding frames changes the output, and so
    # do 0/1 float masks, which behave like bool masks.
    full = [np.ones_like(m) for m in masks]
    fewer = [m.copy() for m in full]
    fewer[0][:, 5:] = False
    fewer[1][:, :2] = False
    out_full = model(seqs + full).numpy()
    out_fewer = model(seqs + fewer).numpy()
    assert np.abs(out_full - out_fewer).max() > 1e-4
    np.testing.assert_allclose(
        model(seqs + [m.astype("float32") for m in fewer]).numpy(), out_fewer)
    np.testing.assert_allclose(
        model(seqs + [m.astype("int64") for m in fewer]).numpy(), out_fewer)


def test_model_summary_after_call(rng):
    model = make_model()
    model(random_batch(rng)[0])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for name in ("text_encoder", "audio_encoder", "video_encoder", "fusion_head"):
        assert name in text


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_model_mixed_precision(policy, rng):
    with global_policy(policy):
        model = make_model(bidirectional_fusion=True, pooling_method="attention")
        seqs, masks = random_batch(rng)
        with tf.GradientTape() as tape:
            out = model(seqs + masks, training=True)
            loss = tf.reduce_mean(tf.square(out))
        grads = tape.gradient(loss, model.trainable_weights)
        junk_out = model(with_junk(seqs, masks, rng, scale=1e6) + masks)
        clean_out = model(seqs + masks)
        inferred_out = model(seqs)
    assert model.text_encoder.compute_dtype == policy.split("_")[1]
    assert out.dtype == tf.float32 and out.shape == (BATCH, 1)
    assert np.all(np.isfinite(out.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)
    # 1e6 junk is inf in float16: it still must not reach the output.
    np.testing.assert_array_equal(junk_out.numpy(), clean_out.numpy())
    np.testing.assert_array_equal(inferred_out.numpy(), clean_out.numpy())
    assert tf.keras.mixed_precision.global_policy().name == "float32"


def test_short_fit_lowers_mae(rng):
    n = 64
    seqs, masks = random_batch(rng, batch=n, empty=())
    # A learnable target: mean of the first text feature over valid frames.
    text, text_mask = seqs[0], masks[0]
    target = 3.0 * (text[..., 0].sum(axis=1) / text_mask.sum(axis=1))
    target = target[:, None].astype("float32")
    model = make_model(seq_len=(10, 6, 8), n_layers_mod=1)
    # Eager: on a 2-core CPU tracing this graph costs more than the 32 steps
    # (graph mode is covered by test_model_in_tf_function_dynamic_lengths).
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss="mae",
                  run_eagerly=True)
    inputs = tuple(seqs + masks)
    before = model.evaluate(inputs, target, batch_size=n, verbose=0)
    model.fit(inputs, target, batch_size=16, epochs=8, shuffle=True, verbose=0)
    after = model.evaluate(inputs, target, batch_size=n, verbose=0)
    assert after < 0.5 * before, (before, after)


def test_model_in_tf_function_dynamic_lengths(rng):
    """Graph mode with unknown batch size and lengths, as in serving."""
    model = make_model(bidirectional_fusion=True, pooling_method="attention")
    spec = ([tf.TensorSpec((None, None, d), tf.float32) for d in DIMS]
            + [tf.TensorSpec((None, None), tf.bool)] * 3)
    serve = tf.function(lambda *args: model(list(args), training=False),
                        input_signature=spec)
    batches = [random_batch(rng, lengths=n) for n in ((10, 6, 8), (7, 3, 5))]
    # Build the weights eagerly first; creating them inside the tf.function
    # would make it trace twice.
    expected = [model(seqs + masks).numpy() for seqs, masks in batches]
    for (seqs, masks), want in zip(batches, expected):
        np.testing.assert_allclose(serve(*seqs, *masks).numpy(), want, atol=1e-5)


CONFIGS = [
    dict(bidirectional_fusion=False, pooling_method="mean", n_layers_fuse=1,
         seq_len=10),
    dict(bidirectional_fusion=True, pooling_method="attention", n_layers_fuse=2,
         seq_len=(10, 6, 8)),
    dict(bidirectional_fusion=True, pooling_method="mean", n_layers_fuse=1,
         seq_len={"text": 10, "audio": 6, "video": 8}),
    dict(bidirectional_fusion=False, pooling_method="attention", n_layers_fuse=2,
         seq_len=(12, 6, 8)),
]
CONFIG_IDS = ["uni-mean-1-int", "bi-attn-2-tuple", "bi-mean-1-dict",
              "uni-attn-2-tuple"]


def _lengths(seq_len):
    if isinstance(seq_len, int):
        return (seq_len,) * 3
    if isinstance(seq_len, dict):
        return tuple(seq_len[m] for m in ("text", "audio", "video"))
    return tuple(seq_len)


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_model_configurations_and_round_trip(config, rng):
    model = make_model(**config)
    lengths = _lengths(config["seq_len"])
    for encoder, length in zip(
            (model.text_encoder, model.audio_encoder, model.video_encoder),
            lengths):
        assert encoder.seq_len == length
    # Inputs shorter than the maximum lengths are fine too.
    for in_lengths in (lengths, tuple(n - 2 for n in lengths)):
        seqs, masks = random_batch(rng, lengths=in_lengths)
        out = model(seqs + masks)
        assert out.shape == (BATCH, 1) and out.dtype == tf.float32
    assert model.text_encoder.position.position_embedding.shape == (lengths[0],
                                                                     D_MODEL)
    assert model.audio_encoder.position.position_embedding.shape == (lengths[1],
                                                                      D_MODEL)
    config_out = model.get_config()
    clone = MSASeqLevelModel.from_config(config_out)
    assert clone.get_config() == config_out
    clone(seqs + masks)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(seqs + masks).numpy(),
                                  model(seqs + masks).numpy())
    with pytest.raises(ValueError, match="exceeds seq_len"):
        model(random_batch(rng, lengths=(lengths[0] + 1,) + lengths[1:])[0])


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_model_padding_invariance(config, rng):
    model = make_model(**config)
    seqs, masks = random_batch(rng, lengths=_lengths(config["seq_len"]))
    clean = model(seqs + masks, training=False).numpy()
    for _ in range(2):
        junk = model(with_junk(seqs, masks, rng) + masks, training=False).numpy()
        np.testing.assert_allclose(junk, clean, atol=1e-5)
    # Example 3 has no valid frame at all: fused vector 0 -> regressor bias.
    bias = model.regressor.bias.numpy()
    np.testing.assert_allclose(clean[3], bias, atol=1e-6)


@pytest.mark.parametrize("seq_len", [0, (10, 6), {"text": 4, "audio": 4},
                                     (10, 6, 2.5), True])
def test_model_rejects_bad_seq_len(seq_len):
    with pytest.raises(ValueError, match="seq_len"):
        make_model(seq_len=seq_len)
