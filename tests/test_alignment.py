"""SoftWordAlignment (trainer/models/alignment.py): frames pooled onto word steps."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from trainer.models.alignment import SoftWordAlignment


def _masks(lengths, width):
    return (np.arange(width)[None, :] < np.asarray(lengths)[:, None]).astype("int64")


def test_word_aligned_frames_map_step_to_step(rng):
    words = rng.normal(size=(2, 6, 5)).astype("float32")
    frames = rng.normal(size=(2, 6, 3)).astype("float32")
    mask = _masks([6, 4], 6)
    out = SoftWordAlignment(8)(words, frames, mask, mask).numpy()
    want = frames * mask[..., None]
    # Each neighbour keeps exp(-8) = 3e-4 of the weight.
    np.testing.assert_allclose(out, want, atol=5e-3)


def test_unaligned_frames_go_to_the_word_at_the_same_relative_time(rng):
    # 3 words, 6 frames (2 a word): word t takes the mean of frames 2t and 2t + 1.
    words = rng.normal(size=(1, 3, 4)).astype("float32")
    frames = np.arange(6, dtype="float32").reshape(1, 6, 1)
    out = SoftWordAlignment(4)(words, frames, _masks([3], 3), _masks([6], 6)).numpy()
    np.testing.assert_allclose(out[0, :, 0], [0.5, 2.5, 4.5], atol=0.05)


def test_padding_is_never_read_and_empty_inputs_give_zeros(rng):
    layer = SoftWordAlignment(4)
    words = rng.normal(size=(3, 4, 4)).astype("float32")
    frames = rng.normal(size=(3, 8, 2)).astype("float32")
    word_mask, frame_mask = _masks([4, 2, 3], 4), _masks([8, 5, 0], 8)
    out = layer(words, frames, word_mask, frame_mask).numpy()
    poisoned = np.where(frame_mask[..., None] == 1, frames, np.float32(1e30))
    np.testing.assert_array_equal(layer(words, poisoned, word_mask, frame_mask).numpy(), out)
    assert np.all(out[1, 2:] == 0)  # padded words
    assert np.all(out[2] == 0)  # a segment without frames
    assert np.all(np.isfinite(out))


def test_the_width_and_shift_are_learned():
    layer = SoftWordAlignment(4)
    words = tf.ones((1, 3, 4))
    frames = tf.reshape(tf.range(6, dtype=tf.float32), (1, 6, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(words, frames, _masks([3], 3), _masks([6], 6)))
    grads = dict(zip([v.name.split("/")[-1] for v in layer.trainable_variables],
                     tape.gradient(loss, layer.trainable_variables)))
    assert {"raw_width:0", "shift:0"} <= set(grads)
    assert float(tf.abs(grads["shift:0"])) > 0


def test_config_round_trip_and_mixed_precision(rng):
    layer = SoftWordAlignment(6, name="a")
    clone = SoftWordAlignment.from_config(layer.get_config())
    assert clone.key_dim == 6 and clone.name == "a"
    policy = tf.keras.mixed_precision.Policy("mixed_float16")
    half = SoftWordAlignment(4, dtype=policy)
    frames = tf.cast(rng.normal(size=(1, 5, 2)), tf.float16)
    out = half(tf.cast(rng.normal(size=(1, 3, 4)), tf.float16), frames, _masks([3], 3),
               _masks([5], 5))
    assert out.dtype == tf.float16 and np.all(np.isfinite(out.numpy()))
    with pytest.raises(ValueError, match="key_dim"):
        SoftWordAlignment(0)
