"""Warm start refuses weight files it cannot trust, in one line, and trains from scratch.

Real files written by ``warm_start.save`` and then damaged the ways a disk
or an interrupted copy damages them; a tiny real Keras model loads them.
"""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from trainer.core import divergence
from trainer.core.config import TrainerConfig


def _model(**settings):
    from trainer.training.keras_model import build_keras_model

    config = TrainerConfig(architecture="text_only", num_heads=2, model_dim=16, **settings) \
        .resolve_alignment(True)
    return build_keras_model(config, "float32"), config


def _with_arrays(edit):
    """Rewrites weights.npz with ``edit(list of arrays)``."""
    def damage(npz_path, json_path):
        with open(npz_path, "rb") as f:
            arrays = np.load(io.BytesIO(f.read()))
            weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        edit(weights)
        with open(npz_path, "wb") as f:
            np.savez(f, *weights)
    return damage


def _truncate(which):
    def damage(npz_path, json_path):
        path = npz_path if which == "npz" else json_path
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
    return damage


def _set_nan(weights):
    weights[0].flat[0] = np.nan


def _set_inf(weights):
    weights[-1].flat[-1] = np.inf


def _wrong_shape(weights):
    weights[0] = weights[0][:-1]


def _wrong_dtype(weights):
    weights[0] = weights[0].astype(np.float64)


def _one_missing(weights):
    weights.pop()


def _shapes_not_a_list(npz_path, json_path):
    with open(json_path, "w") as f:
        json.dump({"architecture": "text_only", "shapes": "16x300"}, f)


def _weights_deleted(npz_path, json_path):
    os.remove(npz_path)


@pytest.mark.parametrize("damage, file, problem", [
    (_with_arrays(_set_nan), "weights.npz", "non-finite values"),
    (_with_arrays(_set_inf), "weights.npz", "non-finite values"),
    (_truncate("npz"), "weights.npz", "not a complete .npz archive"),
    (_truncate("json"), "weights.json", "not complete JSON"),
    (_with_arrays(_wrong_shape), "weights.npz", "has shape"),
    (_with_arrays(_wrong_dtype), "weights.npz", "is float64, expected float32"),
    (_with_arrays(_one_missing), "weights.npz", "arrays, expected"),
    (_shapes_not_a_list, "weights.json", "a list of 'shapes'"),
    (_weights_deleted, "weights.npz", "missing"),
])
def test_a_damaged_weight_file_is_one_line_and_nothing_is_loaded(tmp_path, damage, file,
                                                                 problem):
    from trainer.training import warm_start

    base, config = _model()
    serving = str(tmp_path / "model" / "Format-Serving")
    warm_start.save(base, config, serving)
    folder = warm_start.folder_for(serving)
    damage(os.path.join(folder, warm_start.WEIGHTS_FILE),
           os.path.join(folder, warm_start.META_FILE))

    fresh, fresh_config = _model()
    before = [w.copy() for w in fresh.get_weights()]
    loaded, message = warm_start.apply(fresh, fresh_config, serving)
    assert not loaded
    assert "\n" not in message and message.endswith("training from scratch"), message
    assert os.path.join(folder, file) in message and problem in message, message
    for got, want in zip(fresh.get_weights(), before):  # untouched: a fresh start
        np.testing.assert_array_equal(got, want)


def test_training_that_diverged_fails_in_one_line():
    good = [np.zeros((2, 2), np.float32)]
    divergence.check({"loss": [1.0, 0.5], "val_loss": [1.1, 0.9]}, good)
    with pytest.raises(divergence.TrainingDiverged, match=r"loss nan at epoch 2"):
        divergence.check({"loss": [1.0, float("nan")]}, good)
    with pytest.raises(divergence.TrainingDiverged, match=r"val_loss inf at epoch 1"):
        divergence.check({"loss": [1.0], "val_loss": [float("inf")]}, good)
    bad = [np.zeros(3, np.float32), np.array([1.0, np.nan], np.float32)]
    with pytest.raises(divergence.TrainingDiverged) as err:
        divergence.check({"loss": [1.0]}, bad, ["dense/bias:0", "out/kernel:0"])
    assert "1 non-finite values in out/kernel:0" in str(err.value)
    assert "\n" not in str(err.value)


# --- the Trainer's own loop (trainer.training.loop.train) on a small in-memory set ---

def _splits():
    import tensorflow as tf

    from tests.learnability_data import DIMS, make_split

    rng = np.random.default_rng(5)
    u = rng.normal(size=DIMS["text"])
    u /= np.linalg.norm(u)
    return [tf.data.Dataset.from_tensor_slices(make_split(rng, n, u)) for n in (64, 32)]


def _loop_config(**settings):
    from tests.learnability_data import DIMS, L

    return TrainerConfig(dims=DIMS, max_lens={m: L for m in DIMS}, batch_size=32,
                         architecture="text_only", model_dim=16, num_heads=2,
                         **settings).resolve_alignment(True)


def test_the_loop_trains_from_scratch_past_nan_base_weights(tmp_path, caplog):
    import logging

    from trainer.training import loop, warm_start

    train_ds, valid_ds = _splits()
    config = _loop_config(warm_start=True)
    base = loop.train(config, train_ds, valid_ds, 64, 4, "", log_epochs=False).model
    serving = str(tmp_path / "base" / "Format-Serving")
    warm_start.save(base, config, serving)
    npz = os.path.join(warm_start.folder_for(serving), warm_start.WEIGHTS_FILE)
    _with_arrays(_set_nan)(npz, None)

    with caplog.at_level(logging.INFO):
        result = loop.train(config, train_ds, valid_ds, 64, 4, "", base_model=serving,
                            warm=True, log_epochs=False)
    lines = [r.getMessage() for r in caplog.records if "warm start" in r.getMessage()]
    assert len(lines) == 1 and npz in lines[0] and "training from scratch" in lines[0], lines
    assert "warm_start_val_mae" not in result.history  # nothing was loaded
    divergence.check(result.history, result.model.get_weights())  # finite: a good model


def test_the_loop_stops_at_the_first_nan_and_the_check_fails_it():
    from trainer.training import loop

    train_ds, valid_ds = _splits()
    result = loop.train(_loop_config(learning_rate=1e30), train_ds, valid_ds, 64, 20, "",
                        log_epochs=False)
    losses = result.history["loss"]  # 20 steps of 2 per epoch: 10 epochs planned
    # TerminateOnNaN: training ends in the first epoch with a NaN loss
    assert np.isnan(losses[-1]) and np.isfinite(losses[:-1]).all() and len(losses) < 10, losses
    with pytest.raises(divergence.TrainingDiverged, match="training diverged"):
        divergence.check(result.history, result.model.get_weights())
