"""Which synthetic segments exist: ids, videos, splits and labels (no features).

Part of :mod:`msa_data.synth` (see its docstring for the design). ``size='mosi'``
uses the real CMU-MOSI labels and standard folds; ``size='mosei'`` draws
MOSEI-like labels over the standard MOSEI folds.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import os
from typing import Dict, List, Tuple

import numpy as np

from msa_data import contract

SIZES = ("mosi", "mosei")

# Exact split totals of the real datasets (segments per split).
MOSI_SPLIT_COUNTS = {"train": 1284, "valid": 229, "test": 686}
MOSEI_SPLIT_COUNTS = {"train": 16326, "valid": 1871, "test": 4659}

# Seed-sequence tags so each random stream is independent of the others.
_TAG_DIRECTION, _TAG_PLAN, _TAG_SEGMENT = 1, 2, 3

_HERE = os.path.dirname(os.path.abspath(__file__))


class SynthError(ValueError):
    """Bad input to :func:`generate`; ``flag`` names the CLI flag at fault."""

    def __init__(self, flag: str, message: str):
        super().__init__(f"{flag}: {message}")
        self.flag = flag



@dataclasses.dataclass(frozen=True)
class PlannedSegment:
    segment_id: str
    video_id: str
    label: float


def _read_package_text(name: str) -> str:
    try:
        from importlib import resources

        return resources.files("msa_data").joinpath(name).read_text(encoding="utf-8")
    except (ImportError, AttributeError, FileNotFoundError, ModuleNotFoundError):
        path = os.path.join(_HERE, name)
        with open(path, encoding="utf-8") as fh:
            return fh.read()


@functools.lru_cache(maxsize=1)
def standard_folds() -> Dict[str, Dict[str, List[str]]]:
    """``{"mosi"|"mosei": {split: [video ids]}}`` from ``standard_folds.json``."""
    return json.loads(_read_package_text("standard_folds.json"))


@functools.lru_cache(maxsize=1)
def mosi_opinion_labels() -> Tuple[Tuple[str, str, float], ...]:
    """Real CMU-MOSI labels in file order: ``(segment_id, video_id, label)``."""
    rows = []
    for rec in csv.reader(io.StringIO(_read_package_text("mosi_opinion_labels.csv"))):
        if not rec:
            continue
        _start, _end, video_id, index, sentiment = rec
        rows.append((f"{video_id}_{int(index)}", video_id, float(sentiment)))
    return tuple(rows)


def _plan_mosi() -> Dict[str, List[PlannedSegment]]:
    folds = standard_folds()["mosi"]
    split_of = {v: s for s in contract.SPLITS for v in folds[s]}
    plan: Dict[str, List[PlannedSegment]] = {s: [] for s in contract.SPLITS}
    for segment_id, video_id, label in mosi_opinion_labels():
        if video_id not in split_of:
            raise ValueError(f"MOSI video {video_id!r} is in no standard fold")
        plan[split_of[video_id]].append(PlannedSegment(segment_id, video_id, label))
    return plan


def assign_segment_counts(n_videos: int, total: int, rng: np.random.Generator) -> np.ndarray:
    """Random segments-per-video counts, each >= 1, summing to ``total``."""
    if n_videos < 1 or total < n_videos:
        raise ValueError(f"cannot give {n_videos} videos >= 1 segment each out of {total}")
    probs = rng.dirichlet(np.full(n_videos, 2.0))
    return 1 + rng.multinomial(total - n_videos, probs)


def mosei_like_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """Averages of 3 annotators' integer scores in [-3, 3] (multiples of 1/3).

    Skewed positive (~53% > 0, ~26% < 0) with ~21% exactly 0, like CMU-MOSEI:
    a neutral component where annotators mostly say 0, and an opinionated
    one around +0.55.
    """
    neutral = rng.random(n) < 0.17
    latent = np.where(neutral, 0.0, rng.normal(0.55, 1.2, n))
    spread = np.where(neutral, 0.3, 0.6)[:, None]
    scores = np.clip(np.rint(latent[:, None] + spread * rng.standard_normal((n, 3))), -3, 3)
    return scores.sum(axis=1) / 3.0


def _plan_mosei(seed: int) -> Dict[str, List[PlannedSegment]]:
    folds = standard_folds()["mosei"]
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _TAG_PLAN])))
    plan: Dict[str, List[PlannedSegment]] = {}
    for split in contract.SPLITS:
        videos = folds[split]
        counts = assign_segment_counts(len(videos), MOSEI_SPLIT_COUNTS[split], rng)
        labels = mosei_like_labels(int(counts.sum()), rng)
        segs = []
        i = 0
        for video_id, count in zip(videos, counts):
            for k in range(int(count)):
                segs.append(PlannedSegment(f"{video_id}_{k}", video_id, float(labels[i])))
                i += 1
        plan[split] = segs
    return plan


def plan_splits(size: str = "mosi", seed: int = 0) -> Dict[str, List[PlannedSegment]]:
    """Segments (id, video, label) per split, in write order, without features."""
    if size == "mosi":
        return _plan_mosi()
    if size == "mosei":
        return _plan_mosei(int(seed))
    raise SynthError("--size", f"expected one of {', '.join(SIZES)}, got {size!r}")
