"""Reference predictors built from the known sentiment function's parts.

Part of :mod:`msa_data.synth`. They are the rows a trained model is judged
against on the built-in data: how far below the constant predictor it got,
and how much of what the text alone cannot explain it recovered.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import numpy as np

# Optional estimates of f a segment's row may carry, by name, after the
# four fixed values (label, text part, audio and video cue rates).
ESTIMATES = ("proportional_alignment", "bag_of_words")


def reference_maes(parts: Mapping[str, Sequence[dict]]) -> Dict[str, float]:
    """Test MAEs of reference predictors built from the known function's parts.

    ``parts[split]`` holds one dict per segment: ``label``, ``text_part``,
    ``audio_rate`` and ``video_rate`` (mean audio and visual cue rates), and
    optionally estimates of ``f`` named in :data:`ESTIMATES`. Each predictor
    is a least-squares fit on the train split, scored on the test split:

    * ``constant``: the train label mean;
    * ``text_part``: ``a + b * text_part``, the exact text part alone (what a
      model ignoring audio and video could reach at best, given ``u``);
    * ``pooled_oracle``: the text part times each segment's mean audio and
      visual cue rates, ``[1, T, T * mean(e), T * mean(g)]``: what pooling
      each modality before fusing can see of the cross part;
    * ``proportional_alignment`` (unaligned data): ``a + b * f_hat``, with
      ``f_hat`` the known function computed after mapping each frame to a
      word by its relative position
      (:func:`msa_data.synth_unaligned.proportional_estimate`): what knowing
      ``u`` and the function, but not the timing, gives;
    * ``bag_of_words`` (``--function context``): the known function with
      every word's own cues but no negation, the best a model that scores
      each word on its own (its cues included) can do;
    * ``learned_word_direction`` (rows with ``weighted_words``, ``sum_t w_t
      text_t`` under the known gates: each word's own cues, or on unaligned
      data the cues aligned by relative position): ridge regression on it,
      its penalty picked on the valid split. The gates are given and only
      the words' sentiment direction (``u``, one weight per text dimension)
      is learned from the train split: the error a model whose word scores
      are linear in the text cannot go below with this many segments and
      those gates.
    """
    def design(rows, kind):
        get = lambda key: np.array([r[key] for r in rows], dtype=np.float64)  # noqa: E731
        ones = np.ones(len(rows))
        if kind == "constant":
            x = ones[:, None]
        elif kind == "text_part":
            x = np.stack([ones, get("text_part")], axis=1)
        elif kind == "pooled_oracle":
            t = get("text_part")
            x = np.stack([ones, t, t * get("audio_rate"), t * get("video_rate")], axis=1)
        else:
            x = np.stack([ones, get(kind)], axis=1)
        return x, get("label")

    result = {}
    if not parts.get("train") or not parts.get("test"):
        return result
    kinds = ["constant", "text_part", "pooled_oracle"]
    kinds += [k for k in ESTIMATES if k in parts["train"][0]]
    for kind in kinds:
        x_train, y_train = design(parts["train"], kind)
        coef, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)
        x_test, y_test = design(parts["test"], kind)
        result[kind] = float(np.mean(np.abs(x_test @ coef - y_test)))
    if "weighted_words" in parts["train"][0] and parts.get("valid"):
        result["learned_word_direction"] = ridge_test_mae(
            {split: (np.array([r["weighted_words"] for r in rows], dtype=np.float64),
                     np.array([r["label"] for r in rows], dtype=np.float64))
             for split, rows in parts.items()})
    return result


RIDGE_PENALTIES = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


def ridge_test_mae(splits: Mapping[str, tuple]) -> float:
    """Test MAE of ridge on ``splits[s] = (x, y)``, its penalty picked on the valid split."""
    x_train, y_train = splits["train"]
    x_mean, y_mean = x_train.mean(axis=0), y_train.mean()
    centred = x_train - x_mean
    gram, moment = centred.T @ centred, centred.T @ (y_train - y_mean)

    def mae(coef, split):
        x, y = splits[split]
        return float(np.mean(np.abs((x - x_mean) @ coef + y_mean - y)))

    fits = [np.linalg.solve(gram + alpha * np.eye(len(gram)), moment)
            for alpha in RIDGE_PENALTIES]
    best = min(fits, key=lambda coef: mae(coef, "valid"))
    return mae(best, "test")
