"""The default architecture learns a same-word cross-modal interaction; pooling cannot.

A small seeded set, built here: each segment has 4-10 word-aligned steps and
two "cue" words whose sentiment value c_t lies along one text direction. The
label is ``sum_t c_t * (2 e_t - 1)`` plus a little noise, where ``e_t`` is an
audio cue at the *same* step: the audio decides each cue word's sign. The
text alone, and any summary of each modality pooled over time, carries no
information about the label's sign, so the ``pooled`` baseline stays near the
constant predictor, while a model that fuses word by word can recover it.
Both train with the production recipe (TrainerConfig defaults) on the same
arrays.

The unaligned variant has the same words and labels, with audio at about 2
and video at about 3 frames a word (word durations varying, no timing in the
features): the default's word-level path must find each word's frames itself
(segmental alignment).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.learnability_data import (
    DIMS,
    UNALIGNED_LENS,
    L,
    make_split,
    make_unaligned_split,
)
from trainer.core.config import TrainerConfig
from trainer.training.keras_model import build_keras_model, compile_model

pytestmark = pytest.mark.slow

STEPS = 700
BATCH = 32
# The default must beat pooled by at least this factor of test MAE.
MARGIN = 0.6
# The same on unaligned data (measured: 0.41 with the segmental alignment,
# 0.47 against pooled's 1.16; 0.56 with the soft one; the alignment is
# learned, and a word whose frames straddle two words' times stays ambiguous).
UNALIGNED_MARGIN = 0.7


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    u = rng.normal(size=DIMS["text"])
    u /= np.linalg.norm(u)
    return [make_split(rng, n, u) for n in (800, 200, 400)]


@pytest.fixture(scope="module")
def unaligned_data():
    rng = np.random.default_rng(7)
    u = rng.normal(size=DIMS["text"])
    u /= np.linalg.norm(u)
    return [make_unaligned_split(rng, n, u) for n in (800, 200, 400)]


def fit_and_score(architecture, data, aligned=True):
    (x, y), (xv, yv), (xt, yt) = data
    lengths = {m: L for m in DIMS} if aligned else UNALIGNED_LENS
    config = TrainerConfig(architecture=architecture, dims=DIMS,
                           max_lens=lengths).resolve_alignment(aligned)
    tf.keras.utils.set_random_seed(0)
    model = build_keras_model(config)
    compile_model(model, config, "float32", total_steps=STEPS)
    per_epoch = -(-len(y) // BATCH)
    model.fit(x, y, batch_size=BATCH, epochs=STEPS // per_epoch, validation_data=(xv, yv),
              verbose=0)
    return float(np.mean(np.abs(model.predict(xt, verbose=0)[:, 0] - yt)))


def test_default_architecture_beats_pooled_on_a_same_step_interaction(data):
    (_, y), _, (_, yt) = data
    constant = float(np.mean(np.abs(yt - y.mean())))
    default = fit_and_score("seq_level", data)
    pooled = fit_and_score("pooled", data)
    # Pooling cannot see which word co-occurs with which cue: ~ the constant.
    assert pooled > 0.8 * constant, (pooled, constant)
    assert default < MARGIN * pooled, (default, pooled, constant)


def test_default_architecture_learns_the_interaction_from_unaligned_frames(unaligned_data):
    (_, y), _, (_, yt) = unaligned_data
    constant = float(np.mean(np.abs(yt - y.mean())))
    default = fit_and_score("seq_level", unaligned_data, aligned=False)
    pooled = fit_and_score("pooled", unaligned_data, aligned=False)
    assert pooled > 0.8 * constant, (pooled, constant)
    assert default < UNALIGNED_MARGIN * pooled, (default, pooled, constant)
