"""Loading the data pickles of MulT and MMSA, safely.

A pickle can run arbitrary code when loaded. These files only ever hold
numpy arrays inside dicts and lists, so the unpickler refuses every class
outside numpy's array machinery and Python's plain containers. Arrays are
loaded as they are stored: with pickle protocol >= 3 numpy takes over the
loaded buffer without a copy, so the loaded data costs about the file size.

``load_pickle(path, structure_only=True)`` reads the same objects without
the bulk of the data: the raw bytes of every floating-point array over
:data:`STRUCTURE_ONLY_BYTES` (the features) are skipped on disk (not read)
and the array comes back as a read-only array of zeros of its shape and
dtype that takes no memory. Everything else is read as usual: small arrays
(labels), integer arrays (lengths, BERT token masks, which the readers
check) and text or object arrays (ids). That is
enough to learn a file's splits, counts, dims and dataset before a run, at
a fraction of the file's size in memory and time.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import struct
from typing import Any

import numpy as np

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


STRUCTURE_ONLY_BYTES = 1 << 20  # arrays larger than this are not read by structure_only


def _allowed_class(base_find_class, path: str, module: str, name: str) -> Any:
    # numpy >= 2 writes numpy._core.*; older numpy calls it numpy.core.*
    canonical = module.replace("numpy._core", "numpy.core", 1)
    if (canonical, name) in _NUMPY:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return getattr(importlib.import_module(canonical), name)
    if module in ("builtins", "__builtin__") and name in _BUILTINS:
        return base_find_class("builtins", name)
    if (module, name) in _OTHER:
        return base_find_class(module, name)
    raise ReaderError(path, None, "a data pickle (numpy arrays in dicts and lists only)",
                      f"a reference to {module}.{name}")


class _DataUnpickler(pickle.Unpickler):
    def __init__(self, fh, path: str):
        super().__init__(fh, encoding="latin1")  # latin1: Python 2 numpy pickles
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        return _allowed_class(super().find_class, self._path, module, name)


class _Skipped:
    """A large byte string left on disk, and how to read it if it is needed.

    Floating-point arrays built from it become zeros; anything else (ids,
    integer masks, a long string) is read after all, from ``offset``,
    through the same decoding steps.
    """

    def __init__(self, fh, offset: int, size: int, steps):
        self._fh, self._offset, self.size, self._steps = fh, offset, size, list(steps)

    def then(self, step) -> "_Skipped":
        return _Skipped(self._fh, self._offset, self.size, [*self._steps, step])

    def fetch(self):
        position = self._fh.tell()
        try:
            self._fh.seek(self._offset)
            value = self._fh.read(self.size)
        finally:
            self._fh.seek(position)
        if len(value) < self.size:
            raise EOFError("pickle data was truncated")
        for step in self._steps:
            value = step(value)
        return value


def _skippable(dtype) -> bool:
    """Feature arrays: what structure_only need not read."""
    return np.dtype(dtype).kind in "fc"


class _ArrayStub:
    """What ``_reconstruct`` builds; ``BUILD`` gives it the array's state."""

    array = None

    def __setstate__(self, state) -> None:
        shape, dtype, raw = state[-4], state[-3], state[-1]  # (version,) shape dtype order raw
        if isinstance(raw, _Skipped):
            if _skippable(dtype):
                self.array = _zeros(shape, dtype)
                return
            state = (*state[:-1], raw.fetch())
        self.array = np.ndarray.__new__(np.ndarray, (0,), np.dtype("b"))
        self.array.__setstate__(state)


def _zeros(shape, dtype) -> np.ndarray:
    """A read-only array of zeros of any shape that takes one element of memory."""
    return np.broadcast_to(np.zeros((), dtype=dtype), tuple(shape))


def _frombuffer_or_zeros(frombuffer):
    """numpy's protocol-5 ``_frombuffer(buffer, dtype, shape, order)``, with zeros
    for a skipped floating-point buffer."""

    def call(buffer, dtype, shape, order):
        if isinstance(buffer, _Skipped):
            if _skippable(dtype):
                return _zeros(shape, dtype)
            buffer = buffer.fetch()
        return frombuffer(buffer, dtype, shape, order)

    return call


def _encode_later(encode):
    """``_codecs.encode`` (protocol 2 writes bytes as latin1 text), deferred
    for a skipped string until it is read."""

    def call(value, *args):
        if isinstance(value, _Skipped):
            return value.then(lambda text: encode(text, *args))
        return encode(value, *args)

    return call


class _StructureUnpickler(pickle._Unpickler):
    """The pure-Python unpickler, taught to seek past large byte strings.

    The C unpickler reads every byte string whole; this one reads each large
    one's length, seeks over it and leaves a :class:`_Skipped` in its place,
    which the array builders above turn into zero-memory arrays
    (floating-point dtypes) or read after all (everything else).
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, fh, path: str):
        super().__init__(fh, encoding="latin1")
        self._fh, self._path = fh, path

    def find_class(self, module: str, name: str) -> Any:
        found = _allowed_class(super().find_class, self._path, module, name)
        if name == "_reconstruct":
            return lambda *args: _ArrayStub()
        if name == "_frombuffer":
            return _frombuffer_or_zeros(found)
        if (module, name) == ("_codecs", "encode"):
            return _encode_later(found)
        return found

    def _outside_frame(self) -> bool:
        frame = self._unframer.current_frame
        if frame is None:
            return True
        position = frame.tell()
        end = frame.seek(0, io.SEEK_END)
        frame.seek(position)
        return position == end

    def _bytes(self, length_format: str, decode) -> None:
        size, = struct.unpack(length_format, self.read(struct.calcsize(length_format)))
        if size < 0:
            raise pickle.UnpicklingError("negative byte count")
        if size > STRUCTURE_ONLY_BYTES and self._outside_frame():
            offset = self._fh.tell()
            self._fh.seek(size, io.SEEK_CUR)
            self.append(_Skipped(self._fh, offset, size, [decode]))
        else:
            self.append(decode(self.read(size)))

    def _load_binbytes(self):
        self._bytes("<I", bytes)

    def _load_binbytes8(self):
        self._bytes("<Q", bytes)

    def _load_bytearray8(self):
        self._bytes("<Q", bytearray)

    def _load_binstring(self):
        self._bytes("<i", self._decode_string)

    def _load_binunicode(self):
        self._bytes("<I", lambda raw: str(raw, "utf-8", "surrogatepass"))

    def _load_binunicode8(self):
        self._bytes("<Q", lambda raw: str(raw, "utf-8", "surrogatepass"))

    dispatch[pickle.BINBYTES[0]] = _load_binbytes
    dispatch[pickle.BINBYTES8[0]] = _load_binbytes8
    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    dispatch[pickle.BINSTRING[0]] = _load_binstring
    dispatch[pickle.BINUNICODE[0]] = _load_binunicode
    dispatch[pickle.BINUNICODE8[0]] = _load_binunicode8


def _unstub(value: Any) -> Any:
    """Replaces every :class:`_ArrayStub` in dicts, lists, tuples and object
    arrays by its array, and reads any :class:`_Skipped` left over (a long
    string that was not array data)."""
    if isinstance(value, _ArrayStub):
        return _unstub(value.array)
    if isinstance(value, _Skipped):
        return value.fetch()
    if isinstance(value, np.ndarray) and value.dtype == object:
        for index, item in np.ndenumerate(value):
            value[index] = _unstub(item)
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _unstub(item)
        return value
    if isinstance(value, list):
        value[:] = [_unstub(item) for item in value]
        return value
    if isinstance(value, tuple):
        return tuple(_unstub(item) for item in value)
    return value


def load_pickle(path: str, structure_only: bool = False) -> Any:
    """The unpickled object; a :class:`ReaderError` for anything unreadable.

    ``structure_only``: large arrays come back as zeros, unread (see above).
    """
    if not os.path.exists(path):
        raise ReaderError(path, None, "an existing pickle file", "no such file")
    if os.path.isdir(path):
        raise ReaderError(path, None, "a pickle file", "a folder")
    try:
        with open(path, "rb") as fh:
            if structure_only:
                return _unstub(_StructureUnpickler(fh, path).load())
            return _DataUnpickler(fh, path).load()
    except ReaderError:
        raise
    except MemoryError:
        raise ReaderError(path, None, "a pickle that fits in memory", "MemoryError") from None
    except Exception as err:  # EOFError, UnpicklingError, OSError, ValueError, ...
        detail = str(err).splitlines()[0] if str(err) else ""
        # struct.error: the pure-Python unpickler (structure_only) ran out of bytes
        truncated = (EOFError, pickle.UnpicklingError, struct.error)
        hint = "truncated or corrupt data" if isinstance(err, truncated) else "unreadable data"
        raise ReaderError(path, None, "a complete, readable pickle file",
                          f"{hint} ({type(err).__name__}: {detail})") from None
