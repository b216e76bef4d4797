"""msa-tf2 / Deep-HOSeq HDF5 files.

A folder with, per split, ``text_<split>_emb.h5``, ``audio_<split>.h5``,
``video_<split>.h5`` and ``y_<split>.h5``, each holding one dataset ``d1``:
``(N, 20, dim)`` features, front zero-padded (NaN inside), and ``(N, 1)``
labels. There are no ids: segment ids are ``<split>-<index>`` and the video
id is ``unknown``. Samples are streamed in blocks, never all loaded.
"""

from __future__ import annotations

import os
from typing import Dict, Iterator, Optional

import numpy as np

from msa_data import contract
from msa_data.readers import trim
from msa_data.readers.base import (
    Reader,
    ReaderError,
    check_array,
    check_scalar_rows,
    resolve_dataset,
    same_width,
)

DATASET_KEY = "d1"
UNKNOWN_VIDEO = "unknown"
BLOCK = 256  # samples read from each file at a time
FILES = {"text": "text_{split}_emb.h5", "audio": "audio_{split}.h5",
         "video": "video_{split}.h5", "label": "y_{split}.h5"}


def open_h5(path: str, what: str):
    import h5py

    if not os.path.exists(path):
        raise ReaderError(path, None, f"an HDF5 file ({what})", "no such file")
    try:
        return h5py.File(path, "r")
    except Exception as err:  # OSError for truncated/corrupt files
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ReaderError(path, None, f"a readable HDF5 file ({what})",
                          f"{type(err).__name__}: {detail}") from None


def read_block(dataset, start: int, stop: int, path: str, key: str) -> np.ndarray:
    try:
        return dataset[start:stop]
    except Exception as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ReaderError(path, key, f"readable rows {start}..{stop - 1}",
                          f"{type(err).__name__}: {detail}") from None


class MsaH5Reader(Reader):
    format = "msa-h5"
    input_kind = "folder"

    @classmethod
    def split_files(cls, path: str, split: str) -> str:
        return f"*_{split}*.h5"  # the split's text/audio/video/y files

    def __init__(self, path: str, dataset: Optional[str] = None, unaligned: bool = False,
                 structure_only: bool = False):
        super().__init__(path, dataset, unaligned, structure_only)
        self._files: Dict[str, Dict[str, object]] = {}

    def _path(self, role: str, split: str) -> str:
        return os.path.join(self.path, FILES[role].format(split=split))

    def _dataset(self, role: str, split: str):
        path = self._path(role, split)
        handle = open_h5(path, f"{role} of split {split}")
        self._files.setdefault(split, {})[role] = handle
        if DATASET_KEY not in handle:
            raise ReaderError(path, DATASET_KEY, f"a dataset {DATASET_KEY!r}",
                              f"keys {sorted(handle.keys())[:12]}")
        return handle[DATASET_KEY]

    def open(self) -> "MsaH5Reader":
        if not os.path.isdir(self.path):
            raise ReaderError(self.path, None, "a folder of text/audio/video/y_<split> .h5 files",
                              "no such folder" if not os.path.exists(self.path) else "a file")
        dims: Dict[str, int] = {}
        lengths = {}
        for split in contract.SPLITS:
            text_path = self._path("text", split)
            n = check_array(self._dataset("text", split), text_path, DATASET_KEY, 3,
                            "(N, T, dim)").shape[0]
            for modality in contract.MODALITIES:
                path = self._path(modality, split)
                ds = check_array(self._dataset(modality, split), path, DATASET_KEY, 3,
                                 "(N, T, dim)", rows=n, rows_of=f"{os.path.basename(text_path)}")
                same_width(dims, modality, ds.shape[2], path, DATASET_KEY,
                           os.path.basename(self._path(modality, "train")))
                lengths[modality] = ds.shape[1]
            check_scalar_rows(self._dataset("label", split), self._path("label", split),
                              DATASET_KEY, n, os.path.basename(text_path))
            self.counts[split] = int(n)
        self.dims = {m: dims[m] for m in contract.MODALITIES}
        self.aligned = len(set(lengths.values())) == 1
        self.dataset = resolve_dataset(self)
        self.notes = {"padding": "front (leading all-zero frames per modality)",
                      "sequence_lengths": lengths, "ids": "<split>-<index>, video 'unknown'"}
        return self

    def iter_split(self, split: str) -> Iterator[contract.Segment]:
        self._check_readable()
        if not self._files:
            self.open()
        sources = {role: self._files[split][role][DATASET_KEY] for role in FILES}
        n = self.counts[split]
        for start in range(0, n, BLOCK):
            stop = min(start + BLOCK, n)
            block = {role: read_block(ds, start, stop, self._path(role, split), DATASET_KEY)
                     for role, ds in sources.items()}
            labels = block["label"].reshape(stop - start)
            for j in range(stop - start):
                yield contract.Segment(
                    segment_id=f"{split}-{start + j}", video_id=UNKNOWN_VIDEO,
                    dataset=self.dataset, label=float(labels[j]),
                    **{m: trim.strip_padding(block[m][j], trim.FRONT) for m in contract.MODALITIES})

    def close(self) -> None:
        for handles in self._files.values():
            for handle in handles.values():
                try:
                    handle.close()
                except Exception:
                    pass
        self._files = {}
