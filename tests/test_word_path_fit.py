"""--word-path-fit: the word-level path on its own loss, or fitted jointly with the rest."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from trainer.core.config import TrainerConfig
from trainer.models.tracing import StepsWithoutAutograph
from trainer.training.keras_model import WordPathOnItsOwnLoss, build_keras_model

LENGTH, BATCH = 6, 8


def _config(fit: str) -> TrainerConfig:
    return TrainerConfig(model_dim=8, num_heads=2, ff_dim=8, dropout_rate=0.0,
                         max_lens={m: LENGTH for m in ("text", "audio", "video")},
                         word_path_fit=fit).resolve_alignment(True)


def _batch(config: TrainerConfig):
    rng = np.random.default_rng(0)
    x = {m: rng.normal(size=(BATCH, LENGTH, config.dims[m])).astype(np.float32)
         for m in ("text", "audio", "video")}
    x.update({f"{m}_mask": np.ones((BATCH, LENGTH), np.int64) for m in ("text", "audio", "video")})
    return x, rng.normal(size=(BATCH, 1)).astype(np.float32)


def _step(fit: str, sequence_bias: float) -> dict:
    """Weights by name after one SGD step from the same start, the sequence-level
    score shifted by ``sequence_bias`` (its regressor's bias)."""
    config = _config(fit)
    tf.keras.utils.set_random_seed(0)
    model = build_keras_model(config)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss=tf.keras.losses.Huber())
    model.get_layer("msa_seq_level").regressor.bias.assign([sequence_bias])
    x, y = _batch(config)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    return {v.name: v.numpy() for v in model.weights}


def _split(weights: dict):
    word = {k: v for k, v in weights.items()
            if any(part in k for part in ("word_level", "word_context", "word_regressor"))}
    rest = {k: v for k, v in weights.items() if k not in word and "regressor/bias" not in k}
    assert word and rest
    return word, rest


@pytest.mark.parametrize("fit", ["label", "joint"])
def test_what_the_word_path_learns_from(fit):
    """label: the word-level path's update does not depend on the sequence-level
    score (it fits the label on its own loss); joint: it does (it fits the
    summed prediction). The sequence-level path fits the sum in both."""
    word_a, rest_a = _split(_step(fit, 0.0))
    word_b, rest_b = _split(_step(fit, 2.0))
    word_same = all(np.array_equal(word_a[k], word_b[k]) for k in word_a)
    assert word_same is (fit == "label")
    assert not all(np.array_equal(rest_a[k], rest_b[k]) for k in rest_a)


def test_the_default_trains_the_word_path_on_its_own_loss_and_predicts_the_sum():
    config = _config("label")
    assert TrainerConfig().word_path_fit == "label"
    model = build_keras_model(config)
    assert type(model) is WordPathOnItsOwnLoss
    x, _ = _batch(config)
    core = model.get_layer("msa_seq_level")
    sequence_score, word_score = core.scores(
        tuple(x[k] for k in ("text", "audio", "video", "text_mask", "audio_mask", "video_mask")))
    np.testing.assert_allclose(model(x).numpy(), (sequence_score + word_score).numpy(),
                               rtol=1e-6)
    # Nothing to fit on its own without the word-level path, or with joint fitting.
    for other in (_config("joint"), TrainerConfig(
            model_dim=8, num_heads=2, ff_dim=8, word_fusion="off").resolve_alignment(True),
            TrainerConfig(architecture="pooled").resolve_alignment(True)):
        assert type(build_keras_model(other)) is StepsWithoutAutograph
    with pytest.raises(ValueError, match="word_path_fit"):
        TrainerConfig(word_path_fit="residual")
