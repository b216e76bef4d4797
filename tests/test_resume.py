"""A Trainer stopped at any moment resumes from its last finished epoch and
ends with exactly the model an uninterrupted run trains.

Runs the Trainer's own ``trainer.training.loop.train`` (recipe, callbacks, seeded data order)
on a small in-memory set; the stop is a KeyboardInterrupt raised from
inside training, as Ctrl-C would, after or in the middle of an epoch.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import tensorflow as tf

from tests.learnability_data import DIMS, L, make_split
from trainer.core.config import TrainerConfig
from trainer.training import checkpointing, loop

pytestmark = pytest.mark.slow

EPOCHS = 4


@pytest.fixture(scope="module")
def splits():
    rng = np.random.default_rng(3)
    u = rng.normal(size=DIMS["text"])
    u /= np.linalg.norm(u)
    return [tf.data.Dataset.from_tensor_slices(make_split(rng, n, u)) for n in (256, 64)]


def _train(splits, resume_dir, schedule="cosine", **settings):
    train_ds, valid_ds = splits
    config = TrainerConfig(dims=DIMS, max_lens={m: L for m in DIMS}, batch_size=32,
                           lr_schedule=schedule, min_epochs=0,
                           **settings).resolve_alignment(True)
    steps = EPOCHS * 256 // 32
    result = loop.train(config, train_ds, valid_ds, 256, steps, "", str(resume_dir))
    return result.model.get_weights(), result.history, result.resumed_from


# Stopped half-way through epoch 3 under the plateau schedule, whose warmup
# and plateau callbacks carry the most state (the cosine schedule's state is
# the optimizer's step count, in the checkpoint either way). Each case costs
# three model builds, so there is one.
@pytest.mark.parametrize("schedule, stop_at, mid_epoch", [("plateau", 2, True)])
def test_resumed_training_equals_uninterrupted(splits, tmp_path, monkeypatch, schedule,
                                               stop_at, mid_epoch):
    weights, history, resumed = _train(splits, tmp_path / "a", schedule)
    assert resumed == 0

    original_end = checkpointing.EpochCheckpoint.on_epoch_end
    batches = {"n": 0}

    def stop_after(self, epoch, logs=None):
        original_end(self, epoch, logs)
        if epoch + 1 == stop_at and not mid_epoch:
            raise KeyboardInterrupt("SIGINT")

    def stop_in_batch(self, batch, logs=None):
        batches["n"] += 1
        if batches["n"] == stop_at * 8 + 4:
            raise KeyboardInterrupt("SIGINT")

    monkeypatch.setattr(checkpointing.EpochCheckpoint, "on_epoch_end", stop_after)
    if mid_epoch:
        monkeypatch.setattr(checkpointing.EpochCheckpoint, "on_train_batch_end", stop_in_batch,
                            raising=False)
    with pytest.raises(KeyboardInterrupt):
        _train(splits, tmp_path / "b", schedule)
    monkeypatch.undo()

    resumed_weights, resumed_history, resumed = _train(splits, tmp_path / "b", schedule)
    assert resumed == stop_at
    assert resumed_history.keys() == history.keys()
    for key in history:
        np.testing.assert_allclose(resumed_history[key], history[key], rtol=0, atol=1e-6,
                                   err_msg=key)
    for got, want in zip(resumed_weights, weights):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_resume_folder_is_keyed_by_inputs_and_settings(tmp_path):
    def args(**changes):
        base = dict(train_files=["t/*"], eval_files=["v/*"], transform_output="g",
                    custom_config={"seed": 0}, train_steps=10,
                    model_run_dir=str(tmp_path / "Trainer" / "model_run" / "7"))
        base.update(changes)
        return types.SimpleNamespace(**base)

    first = checkpointing.resume_dir(args())
    assert first.startswith(str(tmp_path / "Trainer" / "_resume"))
    # another execution of the same inputs (a rerun) finds the same folder
    assert checkpointing.resume_dir(args(model_run_dir=str(tmp_path / "Trainer" / "model_run"
                                                           / "9"))) == first
    for change in (dict(train_files=["u/*"]), dict(transform_output="h"),
                   dict(custom_config={"seed": 1}), dict(train_steps=11)):
        assert checkpointing.resume_dir(args(**change)) != first


def test_a_checkpoint_of_another_model_structure_is_not_read(splits, tmp_path):
    """The code changed between an interrupted run and its rerun (same inputs and settings,
    so the same resume folder): the new model trains from the first epoch, no error."""
    resume = tmp_path / "resume"
    _, _, resumed = _train(splits, resume, model_dim=8, num_heads=2)
    assert resumed == 0 and any(resume.iterdir())  # its checkpoint stays behind
    weights, _, resumed = _train(splits, resume, model_dim=12, num_heads=2)
    assert resumed == 0
    assert all(np.all(np.isfinite(w)) for w in weights)
    # the same structure again does find its own checkpoint
    _, _, resumed = _train(splits, resume, model_dim=8, num_heads=2)
    assert resumed == EPOCHS
