"""MulT (Tsai et al., 2019) pickles: ``mosi_data.pkl``, ``mosei_senti_data.pkl``.

``data[split][key]`` for splits ``train``/``valid``/``test`` and keys
``text``, ``audio``, ``vision`` (``(N, T, dim)``), ``labels`` (``(N, 1, 1)``)
and ``id`` (``(N, 3)``; the first field is the video id, bytes for MOSI and
str for MOSEI). Aligned files (``T`` = 50 for every modality) and the
``*_noalign.pkl`` files (longer, per-modality ``T``) are both front
zero-padded; each modality's true length is its sequence without the
leading run of all-zero frames. Splits come from the file.

Segment ids are ``<video>_<second id field>`` (the whole id row joined by
``_`` if that repeats, then ``#<split>-<row>``).
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

KEYS = ("text", "audio", "vision", "labels", "id")
SOURCE_KEY = {"text": "text", "audio": "audio", "video": "vision"}


def _fields(row) -> list:
    if isinstance(row, (str, bytes, np.str_, np.bytes_)):
        return [text_of(row)]
    return [text_of(f) for f in row]


class MultReader(Reader):
    format = "mult"

    def __init__(self, path: str, dataset: Optional[str] = None, unaligned: bool = False,
                 structure_only: bool = False):
        super().__init__(path, dataset, unaligned, structure_only)
        self._data: Optional[Dict[str, Any]] = None
        self._labels: Dict[str, Any] = {}
        self._ids: Dict[str, list] = {}

    def open(self) -> "MultReader":
        data = load_pickle(self.path, structure_only=self.structure_only)
        require_keys(data, contract.SPLITS, self.path)
        dims: Dict[str, int] = {}
        lengths = set()
        for split in contract.SPLITS:
            part = data[split]
            require_keys(part, KEYS, self.path, f"{split}/")
            text = check_array(part["text"], self.path, f"{split}/text", 3, "(N, T, dim)")
            n = text.shape[0]
            for modality, key in SOURCE_KEY.items():
                arr = check_array(part[key], self.path, f"{split}/{key}", 3, "(N, T, dim)",
                                  rows=n, rows_of=f"{split}/text")
                same_width(dims, modality, arr.shape[2], self.path, f"{split}/{key}", f"train/{key}")
                lengths.add((modality, arr.shape[1]))
            self._labels[split] = check_scalar_rows(part["labels"], self.path, f"{split}/labels",
                                                    n, f"{split}/text")
            ids = part["id"]
            if not hasattr(ids, "__len__") or len(ids) != n:
                found = f"{len(ids)} rows, {describe(ids)}" if hasattr(ids, "__len__") \
                    else describe(ids)
                raise ReaderError(self.path, f"{split}/id",
                                  f"{n} rows (one per row of {split}/text)", found)
            self.counts[split] = int(n)
        self._data = data
        self._ids = self._segment_ids()
        self.dims = {m: dims[m] for m in contract.MODALITIES}
        self.aligned = len({t for _, t in lengths}) == 1 and "noalign" not in self.path.lower()
        self.dataset = resolve_dataset(self, video_ids=self._first_videos())
        self.notes = {"padding": "front (leading all-zero frames per modality)",
                      "sequence_lengths": {m: sorted(t for mm, t in lengths if mm == m)
                                           for m in contract.MODALITIES}}
        return self

    def _first_videos(self, k: int = 50):
        return [video for _, video in self._ids["train"][:k]]

    def _segment_ids(self) -> Dict[str, list]:
        """``(segment_id, video_id)`` per row, unique over the whole file."""
        seen: set = set()
        result: Dict[str, list] = {}
        for split in contract.SPLITS:
            rows = []
            for i, row in enumerate(self._data[split]["id"]):
                fields = _fields(row)
                if not fields or not fields[0]:
                    raise ReaderError(self.path, f"{split}/id", "a video id in the first field",
                                      f"{row!r} in row {i}")
                video = fields[0]
                candidates = [f"{video}_{fields[1]}" if len(fields) > 1 and fields[1] else video,
                              "_".join(f for f in fields if f)]
                chosen = next((c for c in candidates if c not in seen),
                              f"{candidates[-1]}#{split}-{i}")
                seen.add(chosen)
                rows.append((chosen, video))
            result[split] = rows
        return result

    def iter_split(self, split: str) -> Iterator[contract.Segment]:
        self._check_readable()
        if self._data is None:
            self.open()
        part = self._data[split]
        labels = self._labels[split]
        for i, (segment_id, video_id) in enumerate(self._ids[split]):
            frames = {m: trim.strip_padding(part[key][i], trim.FRONT)
                      for m, key in SOURCE_KEY.items()}
            label = labels[i].flat[0] if labels.ndim > 1 else labels[i]
            yield contract.Segment(segment_id=segment_id, video_id=video_id,
                                   dataset=self.dataset, label=float(label), **frames)

    def close(self) -> None:
        self._data, self._labels, self._ids = None, {}, {}
