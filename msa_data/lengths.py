"""How many frames of each modality the model keeps: chosen from the train split.

Transform pads or truncates every sequence to a fixed length per modality
(``--max-len``). Too short cuts real frames (unaligned audio and video run
at 2-10 frames a word); too long wastes memory and attention time on
padding. Unless ``--max-len`` is given, the local runner takes each
modality's length from the train split's frame counts, which the data check
reads anyway (:mod:`msa_data.preflight`):

* the :data:`QUANTILE` of the counts, so a few outliers do not set it,
* rounded up to a multiple of :data:`ROUND_TO` (the built-in word-aligned
  data keeps its 50),
* at most :data:`CAP` frames (attention memory grows with its square; MMSA's
  unaligned MOSI video is 500 frames).

Whatever the lengths, the share of frames they cut is reported; more than
:data:`WARN_CUT_SHARE` is a warning line naming the modality.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Sequence

import numpy as np

from msa_data import contract

QUANTILE = 0.99
ROUND_TO = 10
CAP = 500
WARN_CUT_SHARE = 0.02


def choose_lengths(counts: Mapping[str, Sequence[int]]) -> Dict[str, int]:
    """``{modality: frames to keep}`` from the train split's per-segment frame counts."""
    chosen = {}
    for modality in contract.MODALITIES:
        values = np.asarray(counts[modality], dtype=np.float64)
        quantile = float(np.quantile(values, QUANTILE)) if values.size else 0.0
        rounded = ROUND_TO * max(1, math.ceil(quantile / ROUND_TO))
        chosen[modality] = int(min(rounded, CAP))
    return chosen


def cut_shares(counts: Mapping[str, Sequence[int]], max_lens: Mapping[str, int]
               ) -> Dict[str, float]:
    """``{modality: share of its frames beyond max_lens}`` (0 when there are none)."""
    shares = {}
    for modality in contract.MODALITIES:
        values = np.asarray(counts[modality], dtype=np.int64)
        total = int(values.sum())
        cut = int(np.maximum(values - int(max_lens[modality]), 0).sum())
        shares[modality] = cut / total if total else 0.0
    return shares


def describe(max_lens: Mapping[str, int], shares: Mapping[str, float], source: str) -> str:
    """The console line: the lengths, where they come from, and what they cut."""
    kept = ", ".join(f"{m} {int(max_lens[m])}" for m in contract.MODALITIES)
    cut = ", ".join(f"{m} {100 * shares[m]:.1f}%" for m in contract.MODALITIES)
    return f"sequence lengths ({source}): {kept}; frames cut in the train split: {cut}"


def describe_without_data(max_lens: Mapping[str, int],
                          why: str = "a --source file is read inside the pipeline") -> str:
    """The console line when the data is not read before the pipeline (``--source``, a
    compiled Kubeflow pipeline); ``why`` says which."""
    kept = ", ".join(f"{m} {int(max_lens[m])}" for m in contract.MODALITIES)
    return (f"sequence lengths: {kept} (--max-len or the defaults: {why}, so the lengths are "
            "not chosen from the data)")


def warning(max_lens: Mapping[str, int], shares: Mapping[str, float], given: bool) -> str:
    """One line when a modality loses more than WARN_CUT_SHARE of its frames, else ''.

    ``given``: the lengths came from ``--max-len`` (or a preset), not from the data.
    """
    heavy = [m for m in contract.MODALITIES if shares[m] > WARN_CUT_SHARE]
    if not heavy:
        return ""
    parts = ", ".join(f"{100 * shares[m]:.1f}% of the {m} frames (beyond {int(max_lens[m])})"
                      for m in heavy)
    advice = ("raise --max-len, or omit it to choose the lengths from the data" if given
              else f"the lengths are capped at {CAP} frames; pass --max-len to keep more")
    return (f"warning: the sequence lengths cut {parts} in the train split, which the model "
            f"never sees ({advice})")
