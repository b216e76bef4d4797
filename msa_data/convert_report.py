"""``conversion_report.json``: what a conversion found and wrote.

Counts per split, dims, per-modality length statistics (min/median/max)
and non-finite value counts (stored as found; Transform cleans them), the
label range, the layout facts the reader recorded, and every dropped
segment with the reason.
"""

from __future__ import annotations

import collections
import os
from typing import Dict, List

import numpy as np

from msa_data import contract

REPORT_FILE = "conversion_report.json"


def input_bytes(path: str) -> int:
    """Size of a file, or of every file under a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _dirs, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def _summary(values: List[float]) -> Dict[str, float]:
    if not values:
        return {"min": None, "median": None, "max": None, "mean": None}
    arr = np.asarray(values, dtype=np.float64)
    return {"min": float(arr.min()), "median": float(np.median(arr)),
            "max": float(arr.max()), "mean": float(arr.mean())}


class ConversionStats:
    """Accumulates the report over the segments as they are written."""

    def __init__(self):
        self.counts = {s: 0 for s in contract.SPLITS}
        self.videos = {s: set() for s in contract.SPLITS}
        self.lengths: Dict[str, List[int]] = {m: [] for m in contract.MODALITIES}
        self.nonfinite = {m: {"values": 0, "nan": 0, "posinf": 0, "neginf": 0, "segments": 0}
                          for m in contract.MODALITIES}
        self.labels: List[float] = []

    def add(self, split: str, segment: contract.Segment) -> None:
        self.counts[split] += 1
        self.videos[split].add(segment.video_id)
        self.labels.append(segment.label)
        for m in contract.MODALITIES:
            frames = segment.frames(m)
            self.lengths[m].append(int(frames.shape[0]))
            # Counted on the float32 values the contract stores.
            values = np.asarray(frames, dtype=np.float32)
            bad = ~np.isfinite(values)
            if bad.any():
                entry = self.nonfinite[m]
                entry["values"] += int(bad.sum())
                entry["nan"] += int(np.isnan(values).sum())
                entry["posinf"] += int(np.isposinf(values).sum())
                entry["neginf"] += int(np.isneginf(values).sum())
                entry["segments"] += 1

    def report(self, reader, fmt: str, input_path: str) -> dict:
        labels = np.asarray(self.labels, dtype=np.float64)
        finite = labels[np.isfinite(labels)]
        reasons = collections.Counter(d.reason for d in reader.dropped)
        return {
            "format": fmt,
            "input": os.path.abspath(input_path),
            "input_bytes": input_bytes(input_path),
            "dataset": reader.dataset,
            "aligned": bool(reader.aligned),
            "dims": dict(reader.dims),
            "counts": dict(self.counts),
            "total": int(sum(self.counts.values())),
            "videos": {s: len(v) for s, v in self.videos.items()},
            "lengths": {m: _summary(v) for m, v in self.lengths.items()},
            "nonfinite": self.nonfinite,
            "labels": {**_summary(finite.tolist()),
                       "nonfinite": int(labels.size - finite.size),
                       "outside_range": int(np.sum((finite < contract.LABEL_MIN)
                                                   | (finite > contract.LABEL_MAX)))},
            "dropped": {
                "count": len(reader.dropped),
                "by_reason": dict(reasons),
                "segments": [{"segment_id": d.segment_id, "video_id": d.video_id,
                              "reason": d.reason} for d in reader.dropped],
            },
            "layout": reader.notes,
        }
