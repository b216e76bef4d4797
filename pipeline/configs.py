"""Pipeline constants: names, entry points and defaults shared by the runners."""

from __future__ import annotations

import os

PIPELINE_NAME = "msa-seq-level"

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_PATH = os.path.join(REPO_ROOT, "schema", "schema.pbtxt")
# The pinned lock this environment is installed from (Makefile's LOCK).
ENVIRONMENT_LOCK = os.path.join(REPO_ROOT, "requirements", "tfx-1.16-py311.lock.txt")

# User code goes in by dotted path: Beam workers and the container image
# import the installed package instead of a module file staged per run.
PREPROCESSING_FN = "trainer.transform.preprocessing.preprocessing_fn"
RUN_FN = "trainer.task.run_fn"
TUNER_FN = "trainer.tuning.tuner_fn"
CUSTOM_METRICS_MODULE = "trainer.metrics.tfma_metrics"

# Local defaults (local_runner.py); every one is a flag there.
DEFAULT_DATA_ROOT = os.path.join(REPO_ROOT, "data", "synthetic-mosi")
DEFAULT_OUTPUT_DIR = os.path.join(REPO_ROOT, "outputs")
TRAIN_STEPS = 2400
# --preset seed: the seed's "up to 100 epochs", as steps: 100 passes over
# CMU-MOSI's 1284 train segments at batch 32 (41 steps each).
SEED_TRAIN_STEPS = 4100
EVAL_SPLIT = "test"
# --tune: trials of the search. Each trial trains for the run's own step
# budget unless --tune-steps says otherwise: shorter trials rank settings by
# how fast they learn, not by where they end (measured in docs/model.md).
TUNE_TRIALS = 6

# Blessing: MAE may exceed the last blessed model's by at most this much.
MAE_CHANGE_TOLERANCE = 0.02


def pipeline_root(output_dir: str) -> str:
    return os.path.join(output_dir, "pipeline_root")


def metadata_path(output_dir: str) -> str:
    return os.path.join(output_dir, "metadata.sqlite")


def serving_dir(output_dir: str) -> str:
    return os.path.join(output_dir, "serving_model")
