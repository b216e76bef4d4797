"""Readers of the published MSA layouts, by format name.

=========  ==============================================================
format     source
=========  ==============================================================
``mult``   MulT pickles ``mosi_data.pkl`` / ``mosei_senti_data.pkl``
``mmsa``   MMSA pickles ``aligned_50.pkl`` / ``unaligned_50.pkl``
``sdk``    a folder of CMU-MultimodalSDK computational sequences (``.csd``)
``msa-h5`` a folder of msa-tf2 / Deep-HOSeq ``*_<split>*.h5`` files
=========  ==============================================================

``make_reader(format, path, ...)`` returns an unopened :class:`Reader`;
``parse_source("FORMAT:PATH")`` splits a ``--source`` value. Nothing here
imports TensorFlow.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Tuple, Type

from msa_data.readers.base import Dropped, Reader, ReaderError
from msa_data.readers.mmsa import MmsaReader
from msa_data.readers.msa_h5 import MsaH5Reader
from msa_data.readers.mult import MultReader
from msa_data.readers.sdk import SdkReader

READERS: Dict[str, Type[Reader]] = {
    r.format: r for r in (MultReader, MmsaReader, SdkReader, MsaH5Reader)}
FORMATS = tuple(READERS)


class SourceError(ValueError):
    """A bad format name, path or option (before any file is read)."""


def reader_class(fmt: str, flag: str = "--format") -> Type[Reader]:
    if fmt not in READERS:
        raise SourceError(f"{flag}: expected a format among {', '.join(FORMATS)}, found {fmt!r}")
    return READERS[fmt]


def make_reader(fmt: str, path: str, dataset: Optional[str] = None,
                unaligned: bool = False, structure_only: bool = False) -> Reader:
    """An unopened reader; raises :class:`SourceError` for a bad format/path/option.

    ``structure_only``: :meth:`Reader.open` learns the dims, dataset and
    counts without reading the bulk of the features where the layout
    allows it (the MulT and MMSA pickles); the reader cannot yield segments.
    """
    cls = reader_class(fmt)
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        kind = "file" if cls.input_kind == "file" else "folder"
        raise SourceError(f"{path}: expected an existing {kind} for format {fmt!r}, found nothing")
    if cls.input_kind == "file" and os.path.isdir(path):
        raise SourceError(f"{path}: expected a file for format {fmt!r}, found a folder")
    if cls.input_kind == "folder" and not os.path.isdir(path):
        raise SourceError(f"{path}: expected a folder for format {fmt!r}, found a file")
    if unaligned and not cls.unaligned_option:
        raise SourceError(f"--unaligned: expected only with format sdk ({fmt} files carry "
                          "their own alignment)")
    if dataset is not None and dataset not in ("mosi", "mosei"):
        raise SourceError(f"--dataset: expected mosi or mosei, found {dataset!r}")
    return cls(path, dataset=dataset, unaligned=unaligned, structure_only=structure_only)


def parse_source(source: str) -> Tuple[str, str]:
    """``(format, absolute path)`` from ``"FORMAT:PATH"``."""
    fmt, sep, path = str(source).partition(":")
    if not sep or not path:
        raise SourceError(f"--source: expected FORMAT:PATH with FORMAT one of "
                          f"{', '.join(FORMATS)}, found {source!r}")
    reader_class(fmt, "--source")
    return fmt, os.path.abspath(os.path.expanduser(path))


__all__ = ["Dropped", "FORMATS", "READERS", "Reader", "ReaderError", "SourceError",
           "make_reader", "parse_source", "reader_class"]
