"""Loading the data pickles of MulT and MMSA, safely.

A pickle can run arbitrary code when loaded. These files only ever hold
numpy arrays inside dicts and lists, so the unpickler refuses every class
outside numpy's array machinery and Python's plain containers. Arrays are
loaded as they are stored: with pickle protocol >= 3 numpy takes over the
loaded buffer without a copy, so the loaded data costs about the file size.
"""

from __future__ import annotations

import importlib
import os
import pickle
from typing import Any

from msa_data.readers.base import ReaderError

_NUMPY = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
}
_BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "bytearray", "bytes", "str", "int",
             "float", "complex", "bool", "slice", "range", "object"}
_OTHER = {("collections", "OrderedDict"), ("_codecs", "encode"),
          ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor")}


class _DataUnpickler(pickle.Unpickler):
    def __init__(self, fh, path: str):
        super().__init__(fh, encoding="latin1")  # latin1: Python 2 numpy pickles
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        # numpy >= 2 writes numpy._core.*; older numpy calls it numpy.core.*
        canonical = module.replace("numpy._core", "numpy.core", 1)
        if (canonical, name) in _NUMPY:
            try:
                return getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                return getattr(importlib.import_module(canonical), name)
        if module in ("builtins", "__builtin__") and name in _BUILTINS:
            return super().find_class("builtins", name)
        if (module, name) in _OTHER:
            return super().find_class(module, name)
        raise ReaderError(self._path, None,
                          "a data pickle (numpy arrays in dicts and lists only)",
                          f"a reference to {module}.{name}")


def load_pickle(path: str) -> Any:
    """The unpickled object; a :class:`ReaderError` for anything unreadable."""
    if not os.path.exists(path):
        raise ReaderError(path, None, "an existing pickle file", "no such file")
    if os.path.isdir(path):
        raise ReaderError(path, None, "a pickle file", "a folder")
    try:
        with open(path, "rb") as fh:
            return _DataUnpickler(fh, path).load()
    except ReaderError:
        raise
    except MemoryError:
        raise ReaderError(path, None, "a pickle that fits in memory", "MemoryError") from None
    except Exception as err:  # EOFError, UnpicklingError, OSError, ValueError, ...
        detail = str(err).splitlines()[0] if str(err) else ""
        hint = "truncated or corrupt data" if isinstance(err, (EOFError, pickle.UnpicklingError)) \
            else "unreadable data"
        raise ReaderError(path, None, "a complete, readable pickle file",
                          f"{hint} ({type(err).__name__}: {detail})") from None
