"""Reference predictors built from the known sentiment function's parts.

Part of :mod:`msa_data.synth`. They are the rows a trained model is judged
against on the built-in data: how far below the constant predictor it got,
and how much of what the text alone cannot explain it recovered.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import numpy as np


def reference_maes(parts: Mapping[str, Sequence[tuple]]) -> Dict[str, float]:
    """Test MAEs of reference predictors built from the known function's parts.

    ``parts[split]`` holds ``(label, text_part, audio_cue_rate, video_cue_rate)``
    per segment, and for unaligned data a fifth value, the proportional-
    alignment estimate of ``f``. Each predictor is a least-squares fit on the train split,
    scored on the test split:

    * ``constant``: the train label mean;
    * ``text_part``: ``a + b * sum_t c_t``, the exact text part alone (what a
      model ignoring audio and video could reach at best, given ``u``);
    * ``pooled_oracle``: the text part times each segment's mean audio and
      visual cue rates, ``[1, T, T * mean(e), T * mean(g)]``: what pooling
      each modality before fusing can see of the cross part;
    * ``proportional_alignment`` (unaligned data): ``a + b * f_hat``, with
      ``f_hat`` the known function computed after mapping each frame to a
      word by its relative position
      (:func:`msa_data.synth_unaligned.proportional_estimate`): what knowing
      ``u`` and the function, but not the timing, gives.
    """
    def design(rows, kind):
        rows = np.asarray(rows, dtype=np.float64)
        ones = np.ones(len(rows))
        if kind == "constant":
            x = ones[:, None]
        elif kind == "text_part":
            x = np.stack([ones, rows[:, 1]], axis=1)
        elif kind == "proportional_alignment":
            x = np.stack([ones, rows[:, 4]], axis=1)
        else:
            x = np.stack([ones, rows[:, 1], rows[:, 1] * rows[:, 2], rows[:, 1] * rows[:, 3]],
                         axis=1)
        return x, rows[:, 0]

    result = {}
    if not parts.get("train") or not parts.get("test"):
        return result
    kinds = ["constant", "text_part", "pooled_oracle"]
    if len(parts["train"][0]) > 4:
        kinds.append("proportional_alignment")
    for kind in kinds:
        x_train, y_train = design(parts["train"], kind)
        coef, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)
        x_test, y_test = design(parts["test"], kind)
        result[kind] = float(np.mean(np.abs(x_test @ coef - y_test)))
    return result
