"""Reference rows for the model benchmark: what simple predictors reach.

Computed from the raw contract files (no model, no TFX):

* ``constant``: the train label mean;
* ``ridge, pooled text+audio+video``: ridge regression on each modality's
  mean and summed frame (plus the word count), the late-fusion linear
  baseline (the ``pooled`` architecture's inputs);
* ``ridge, summed text``: ridge on the sum of the text frames (a linear
  bag-of-words score);

and, for the built-in data, the rows its known function gives
(``noise_floor.json``): the noise floor, the exact text part alone and the
pooled oracle, on unaligned data the known function with frames aligned
to words by relative position, and the known gates with the word's
sentiment direction learned by ridge
(:func:`msa_data.synth_reference.reference_maes`).

Ridge uses z-scored features (train statistics, non-finite values as the
mean) and picks its penalty on the valid split.
"""

from __future__ import annotations

import json
import os
from typing import Dict, List, Tuple

import numpy as np

from msa_data import contract


def _features(segments, kind: str) -> np.ndarray:
    rows = []
    for s in segments:
        if kind == "summed_text":
            rows.append(np.nan_to_num(s.text.astype(np.float64), posinf=0, neginf=0).sum(0))
            continue
        parts = []
        for m in contract.MODALITIES:
            frames = np.asarray(getattr(s, m), dtype=np.float64)
            frames = np.where(np.isfinite(frames), frames, np.nan)
            with np.errstate(all="ignore"):
                mean = np.nanmean(frames, axis=0) if len(frames) else np.full(frames.shape[1], np.nan)
            parts.extend([mean, np.nansum(frames, axis=0)])
        parts.append([len(s.text)])
        rows.append(np.concatenate(parts))
    return np.asarray(rows)


def _ridge_mae(splits: Dict[str, Tuple[np.ndarray, np.ndarray]]) -> float:
    from sklearn.linear_model import Ridge

    x_train, y_train = splits["train"]
    mean = np.nanmean(x_train, axis=0)
    std = np.nanstd(x_train, axis=0)
    std[~(std > 1e-9)] = 1.0

    def prep(x):
        z = (x - mean) / std
        return np.where(np.isfinite(z), z, 0.0)

    best = None
    for alpha in (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0):
        model = Ridge(alpha=alpha).fit(prep(x_train), y_train)
        valid = np.mean(np.abs(model.predict(prep(splits["valid"][0])) - splits["valid"][1]))
        if best is None or valid < best[0]:
            best = (valid, model)
    x_test, y_test = splits["test"]
    return float(np.mean(np.abs(best[1].predict(prep(x_test)) - y_test)))


def reference_rows(data_root: str) -> List[dict]:
    """``[{"name", "test_mae", "source"}]`` for ``data_root``."""
    segments = {s: list(contract.read_split(os.path.join(data_root, contract.split_pattern(s))))
                for s in contract.SPLITS}
    labels = {s: np.array([seg.label for seg in segs]) for s, segs in segments.items()}
    rows = [{"name": "constant (train mean)", "source": "train labels",
             "test_mae": float(np.mean(np.abs(labels["test"] - labels["train"].mean())))}]
    for kind, name in (("pooled", "ridge, mean+sum-pooled text+audio+video"),
                       ("summed_text", "ridge, summed text frames")):
        splits = {s: (_features(segs, kind), labels[s]) for s, segs in segments.items()}
        rows.append({"name": name, "source": "raw features", "test_mae": _ridge_mae(splits)})
    floor_path = os.path.join(data_root, "noise_floor.json")
    if os.path.exists(floor_path):
        with open(floor_path, encoding="utf-8") as f:
            floor = json.load(f)
        known = floor.get("reference_test_mae", {})
        for key, name in (("text_part", "known function: text part alone (best linear fit)"),
                          ("pooled_oracle", "known function: pooled oracle"),
                          ("proportional_alignment",
                           "known function, frames aligned by relative position"),
                          ("bag_of_words", "known function without negation (bag of words)"),
                          ("learned_word_direction",
                           "known gates, word direction learned (ridge)")):
            if key in known:
                rows.append({"name": name, "source": "noise_floor.json", "test_mae": known[key]})
        rows.append({"name": "noise floor (the known function itself)",
                     "source": "noise_floor.json", "test_mae": floor["test_mae_noise_floor"]})
    return rows
