"""The Trainer's progress lines: one per epoch, and one per tuning trial.

The Trainer (trainer/task.py, trainer/tuning.py) logs them with these
formats, and the local runner's console (pipeline/console.py) reads them
back with these patterns, so both sides are defined here, without
TensorFlow (the console imports this before any library is loaded).
Under Kubeflow they are ordinary log lines.
"""

from __future__ import annotations

import re

EPOCH_FORMAT = "Trainer: epoch %d/%d  train MAE %.4f  val MAE %.4f  %.1f s"
EPOCH_PATTERN = re.compile(
    r"Trainer: epoch (\d+)/(\d+)  train MAE (\S+)  val MAE (\S+)  (\S+) s")
TRIAL_FORMAT = "Tuner: trial %d/%d  val MAE %.4f  %.1f s  %s"
TRIAL_PATTERN = re.compile(r"Tuner: trial (\d+)/(\d+)  val MAE (\S+)  (\S+) s  (.*)")
# Warm-start outcomes (trainer/training/warm_start.py) and tuned settings, shown as they are.
NOTICE_PATTERN = re.compile(r"Trainer: ((?:warm start|using the Tuner).*)")
