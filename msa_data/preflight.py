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
  feature, or holds one with the wrong type;
* a modality that does not hold ``len x dim`` values (when the dims are
  given), named by segment and by the user's file (the DataGate component
  checks it again inside the pipeline, where it can only name TFX's copy);
* a path the split pattern matches that is not a regular file (a FIFO would
  block the reader forever, a folder fails deep in TensorFlow): refused
  before it is opened. What the patterns do not match is never looked at;
* a label that is NaN, infinite or outside [-3, 3] (named by segment, file
  and split; the schema says so again inside the pipeline, where only the
  split can be named).

It also collects the keys that show examples or speakers shared between
splits (:mod:`msa_data.leakage`), for the caller to refuse or record.

The check also hands back every segment's frame counts, from which the
runner chooses the sequence lengths (:mod:`msa_data.lengths`).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import stat
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from msa_data import contract, leakage

_BATCH = 256
_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}


class DataFileError(ValueError):
    """A data file the pipeline cannot read; the message is one line."""


@dataclasses.dataclass
class DataRootSummary:
    """What the check found: ``{split: (files, examples)}``, each split's frame counts
    and the overlaps between splits (empty when the splits are disjoint)."""

    found: Dict[str, Tuple[int, int]]
    frame_counts: Dict[str, Dict[str, np.ndarray]]  # split -> modality -> (examples,)
    overlaps: List[leakage.Overlap] = dataclasses.field(default_factory=list)
    keys: Dict[str, leakage.SplitKeys] = dataclasses.field(default_factory=dict)


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


_NOT_REGULAR = ((stat.S_ISDIR, "is a folder"), (stat.S_ISFIFO, "is a FIFO (named pipe)"),
                (stat.S_ISSOCK, "is a socket"), (stat.S_ISCHR, "is a character device"),
                (stat.S_ISBLK, "is a block device"))


def not_a_regular_file(path: str) -> str:
    """'' for a regular file (or a link to one), else what it is; never opens it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if stat.S_ISREG(mode):
        return ""
    return next((name for test, name in _NOT_REGULAR if test(mode)), "is not a regular file")


def _check_file(path: str, split: str, kinds: Dict[str, str],
                counts: Dict[str, List[np.ndarray]], dims: Optional[Mapping[str, int]],
                keys: leakage.SplitKeys) -> int:
    """Reads and parses every record of one file; returns how many it holds.

    Appends each batch's frame counts to ``counts[modality]`` and each
    example's keys to ``keys``.
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
        ids = parsed[contract.SEGMENT_ID].numpy()
        labels = parsed[contract.LABEL].numpy().reshape(-1)
        outside = np.flatnonzero(~(np.isfinite(labels) & (labels >= contract.LABEL_MIN)
                                   & (labels <= contract.LABEL_MAX)))
        if outside.size:
            i = outside[0]
            raise DataFileError(
                f"{path}: segment {ids[i].decode('utf-8', 'replace')!r} (record {first + i}): "
                f"feature 'label' is {labels[i]}, expected a finite value in "
                f"[{contract.LABEL_MIN:g}, {contract.LABEL_MAX:g}] (split {split!r})")
        for modality in contract.MODALITIES:
            lengths = parsed[contract.length_key(modality)].numpy().reshape(-1).astype(np.int64)
            counts[modality].append(lengths)
            if dims:
                values = np.bincount(parsed[modality].indices.numpy()[:, 0],
                                     minlength=len(batch))
                wrong = np.flatnonzero(values != lengths * dims[modality])
                if wrong.size:
                    i = wrong[0]
                    try:
                        contract.check_flat_length(ids[i].decode("utf-8", "replace"), modality,
                                                   int(values[i]), int(lengths[i]),
                                                   int(dims[modality]), f" in {path}")
                    except contract.ContractError as err:
                        # the text width is the one a user sets (BERT 768, GloVe 300)
                        hint = "; --text-dim sets the text dim" if modality == "text" else ""
                        raise DataFileError(f"{err} (record {first + i}){hint}") from None
        for record in batch:
            keys.add(tf.train.Example.FromString(record))

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


def check_data_root(data_root: str, dims: Optional[Mapping[str, int]] = None) \
        -> DataRootSummary:
    """Checks every split's files; returns what it found.

    Raises :class:`DataFileError` with one line on the first problem found.
    With ``dims`` every example's ``len x dim`` rule is checked too.
    """
    kinds = _expected_kinds()
    found = {}
    frame_counts = {}
    keys: Dict[str, leakage.SplitKeys] = {}
    paths_of = {split: sorted(glob.glob(os.path.join(data_root, contract.split_pattern(split))))
                for split in contract.SPLITS}
    for split, paths in paths_of.items():  # before any file is opened
        for path in paths:
            what = not_a_regular_file(path)
            if what:
                raise DataFileError(f"{path}: {what}, matched by split pattern "
                                    f"{contract.split_pattern(split)!r}; expected a regular "
                                    "TFRecord file (move it out of the data root)")
    for split, paths in paths_of.items():
        if not paths:
            raise DataFileError(f"{data_root}: no file for split {split!r}; expected "
                                f"{contract.split_pattern(split)}")
        counts: Dict[str, List[np.ndarray]] = {m: [] for m in contract.MODALITIES}
        keys[split] = leakage.SplitKeys()
        total = sum(_check_file(path, split, kinds, counts, dims, keys[split])
                    for path in paths)
        frame_counts[split] = {m: np.concatenate(c) if c else np.zeros(0, np.int64)
                               for m, c in counts.items()}
        if total == 0:
            raise DataFileError(f"{data_root}: split {split!r} has no examples in "
                                f"{', '.join(os.path.basename(p) for p in paths)}")
        found[split] = (len(paths), total)
    return DataRootSummary(found, frame_counts, leakage.find(keys), keys)
