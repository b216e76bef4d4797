"""CMU-MultimodalSDK computational sequences (``.csd``, HDF5).

A folder of ``.csd`` files; each holds ``/<root>/data/<video>/features``
``(n, d)``, ``/<root>/data/<video>/intervals`` ``(n, 2)`` (seconds) and
``/<root>/metadata/<key>``. The files used, by name:

=========  ===============================================  =============
role       file                                             width
=========  ===============================================  =============
text       ``*TimestampedWordVectors*`` (or ``*GloveVectors*``)  300
audio      ``*COVAREP*``                                     74
video      ``*FACET*`` (FACET 4.1 for MOSI, 4.2 for MOSEI)     47 / 35
label      ``*Opinion_Labels*`` (MOSI), ``*Labels*`` (MOSEI)  1 / 7
=========  ===============================================  =============

A segment is a label interval: id ``<video>_<k>`` with ``k`` the 0-based
row of that video's labels; the label is the row's first value (MOSEI's
sentiment). Aligned (default): the segment's words are the word intervals
inside the label interval, and each audio/visual frame is the mean of the
frames over the word (:mod:`msa_data.readers.sdk_align`). Unaligned: each
modality keeps its frames that overlap the label interval. Splits: the
standard folds, by video. Segments of a video in no fold, or missing from a
modality's file, are reported as dropped. Files are read video by video.
"""

from __future__ import annotations

import glob
import os
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from msa_data import contract
from msa_data.readers.base import (
    Dropped,
    Reader,
    ReaderError,
    check_array,
    infer_dataset,
    resolve_dataset,
)
from msa_data.readers.msa_h5 import open_h5
from msa_data.readers.sdk_align import FrameAverager, inside
from msa_data.synth_plan import standard_folds

ROLES = ("text", "audio", "video", "label")
# Tiers of case-insensitive name fragments per role: the first tier that
# matches exactly one file wins.
NAME_TIERS = {
    "text": (("wordvectors",), ("glovevectors",)),
    "audio": (("covarep",),),
    "video": (("facet",),),
    "label": (("opinion_labels",), ("mosei_labels",), ("all_labels",), ("labels",)),
}
FACET_VERSION = {"mosi": ("41", "4.1", "4_1"), "mosei": ("42", "4.2", "4_2")}
SPLIT_PATTERN = "*.csd"


def _pick(role: str, names: List[str], path: str, dataset: Optional[str]) -> str:
    lower = {n: os.path.basename(n).lower() for n in names}
    for tier in NAME_TIERS[role]:
        hits = [n for n in names if any(t in lower[n] for t in tier)]
        if role == "text":
            hits = [n for n in hits if "vectors" in lower[n]]
        if len(hits) > 1 and role == "video" and dataset:
            preferred = [n for n in hits if any(v in lower[n] for v in FACET_VERSION[dataset])]
            hits = preferred or hits
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ReaderError(path, None, f"one {role} .csd file",
                              f"{len(hits)}: {sorted(os.path.basename(h) for h in hits)}")
    wanted = " or ".join(f"*{t[0]}*" for t in NAME_TIERS[role])
    raise ReaderError(path, None, f"a {role} file named {wanted}.csd",
                      f"none among {sorted(os.path.basename(n) for n in names)[:12]}")


class SdkReader(Reader):
    format = "sdk"
    unaligned_option = True
    input_kind = "folder"

    @classmethod
    def split_files(cls, path: str, split: str) -> str:
        return SPLIT_PATTERN  # every split is read from the same files

    def __init__(self, path: str, dataset: Optional[str] = None, unaligned: bool = False,
                 structure_only: bool = False):
        super().__init__(path, dataset, unaligned, structure_only)
        self._paths: Dict[str, str] = {}
        self._data: Dict[str, object] = {}  # role -> /<root>/data group
        self._videos: Dict[str, List[str]] = {}  # split -> label-file videos, in file order
        self._handles: list = []
        self._empty_words = {"audio": 0, "video": 0}

    def _data_group(self, role: str):
        path = self._paths[role]
        handle = open_h5(path, f"{role} computational sequence")
        self._handles.append(handle)
        roots = [k for k in handle.keys() if "data" in handle[k]]
        if len(roots) != 1:
            raise ReaderError(path, "/", "one root group holding 'data'",
                              f"top-level keys {sorted(handle.keys())[:8]}")
        return handle[roots[0]]["data"], roots[0]

    def _check_video(self, role: str, video: str, root: str) -> Tuple[int, int]:
        """``(rows, width)`` of one video in one file, checked without reading it."""
        path, group = self._paths[role], self._data[role][video]
        key = f"{root}/data/{video}"
        for name in ("features", "intervals"):
            if name not in group:
                raise ReaderError(path, f"{key}/{name}", "features and intervals",
                                  f"keys {sorted(group.keys())}")
        feats = check_array(group["features"], path, f"{key}/features", 2, "(n, d)")
        check_array(group["intervals"], path, f"{key}/intervals", 2, "(n, 2) in seconds",
                    rows=feats.shape[0], rows_of=f"{key}/features", width=2,
                    width_of="(start, end)")
        return int(feats.shape[0]), int(feats.shape[1])

    def open(self) -> "SdkReader":
        if not os.path.isdir(self.path):
            raise ReaderError(self.path, None, "a folder of .csd files",
                              "no such folder" if not os.path.exists(self.path) else "a file")

        names = sorted(glob.glob(os.path.join(self.path, SPLIT_PATTERN)))
        hint = infer_dataset(self.requested_dataset, self.path, names)
        self._paths = {role: _pick(role, names, self.path, hint) for role in ROLES}
        roots = {}
        for role in ROLES:
            self._data[role], roots[role] = self._data_group(role)
        label_videos = list(self._data["label"].keys())
        self.dataset = hint or resolve_dataset(self, video_ids=label_videos)
        split_of = {v: s for s, vs in standard_folds()[self.dataset].items() for v in vs}
        widths: Dict[str, int] = {}
        self._videos = {s: [] for s in contract.SPLITS}
        self.counts = {s: 0 for s in contract.SPLITS}
        for video in label_videos:
            rows, width = self._check_video("label", video, roots["label"])
            widths.setdefault("label", width)
            reason = None if video in split_of else "video not in the standard folds"
            for role in ("text", "audio", "video"):
                if video not in self._data[role]:
                    reason = reason or f"video missing from {os.path.basename(self._paths[role])}"
                    continue
                _, w = self._check_video(role, video, roots[role])
                if widths.setdefault(role, w) != w:
                    raise ReaderError(self._paths[role], f"{roots[role]}/data/{video}/features",
                                      f"width {widths[role]} (as in the other videos)", f"width {w}")
            if reason:
                self.dropped.extend(Dropped(f"{video}_{k}", video, reason) for k in range(rows))
                continue
            self._videos[split_of[video]].append(video)
            self.counts[split_of[video]] += rows
        if widths.get("label", 1) < 1:
            raise ReaderError(self._paths["label"], f"{roots['label']}/data",
                              "at least 1 label value per row", "width 0")
        self.dims = {m: widths.get(m, 0) for m in contract.MODALITIES}
        self.aligned = not self.unaligned
        self.notes = {"files": {r: os.path.basename(p) for r, p in self._paths.items()},
                      "alignment": "unaligned: frames overlapping the label interval"
                      if self.unaligned else "aligned: words inside the label interval, "
                      "audio/visual frames averaged over each word",
                      "segment_ids": "<video>_<k>, k = 0-based label row",
                      "words_without_frames": self._empty_words}
        return self

    def _read(self, role: str, video: str) -> Tuple[np.ndarray, np.ndarray]:
        group = self._data[role][video]
        try:
            return group["features"][()], np.asarray(group["intervals"][()], dtype=np.float64)
        except Exception as err:
            raise ReaderError(self._paths[role], f"data/{video}", "readable features and intervals",
                              f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                              ) from None

    def iter_split(self, split: str) -> Iterator[contract.Segment]:
        self._check_readable()
        if not self._data:
            self.open()
        for video in self._videos[split]:
            labels, label_iv = self._read("label", video)
            words, word_iv = self._read("text", video)
            word_frames = FrameAverager(words, word_iv)
            frames = {m: FrameAverager(*self._read(m, video)) for m in ("audio", "video")}
            for k, (start, end) in enumerate(label_iv):
                if self.unaligned:
                    text = word_frames.within(start, end)
                    per_modality = {m: a.within(start, end) for m, a in frames.items()}
                else:
                    idx = inside(word_iv, start, end)
                    text = words[idx]
                    per_modality = {m: a.per_word(word_iv[idx]) for m, a in frames.items()}
                yield contract.Segment(segment_id=f"{video}_{k}", video_id=video,
                                       dataset=self.dataset, label=float(labels[k, 0]),
                                       text=text, **per_modality)
            for m, averager in frames.items():
                self._empty_words[m] += averager.empty_words

    def close(self) -> None:
        for handle in getattr(self, "_handles", []):
            try:
                handle.close()
            except Exception:
                pass
        self._handles, self._data = [], {}
