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

A compiled Kubeflow pipeline cannot read the data before it runs, so there
the same rule is applied inside the run to StatisticsGen's quantile
histogram of each ``<modality>_len`` feature
(:mod:`components.sequence_lengths`): :func:`quantile_of_buckets` and
:func:`cut_share_of_buckets` read the histogram, :func:`length_for` rounds
and caps as above.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Sequence, Tuple

import numpy as np

from msa_data import contract

QUANTILE = 0.99
ROUND_TO = 10
CAP = 500
WARN_CUT_SHARE = 0.02


def length_for(quantile: float) -> int:
    """Frames to keep for a modality whose :data:`QUANTILE` is ``quantile`` frames."""
    return int(min(ROUND_TO * max(1, math.ceil(quantile / ROUND_TO)), CAP))


def choose_lengths(counts: Mapping[str, Sequence[int]]) -> Dict[str, int]:
    """``{modality: frames to keep}`` from the train split's per-segment frame counts."""
    chosen = {}
    for modality in contract.MODALITIES:
        values = np.asarray(counts[modality], dtype=np.float64)
        chosen[modality] = length_for(float(np.quantile(values, QUANTILE)) if values.size
                                      else 0.0)
    return chosen


# A quantile histogram: (low, high, count) buckets in increasing order, each
# holding about the same number of segments (TFDV's QUANTILES histogram).
Buckets = Sequence[Tuple[float, float, float]]


def quantile_of_buckets(buckets: Buckets, q: float = QUANTILE) -> float:
    """The ``q`` quantile of the frame counts a quantile histogram describes.

    Linear inside the bucket where the cumulative count crosses ``q``; 0 for
    an empty histogram.
    """
    total = float(sum(count for _, _, count in buckets))
    if total <= 0:
        return 0.0
    target, seen = q * total, 0.0
    for low, high, count in buckets:
        if count > 0 and seen + count >= target:
            return float(low + (high - low) * (target - seen) / count)
        seen += count
    return float(buckets[-1][1])


def cut_share_of_buckets(buckets: Buckets, max_len: int) -> float:
    """Estimated share of the frames beyond ``max_len``, counts taken as uniform in a bucket."""
    frames = cut = 0.0
    for low, high, count in buckets:
        frames += count * (low + high) / 2.0
        if high <= max_len:
            continue
        if low >= max_len or high == low:
            cut += count * ((low + high) / 2.0 - max_len)
        else:  # the part of a uniform [low, high] beyond max_len
            cut += count * (high - max_len) ** 2 / (2.0 * (high - low))
    return cut / frames if frames > 0 else 0.0


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


def describe_without_data(max_lens: Mapping[str, int], source: str) -> str:
    """The console line for given lengths (``source``: ``--max-len`` or a preset) when the
    data is read only inside the pipeline (``--source``, a compiled Kubeflow pipeline)."""
    kept = ", ".join(f"{m} {int(max_lens[m])}" for m in contract.MODALITIES)
    return (f"sequence lengths ({source}): {kept}; the data is read only inside the pipeline, "
            "so the share of frames they cut is not known here")


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
