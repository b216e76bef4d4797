"""Time alignment of CMU-MultimodalSDK computational sequences.

A computational sequence gives, per video, ``features`` ``(n, d)`` and
``intervals`` ``(n, 2)`` (start, end in seconds). Two relations are used:

* a word *falls inside* a label interval ``[ls, le]`` when
  ``ls <= start`` and ``end <= le``;
* a frame *overlaps* an interval ``[s, e]`` when ``start < e`` and
  ``end > s``; for a zero-length interval (``s == e``) when
  ``start <= s <= end``.

Aligned mode gives every word of a segment one audio and one visual frame:
the mean of the frames overlapping the word (non-finite values propagate, as
in the source). A word that no frame overlaps gets an all-zero frame, and is
counted.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np


def is_sorted(intervals: np.ndarray) -> bool:
    """Whether starts and ends are both non-decreasing (the usual case)."""
    if intervals.shape[0] < 2:
        return True
    return bool(np.all(np.diff(intervals[:, 0]) >= 0) and np.all(np.diff(intervals[:, 1]) >= 0))


def inside(intervals: np.ndarray, start: float, end: float) -> np.ndarray:
    """Indices of the intervals that fall inside ``[start, end]``."""
    return np.flatnonzero((intervals[:, 0] >= start) & (intervals[:, 1] <= end))


def overlapping(intervals: np.ndarray, start: float, end: float) -> np.ndarray:
    """Indices of the intervals that overlap ``[start, end]``."""
    if end > start:
        hit = (intervals[:, 0] < end) & (intervals[:, 1] > start)
    else:
        hit = (intervals[:, 0] <= start) & (intervals[:, 1] >= start)
    return np.flatnonzero(hit)


def overlap_ranges(intervals: np.ndarray, starts: np.ndarray,
                   ends: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``[lo, hi)`` frame ranges overlapping each query, for sorted ``intervals``."""
    point = ends <= starts
    lo = np.where(point,
                  np.searchsorted(intervals[:, 1], starts, side="left"),
                  np.searchsorted(intervals[:, 1], starts, side="right"))
    hi = np.where(point,
                  np.searchsorted(intervals[:, 0], starts, side="right"),
                  np.searchsorted(intervals[:, 0], ends, side="left"))
    return lo, np.maximum(hi, lo)


class FrameAverager:
    """Per-word means of one video's frames of one modality."""

    def __init__(self, features: np.ndarray, intervals: np.ndarray):
        self.features = features
        self.intervals = intervals
        self.sorted = is_sorted(intervals)
        self.empty_words = 0  # words that no frame overlaps

    def per_word(self, word_intervals: np.ndarray) -> np.ndarray:
        """``(n_words, d)`` float64: the mean frame over each word's interval."""
        n, d = word_intervals.shape[0], self.features.shape[1]
        out = np.zeros((n, d), dtype=np.float64)
        if n == 0:
            return out
        if self.sorted:
            lo, hi = overlap_ranges(self.intervals, word_intervals[:, 0], word_intervals[:, 1])
            spans = [slice(int(a), int(b)) for a, b in zip(lo, hi)]
        else:
            spans = [overlapping(self.intervals, s, e) for s, e in word_intervals]
        with np.errstate(invalid="ignore", over="ignore"):
            for i, span in enumerate(spans):
                frames = self.features[span]
                if frames.shape[0] == 0:
                    self.empty_words += 1
                else:
                    out[i] = frames.mean(axis=0, dtype=np.float64)
        return out

    def within(self, start: float, end: float) -> np.ndarray:
        """The frames overlapping ``[start, end]`` (unaligned mode), as found."""
        if self.sorted:
            lo, hi = overlap_ranges(self.intervals, np.array([start]), np.array([end]))
            return self.features[int(lo[0]):int(hi[0])]
        return self.features[overlapping(self.intervals, start, end)]
