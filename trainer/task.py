"""The Trainer's ``run_fn``: train the configured model on Transform's output.

The loop itself is :func:`trainer.training.loop.train`; this module reads
the Trainer's inputs, exports the model and writes the summary.

Writes to the Trainer's artifacts:
* ``serving_model_dir``: the float32 serving SavedModel (see export.py);
* ``model_run_dir``: TensorBoard logs and ``training_summary.json``
  (the resolved settings, epochs, best epoch, validation loss, training
  throughput).

Training is deterministic: the same seed, data and settings on the same
machine give the same weights (op determinism, seeded shuffling, dropout
from checkpointed generators). Every epoch is checkpointed
(``trainer/training/checkpointing.py``), so a Trainer killed at epoch k resumes there
on the next run of the same inputs and ends with the same model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer.core import divergence, search_space
from trainer.core.config import TrainerConfig
from trainer.export import export_serving_model
from trainer.training import checkpointing, data, warm_start
from trainer.training.loop import train

SUMMARY_FILE = "training_summary.json"


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor)."""
    config = TrainerConfig.from_dict(fn_args.custom_config or {})
    tuned = search_space.best_values(fn_args.hyperparameters)
    if tuned:  # the Tuner's best hyperparameters replace the runner's settings
        config = dataclasses.replace(config, **tuned)
        logging.info("Trainer: using the Tuner's best hyperparameters %s", tuned)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    config = dataclasses.replace(config, max_lens=data.transformed_lengths(tf_transform_output))
    train_ds, valid_ds, train_size = data.read_train_and_valid(
        fn_args, tf_transform_output, "Trainer")
    aligned = data.is_word_aligned(train_ds)
    config = config.resolve_alignment(aligned)
    logging.info("Trainer: data %s word-aligned; shared_positions %s, word_fusion %s, "
                 "word_alignment %s", "is" if aligned else "is not", config.shared_positions,
                 config.word_fusion, config.word_alignment)

    started = time.perf_counter()
    resume_dir = checkpointing.resume_dir(fn_args)
    result = train(config, train_ds, valid_ds, train_size, fn_args.train_steps,
                   fn_args.model_run_dir, resume_dir, base_model=fn_args.base_model,
                   warm=config.warm_start)
    model, history = result.model, result.history
    train_seconds = time.perf_counter() - started
    # NaN weights must fail here (and so never be cached), not at the Evaluator;
    # their checkpoints go too, so a rerun does not resume into them.
    try:
        divergence.check(history, model.get_weights(), [w.name for w in model.weights])
    except divergence.TrainingDiverged:
        checkpointing.EpochCheckpoint(resume_dir, []).clear()
        raise
    export_serving_model(model, config, tf_transform_output, fn_args.serving_model_dir)
    warm_start.save(model, config, fn_args.serving_model_dir)

    val_loss = history.get("val_loss", [])
    summary = {
        "policy": result.policy,
        "jit_compile": bool(model.jit_compile),  # XLA train steps (--jit-compile)
        "word_aligned_data": aligned,
        "parameters": int(model.count_params()),
        "train_examples": train_size,
        "epochs_run": len(history.get("loss", [])),
        "resumed_from_epoch": result.resumed_from,
        "best_epoch": int(np.argmin(val_loss)) + 1 if val_loss else None,
        "best_val_loss": float(np.min(val_loss)) if val_loss else None,
        "train_seconds": round(train_seconds, 2),
        "train_examples_per_sec": result.meter.steady_state(),
        "train_examples_per_sec_by_epoch": result.meter.per_epoch,
        "history": {k: [float(v) for v in history[k]] for k in (
            "mae", "val_mae", "loss", "val_loss", "warm_start_val_mae") if k in history},
        "tuned_hyperparameters": tuned,
        "base_model": fn_args.base_model if config.warm_start else None,
        "config": config.to_dict(),
    }
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, SUMMARY_FILE), "w") as f:
        json.dump(summary, f, indent=2)
    checkpointing.EpochCheckpoint(resume_dir, []).clear()  # exported: nothing to resume
