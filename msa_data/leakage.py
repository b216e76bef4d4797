"""Examples or speakers shared between splits (data leakage).

A test split that holds copies of training examples, or segments of the
same videos (speakers) as the train split, scores a model on what it has
already seen: the blessing then compares inflated numbers. The data
preflight (:mod:`msa_data.preflight`) collects three keys per example and
:func:`find` compares them across splits:

* the ``segment_id``;
* a hash of the example's content, every feature but the ids (a copy
  renamed to a new id still matches);
* the ``video_id``: one video is one speaker, and a speaker's segments must
  stay in one split (CMU-MOSI's standard folds are split by video).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from typing import Dict, List, Set

from msa_data import contract

# Features that name an example rather than hold its content.
_ID_FEATURES = frozenset({contract.SEGMENT_ID, contract.VIDEO_ID, contract.DATASET})
# What readers write when a source has no video ids (msa_data/readers/msa_h5.py):
# it says nothing about speakers, so it is not compared.
UNKNOWN_VIDEO = "unknown"
KINDS = ("segment ids", "feature contents", "videos")


@dataclasses.dataclass
class SplitKeys:
    """One split's keys: each set holds one entry per distinct value."""

    segment_ids: Set[bytes] = dataclasses.field(default_factory=set)
    contents: Set[bytes] = dataclasses.field(default_factory=set)
    videos: Set[bytes] = dataclasses.field(default_factory=set)

    def add(self, example) -> None:
        """Adds one parsed ``tf.train.Example``."""
        features = example.features.feature
        self.segment_ids.update(features[contract.SEGMENT_ID].bytes_list.value[:1])
        video = features[contract.VIDEO_ID].bytes_list.value[:1]
        if video and video[0] and video[0] != UNKNOWN_VIDEO.encode():
            self.videos.add(video[0])
        self.contents.add(content_hash(example))

    def of_kind(self, kind: str) -> Set[bytes]:
        return {"segment ids": self.segment_ids, "feature contents": self.contents,
                "videos": self.videos}[kind]


def content_hash(example) -> bytes:
    """A digest of every feature but the ids, by name (the map's order is not fixed)."""
    digest = hashlib.blake2b(digest_size=16)
    features = example.features.feature
    for name in sorted(set(features) - _ID_FEATURES):
        digest.update(name.encode() + b"\0")
        digest.update(features[name].SerializeToString(deterministic=True))
    return digest.digest()


@dataclasses.dataclass(frozen=True)
class Overlap:
    """``count`` distinct ``kind`` values found in both split ``first`` and ``second``."""

    first: str
    second: str
    kind: str
    count: int
    example: str  # one of them, readable (content hashes have none)


def find(keys: Dict[str, SplitKeys]) -> List[Overlap]:
    """Every overlap between two splits, in split order then kind order."""
    found = []
    for first, second in itertools.combinations([s for s in contract.SPLITS if s in keys], 2):
        for kind in KINDS:
            shared = keys[first].of_kind(kind) & keys[second].of_kind(kind)
            if shared:
                example = "" if kind == "feature contents" else \
                    min(shared).decode("utf-8", "replace")
                found.append(Overlap(first, second, kind, len(shared), example))
    return found


def across_spans(trained: Dict[int, Dict[str, SplitKeys]], evaluated: SplitKeys,
                 span: int) -> List[Overlap]:
    """Copies of span ``span``'s test examples in the train or valid split of any
    span trained on (a ``--span-window``): shared segment ids or contents.

    Videos are not compared across spans: one speaker recording again in a
    later span is how such data grows; within a span the splits keep a video
    to one split (:func:`find`).
    """
    found = []
    for k, keys in sorted(trained.items()):
        if k == span:  # its own splits: :func:`find`
            continue
        for split in ("train", "valid"):
            if split not in keys:
                continue
            for kind in ("segment ids", "feature contents"):
                shared = keys[split].of_kind(kind) & evaluated.of_kind(kind)
                if shared:
                    example = "" if kind == "feature contents" else \
                        min(shared).decode("utf-8", "replace")
                    found.append(Overlap(f"span {k} {split}", f"span {span} test", kind,
                                         len(shared), example))
    return found


def describe(overlaps: List[Overlap]) -> str:
    """One phrase for all of them: "train/test share 60 segment ids (e.g. 'v1_3'), ..."."""
    by_pair: Dict[tuple, List[str]] = {}
    for o in overlaps:
        text = f"{o.count} {o.kind}" + (f" (e.g. {o.example!r})" if o.example else "")
        by_pair.setdefault((o.first, o.second), []).append(text)
    return "; ".join(f"{a}/{b} share {', '.join(parts)}" for (a, b), parts in by_pair.items())
