"""The reader interface shared by every source layout.

A :class:`Reader` turns one downloaded file (or folder) into contract
segments. ``open()`` checks the whole structure up front (keys, splits,
ranks, dtypes, row counts) without converting anything and fills in
``dims``, ``dataset``, ``counts`` and ``dropped``; ``iter_split(split)``
then yields that split's :class:`~msa_data.contract.Segment` s one by one,
as views into the loaded (or streamed) source arrays. Values are passed on
as found, ``-inf``/NaN included.

Every problem with the input is a :class:`ReaderError`: one line naming the
file, the key, what was expected and what was found.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from msa_data import contract

SOURCE_DATASETS = ("mosi", "mosei")


class ReaderError(ValueError):
    """A source file that does not have the layout its format promises."""

    def __init__(self, path: str, key: Optional[str], expected: str, found: str):
        self.path, self.key, self.expected, self.found = path, key, expected, found
        where = f"{path}: key {key!r}" if key else str(path)
        message = f"{where}: expected {expected}, found {found}"
        super().__init__(" ".join(message.split()))  # always one line


@dataclasses.dataclass(frozen=True)
class Dropped:
    """A source segment that is not in any split, and why."""

    segment_id: str
    video_id: str
    reason: str


class Reader(abc.ABC):
    """One source layout. Subclasses set ``format`` and implement the two methods."""

    format: str = ""
    # True when the layout can be read either way (--unaligned); the other
    # layouts carry their own alignment.
    unaligned_option = False
    # "file": PATH is one file holding every split; "folder": PATH is a folder.
    input_kind = "file"

    @classmethod
    def split_files(cls, path: str, split: str) -> str:
        """Glob, relative to :meth:`input_base`, of the files a split is read from."""
        return os.path.basename(os.path.abspath(path))

    @classmethod
    def input_base(cls, path: str) -> str:
        """The folder an ExampleGen watches for ``path``."""
        path = os.path.abspath(path)
        return path if cls.input_kind == "folder" else os.path.dirname(path)

    def __init__(self, path: str, dataset: Optional[str] = None, unaligned: bool = False,
                 structure_only: bool = False):
        self.path = os.path.abspath(os.fspath(path))
        # open() learns dims, dataset and counts without reading the bulk of
        # the features where the layout allows it; iter_split then refuses.
        self.structure_only = bool(structure_only)
        self.requested_dataset = dataset
        self.unaligned = bool(unaligned)
        self.dims: Dict[str, int] = {}
        self.dataset = ""
        self.aligned = not unaligned
        self.counts: Dict[str, int] = {}  # segments per split, known after open()
        self.dropped: List[Dropped] = []
        self.notes: Dict[str, Any] = {}  # layout facts for the conversion report

    @abc.abstractmethod
    def open(self) -> "Reader":
        """Checks the source and fills in dims, dataset, counts and dropped."""

    @abc.abstractmethod
    def iter_split(self, split: str) -> Iterator[contract.Segment]:
        """Yields the segments of one split, in source order."""

    def __iter__(self) -> Iterator[Tuple[str, contract.Segment]]:
        for split in contract.SPLITS:
            for segment in self.iter_split(split):
                yield split, segment

    def close(self) -> None:
        """Releases open files and loaded arrays."""

    def __enter__(self) -> "Reader":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_readable(self) -> None:
        """For iter_split: a structure-only reader holds no feature values."""
        if self.structure_only:
            raise RuntimeError(f"{self.path}: opened with structure_only; open a reader "
                               "without it to read segments")

    def total(self) -> int:
        return int(sum(self.counts.values()))


# --------------------------------------------------------------------------
# Checks shared by the readers


def describe(value: Any) -> str:
    """Short description of a value for an error message."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"shape {tuple(value.shape)} dtype {value.dtype}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))[:12]}"
    return f"a {type(value).__name__}"


def require_keys(container: Any, keys: Sequence[str], path: str, prefix: str = "") -> None:
    """Raises unless ``container`` is a mapping holding every one of ``keys``."""
    where = prefix.rstrip("/") or None
    if not hasattr(container, "keys") or not hasattr(container, "__getitem__"):
        raise ReaderError(path, where, f"a dict with keys {', '.join(keys)}", describe(container))
    present = set(container.keys())
    for key in keys:
        if key not in present:
            found = sorted(map(str, present))
            raise ReaderError(path, f"{prefix}{key}", f"keys {', '.join(keys)}",
                              f"no {key!r} among keys {found[:16]}")


def check_array(value: Any, path: str, key: str, rank: int, layout: str,
                rows: Optional[int] = None, rows_of: str = "", width: Optional[int] = None,
                width_of: str = "") -> Any:
    """Checks a numeric array (numpy or HDF5 dataset) by rank, rows and width.

    ``layout`` describes the expected shape (e.g. ``(N, T, dim)``) for the
    error line. Returns the value, converted to a numpy array when it was a
    plain Python sequence.
    """
    if not hasattr(value, "dtype") or not hasattr(value, "shape"):
        try:
            value = np.asarray(value)
        except Exception:  # ragged lists and the like
            raise ReaderError(path, key, f"a numeric array {layout}", describe(value)) from None
    if value.dtype.kind not in "fiub":
        raise ReaderError(path, key, f"a numeric array {layout}", f"dtype {value.dtype}")
    if len(value.shape) != rank:
        raise ReaderError(path, key, f"rank {rank} {layout}",
                          f"rank {len(value.shape)} shape {tuple(value.shape)}")
    if rows is not None and value.shape[0] != rows:
        raise ReaderError(path, key, f"{rows} rows (one per row of {rows_of})",
                          f"{value.shape[0]} rows, shape {tuple(value.shape)}")
    if width is not None and value.shape[-1] != width:
        raise ReaderError(path, key, f"width {width} (as in {width_of})",
                          f"width {value.shape[-1]}, shape {tuple(value.shape)}")
    return value


def check_scalar_rows(value: Any, path: str, key: str, rows: int, rows_of: str) -> np.ndarray:
    """A per-row scalar array such as labels: ``(N,)``, ``(N, 1)`` or ``(N, 1, 1)``."""
    if not hasattr(value, "dtype") or not hasattr(value, "shape"):
        try:
            value = np.asarray(value)
        except Exception:
            raise ReaderError(path, key, "a numeric array (N,) or (N, 1)", describe(value)) from None
    if value.dtype.kind not in "fiub":
        raise ReaderError(path, key, "a numeric array (N,) or (N, 1)", f"dtype {value.dtype}")
    shape = tuple(value.shape)
    if len(shape) < 1 or any(d != 1 for d in shape[1:]):
        raise ReaderError(path, key, "one value per row: (N,), (N, 1) or (N, 1, 1)",
                          f"shape {shape}")
    if shape[0] != rows:
        raise ReaderError(path, key, f"{rows} rows (one per row of {rows_of})",
                          f"{shape[0]} rows, shape {shape}")
    return value


def same_width(dims: Dict[str, int], modality: str, width: int, path: str, key: str,
               first_key: str) -> None:
    """Records a modality's width, or raises when it differs from an earlier one."""
    if modality not in dims:
        dims[modality] = int(width)
    elif dims[modality] != int(width):
        raise ReaderError(path, key, f"width {dims[modality]} (as in {first_key})", f"width {width}")


def text_of(value: Any) -> str:
    """A str from a str/bytes/numpy scalar id field."""
    if isinstance(value, (bytes, bytearray, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace").strip()
    return str(value).strip()


# --------------------------------------------------------------------------
# Which dataset


def _dataset_in_name(name: str) -> Optional[str]:
    name = name.lower()
    if "mosei" in name:
        return "mosei"
    if "mosi" in name:
        return "mosi"
    return None


def infer_dataset(requested: Optional[str], path: str, names: Iterable[str] = (),
                  video_ids: Iterable[str] = ()) -> Optional[str]:
    """``mosi``/``mosei`` from, in order: the request, file names, the path, fold membership."""
    if requested:
        if requested not in SOURCE_DATASETS:
            raise ReaderError(path, None, f"--dataset one of {', '.join(SOURCE_DATASETS)}",
                              repr(requested))
        return requested
    for name in names:
        found = _dataset_in_name(os.path.basename(name))
        if found:
            return found
    for part in reversed(os.path.abspath(path).split(os.sep)):
        found = _dataset_in_name(part)
        if found:
            return found
    ids = set(video_ids)
    if ids:
        from msa_data.synth_plan import standard_folds

        folds = standard_folds()
        hits = {d: len(ids & {v for s in folds[d].values() for v in s}) for d in SOURCE_DATASETS}
        best = max(hits, key=hits.get)
        if hits[best]:
            return best
    return None


def resolve_dataset(reader: Reader, names: Iterable[str] = (),
                    video_ids: Iterable[str] = ()) -> str:
    found = infer_dataset(reader.requested_dataset, reader.path, names, video_ids)
    if found is None:
        raise ReaderError(reader.path, None,
                          "a file or folder name containing mosi/mosei, or --dataset mosi|mosei",
                          "neither")
    return found
