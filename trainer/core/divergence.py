"""A training run whose losses or weights are not finite has failed.

Keras keeps training through a NaN loss: the epochs print ``nan``, the
Trainer exports a model of NaN weights and says done, and the run only fails
later, in the Evaluator. Worse, that Trainer execution is COMPLETE in ML
Metadata, so TFX's cache hands the same NaN model to every rerun of the same
inputs. :func:`check` runs after training, before anything is exported: it
raises :class:`TrainingDiverged` with one line, the Trainer fails, MLMD
records the execution as FAILED, and TFX never reuses a failed execution.

No TensorFlow here: the runner's failure line (pipeline/failures.py)
recognises the exception without loading the trainer.
"""

from __future__ import annotations

import math
from typing import Dict, Iterable, List, Sequence

import numpy as np


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss or weight; the message is one line."""


def first_non_finite_loss(history: Dict[str, Sequence[float]]) -> str:
    """'' when every logged loss is finite, else e.g. "loss nan at epoch 3"."""
    for key in ("loss", "val_loss"):
        for epoch, value in enumerate(history.get(key, []), start=1):
            if not math.isfinite(float(value)):
                return f"{key} {float(value)} at epoch {epoch}"
    return ""


def check(history: Dict[str, List[float]], weights: Iterable[np.ndarray],
          names: Iterable[str] = ()) -> None:
    """Raises :class:`TrainingDiverged` unless every loss and every weight is finite."""
    where = first_non_finite_loss(history)
    if not where:
        names = list(names)
        for i, array in enumerate(weights):
            array = np.asarray(array)
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                name = names[i] if i < len(names) else f"weight {i}"
                where = f"{array.size - int(np.isfinite(array).sum())} non-finite values " \
                        f"in {name}"
                break
    if where:
        raise TrainingDiverged(
            f"Trainer: training diverged ({where}); expected finite losses and weights: "
            "lower --learning-rate or set --clip-norm; nothing was exported")
