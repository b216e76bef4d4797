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
      each word on its own (its cues included) can do.
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
    return result
