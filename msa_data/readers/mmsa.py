"""MMSA (thuiar) pickles: ``aligned_50.pkl`` and ``unaligned_50.pkl``.

A dict of splits ``train``/``valid``/``test``, each with ``raw_text``,
``audio``, ``vision``, ``id`` (``'<video>$_$<clip>'``), ``text`` (BERT
features ``(N, 50, 768)``), ``text_bert`` (``(N, 3, 50)``: token ids, mask,
segment ids), ``annotations``, ``classification_labels`` and
``regression_labels`` ``(N,)``; unaligned files add ``audio_lengths`` and
``vision_lengths``. Everything is padded at the END.

True lengths: text from the ``text_bert`` mask row (trailing all-zero frames
when a file has no ``text_bert``); audio/vision from ``audio_lengths`` /
``vision_lengths`` when present, else without the trailing run of all-zero
frames. The label is ``regression_labels``. Splits come from the file.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

import numpy as np

from msa_data import contract
from msa_data.readers import trim
from msa_data.readers.base import (
    Reader,
    ReaderError,
    check_array,
    check_scalar_rows,
    describe,
    require_keys,
    resolve_dataset,
    same_width,
    text_of,
)
from msa_data.readers.pickles import load_pickle

REQUIRED = ("id", "text", "audio", "vision", "regression_labels")
SOURCE_KEY = {"text": "text", "audio": "audio", "video": "vision"}
LENGTH_KEY = {"audio": "audio_lengths", "video": "vision_lengths"}
SEPARATOR = "$_$"


def split_id(raw: str):
    """``(segment_id, video_id)`` from an MMSA id ``'<video>$_$<clip>'``."""
    if SEPARATOR in raw:
        video, clip = raw.split(SEPARATOR, 1)
        return f"{video}_{clip}", video
    return raw, raw


class MmsaReader(Reader):
    format = "mmsa"

    def __init__(self, path: str, dataset: Optional[str] = None, unaligned: bool = False,
                 structure_only: bool = False):
        super().__init__(path, dataset, unaligned, structure_only)
        self._data: Optional[Dict[str, Any]] = None
        self._labels: Dict[str, np.ndarray] = {}
        self._lengths: Dict[str, Dict[str, Optional[np.ndarray]]] = {}
        self._ids: Dict[str, list] = {}

    def _lengths_of(self, part, split: str, key: str, n: int, limit: int) -> np.ndarray:
        values = check_scalar_rows(part[key], self.path, f"{split}/{key}", n, f"{split}/text")
        values = np.asarray(values).reshape(n)
        bad = np.flatnonzero((values < 0) | (values > limit) | (values != np.round(values)))
        if bad.size:
            raise ReaderError(self.path, f"{split}/{key}", f"whole numbers in [0, {limit}]",
                              f"{values[bad[0]]!r} in row {int(bad[0])}")
        return values.astype(np.int64)

    def _check_split(self, data, split: str, dims: Dict[str, int]) -> None:
        part = data[split]
        require_keys(part, REQUIRED, self.path, f"{split}/")
        n = check_array(part["text"], self.path, f"{split}/text", 3, "(N, T, dim)").shape[0]
        shapes = {}
        for modality, key in SOURCE_KEY.items():
            arr = check_array(part[key], self.path, f"{split}/{key}", 3, "(N, T, dim)",
                              rows=n, rows_of=f"{split}/text")
            same_width(dims, modality, arr.shape[2], self.path, f"{split}/{key}", f"train/{key}")
            shapes[modality] = arr.shape
        labels = check_scalar_rows(part["regression_labels"], self.path,
                                   f"{split}/regression_labels", n, f"{split}/text")
        self._labels[split] = np.asarray(labels).reshape(n)
        lengths: Dict[str, Optional[np.ndarray]] = {}
        if "text_bert" in part:
            bert = check_array(part["text_bert"], self.path, f"{split}/text_bert", 3,
                               "(N, 3, T): token ids, mask, segment ids",
                               rows=n, rows_of=f"{split}/text")
            if bert.shape[1] < 2:
                raise ReaderError(self.path, f"{split}/text_bert", "(N, 3, T) with a mask row",
                                  f"shape {tuple(bert.shape)}")
            lengths["text"] = np.count_nonzero(np.asarray(bert[:, 1, :]), axis=1)
            over = np.flatnonzero(lengths["text"] > shapes["text"][1])
            if over.size:
                raise ReaderError(self.path, f"{split}/text_bert",
                                  f"mask lengths <= {shapes['text'][1]} (the frames in text)",
                                  f"{int(lengths['text'][over[0]])} in row {int(over[0])}")
        else:
            lengths["text"] = None
        for modality, key in LENGTH_KEY.items():
            lengths[modality] = (self._lengths_of(part, split, key, n, shapes[modality][1])
                                 if key in part else None)
        self._lengths[split] = lengths
        ids = part["id"]
        if not hasattr(ids, "__len__") or len(ids) != n:
            found = f"{len(ids)} rows" if hasattr(ids, "__len__") else describe(ids)
            raise ReaderError(self.path, f"{split}/id", f"{n} rows (one per row of {split}/text)",
                              found)
        self._ids[split] = [split_id(text_of(raw)) for raw in ids]
        self.counts[split] = int(n)

    def open(self) -> "MmsaReader":
        data = load_pickle(self.path, structure_only=self.structure_only)
        require_keys(data, contract.SPLITS, self.path)
        dims: Dict[str, int] = {}
        for split in contract.SPLITS:
            self._check_split(data, split, dims)
        self._data = data
        self.dims = {m: dims[m] for m in contract.MODALITIES}
        given = {m: self._lengths["train"][m] is not None for m in contract.MODALITIES}
        self.aligned = not (given["audio"] or given["video"])
        self.dataset = resolve_dataset(self, video_ids=[v for _, v in self._ids["train"][:50]])
        self.notes = {
            "padding": "end",
            "length_source": {
                "text": "text_bert mask" if given["text"] else "trailing all-zero frames",
                "audio": "audio_lengths" if given["audio"] else "trailing all-zero frames",
                "video": "vision_lengths" if given["video"] else "trailing all-zero frames"},
        }
        return self

    def iter_split(self, split: str) -> Iterator[contract.Segment]:
        self._check_readable()
        if self._data is None:
            self.open()
        part = self._data[split]
        lengths = self._lengths[split]
        labels = self._labels[split]
        for i, (segment_id, video_id) in enumerate(self._ids[split]):
            frames = {}
            for modality, key in SOURCE_KEY.items():
                given = lengths[modality]
                frames[modality] = (trim.strip_padding(part[key][i], trim.END) if given is None
                                    else trim.real_frames(part[key][i], given[i], trim.END))
            yield contract.Segment(segment_id=segment_id, video_id=video_id, dataset=self.dataset,
                                   label=float(labels[i]), **frames)

    def close(self) -> None:
        self._data, self._labels, self._lengths, self._ids = None, {}, {}, {}
