"""Checks a data root's files before the pipeline reads them.

ImportExampleGen and StatisticsGen fail deep inside Beam on a bad file, with
messages that may not name it. Reading every split file once here, before
the pipeline starts, turns each of these into one line naming the file and
the record:

* a truncated or corrupt TFRecord (bad length or CRC), including a stray
  file the split pattern matches that is not a TFRecord at all
  (``train.tfrecord.tmp`` left by an interrupted copy);
* a split with no examples;
* a record that is not a ``tf.train.Example``, lacks a required contract
  feature, or holds one with the wrong type.

The per-segment rules (``len x dim`` values, label range) stay with the
DataGate component, after the statistics.

The check also hands back every segment's frame counts, from which the
runner chooses the sequence lengths (:mod:`msa_data.lengths`).
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import Dict, List, Tuple

import numpy as np

from msa_data import contract

_BATCH = 256
_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}


class DataFileError(ValueError):
    """A data file the pipeline cannot read; the message is one line."""


@dataclasses.dataclass
class DataRootSummary:
    """What the check found: ``{split: (files, examples)}`` and each split's frame counts."""

    found: Dict[str, Tuple[int, int]]
    frame_counts: Dict[str, Dict[str, np.ndarray]]  # split -> modality -> (examples,)


def _expected_kinds() -> Dict[str, str]:
    """Contract feature -> the ``tf.train.Feature`` kind it must have."""
    import tensorflow as tf

    kinds = {}
    for name, spec in contract.raw_feature_spec(include_label=True).items():
        kinds[name] = {tf.string: "bytes_list", tf.float32: "float_list",
                       tf.int64: "int64_list"}[spec.dtype]
    return kinds


def record_problem(record: bytes, kinds: Dict[str, str]) -> str:
    """Why one serialized record does not parse as a contract example ('' if it does)."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    try:
        example = tf.train.Example.FromString(record)
    except DecodeError:
        return "not a tf.train.Example"
    features = example.features.feature
    for name, kind in kinds.items():
        if name not in features:
            return f"missing required feature {name!r}"
        found = features[name].WhichOneof("kind")
        if found != kind:
            return (f"feature {name!r} is {_KIND_NAMES.get(found, 'empty')}, expected "
                    f"{_KIND_NAMES[kind]}")
    return ""


def _check_file(path: str, kinds: Dict[str, str], counts: Dict[str, List[np.ndarray]]) -> int:
    """Reads and parses every record of one file; returns how many it holds.

    Appends each batch's frame counts to ``counts[modality]``.
    """
    import tensorflow as tf

    compression = "GZIP" if path.endswith(".gz") else ""
    spec = contract.raw_feature_spec(include_label=True)
    count = 0
    batch: List[bytes] = []

    def parse(batch: List[bytes], first: int) -> None:
        try:
            parsed = tf.io.parse_example(tf.constant(batch), spec)
        except (tf.errors.InvalidArgumentError, ValueError):
            for offset, record in enumerate(batch):
                problem = record_problem(record, kinds)
                if problem:
                    raise DataFileError(f"{path}: record {first + offset}: {problem}") from None
            raise DataFileError(f"{path}: records {first}-{first + len(batch) - 1}: do not "
                                "parse as data-contract examples") from None
        for modality in contract.MODALITIES:
            counts[modality].append(
                parsed[contract.length_key(modality)].numpy().reshape(-1).astype(np.int64))

    try:
        for record in tf.data.TFRecordDataset(path, compression_type=compression) \
                .as_numpy_iterator():
            batch.append(record)
            count += 1
            if len(batch) == _BATCH:
                parse(batch, count - len(batch))
                batch = []
    except tf.errors.DataLossError:
        raise DataFileError(
            f"{path}: record {count}: truncated or corrupt (bad length or CRC); expected a "
            f"complete TFRecord file{' (gzip)' if compression else ''}") from None
    except tf.errors.OpError as err:
        reason = (err.message or type(err).__name__).splitlines()[0]
        raise DataFileError(f"{path}: cannot be read as a TFRecord file ({reason})") from None
    if batch:
        parse(batch, count - len(batch))
    return count


def check_data_root(data_root: str) -> DataRootSummary:
    """Checks every split's files; returns what it found.

    Raises :class:`DataFileError` with one line on the first problem found.
    """
    kinds = _expected_kinds()
    found = {}
    frame_counts = {}
    for split in contract.SPLITS:
        paths = sorted(glob.glob(os.path.join(data_root, contract.split_pattern(split))))
        if not paths:
            raise DataFileError(f"{data_root}: no file for split {split!r}; expected "
                                f"{contract.split_pattern(split)}")
        counts: Dict[str, List[np.ndarray]] = {m: [] for m in contract.MODALITIES}
        total = sum(_check_file(path, kinds, counts) for path in paths)
        frame_counts[split] = {m: np.concatenate(c) if c else np.zeros(0, np.int64)
                               for m, c in counts.items()}
        if total == 0:
            raise DataFileError(f"{data_root}: split {split!r} has no examples in "
                                f"{', '.join(os.path.basename(p) for p in paths)}")
        found[split] = (len(paths), total)
    return DataRootSummary(found, frame_counts)
