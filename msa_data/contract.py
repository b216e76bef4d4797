"""The data contract: one ``tf.Example`` per spoken segment.

Every data source in the project (built-in synthetic data, converted
downloads) writes exactly these features, and every consumer (schema,
Transform, serving signature, tests) imports the names from here.

==================  =========  ==============================================
feature             type       meaning
==================  =========  ==============================================
``segment_id``      bytes      unique segment id, e.g. ``03bSnISJMiM_11``
``video_id``        bytes      source video (speaker); splits and slices
``dataset``         bytes      ``mosi``, ``mosei`` or ``synthetic``
``label``           float      sentiment in [-3, 3]
``text`` etc.       float[]    frames flattened row-major: ``*_len`` x dim
``text_len`` etc.   int64      true (unpadded) number of frames, may be 0
==================  =========  ==============================================

The split files are ``<data_root>/<split>.tfrecord`` (optionally sharded or
gzipped: ``<split>.tfrecord*``) for the splits in :data:`SPLITS`.

Continuous training: a data root may instead hold span folders
``<data_root>/span-1/ ... span-N/`` (TFX's ``{SPAN}`` convention), each a
contract folder of its own (:func:`span_dir`, :func:`span_split_pattern`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, Iterable, Mapping, Optional, Sequence

import numpy as np

MODALITIES = ("text", "audio", "video")
SPLITS = ("train", "valid", "test")

SEGMENT_ID = "segment_id"
VIDEO_ID = "video_id"
DATASET = "dataset"
LABEL = "label"

LABEL_MIN, LABEL_MAX = -3.0, 3.0

# GloVe 300-d words, COVAREP 74-d acoustics, FACET 4.1 47-d faces.
DEFAULT_DIMS = {"text": 300, "audio": 74, "video": 47}


def length_key(modality: str) -> str:
    """Name of the feature that holds a modality's true frame count."""
    return f"{modality}_len"


def split_pattern(split: str) -> str:
    """File pattern (relative to the data root) of one split."""
    return f"{split}.tfrecord*"


# A span folder's name; TFX's ExampleGen replaces {SPAN} with the span number.
SPAN_DIR = "span-{SPAN}"
SPAN_DIR_PREFIX = "span-"


def span_dir(data_root: str, span: int) -> str:
    """The folder of span ``span`` (1-based) under a data root of spans."""
    return os.path.join(data_root, SPAN_DIR.replace("{SPAN}", str(int(span))))


def span_split_pattern(split: str) -> str:
    """A split's file pattern relative to a data root of spans (``{SPAN}`` left in)."""
    return f"{SPAN_DIR}/{split_pattern(split)}"


def split_path(data_root: str, split: str) -> str:
    """Path a writer uses for an unsharded, uncompressed split file."""
    return os.path.join(data_root, f"{split}.tfrecord")


class ContractError(ValueError):
    """A record or file that does not follow the data contract."""


@dataclasses.dataclass(frozen=True)
class Segment:
    """One segment in memory: each modality is a ``(len, dim)`` array."""

    segment_id: str
    video_id: str
    dataset: str
    label: float
    text: np.ndarray
    audio: np.ndarray
    video: np.ndarray

    def frames(self, modality: str) -> np.ndarray:
        return getattr(self, modality)


def _bytes(value: str):
    import tensorflow as tf

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))


def _float_list(frames: np.ndarray):
    """A ``FloatList`` of ``frames`` row-major, parsed from its packed wire bytes.

    Serialises exactly like ``FloatList(value=frames.reshape(-1).tolist())``
    (NaN and -inf included) but hundreds of times faster for long sequences.
    """
    import tensorflow as tf

    data = np.ascontiguousarray(frames, dtype="<f4").tobytes()
    float_list = tf.train.FloatList()
    if data:
        size, header = len(data), bytearray(b"\x0a")  # field 1, length-delimited (packed)
        while size > 0x7F:
            header.append((size & 0x7F) | 0x80)
            size >>= 7
        header.append(size)
        float_list.MergeFromString(bytes(header) + data)
    return float_list


def to_example(segment: Segment, dims: Mapping[str, int] = DEFAULT_DIMS):
    """Serialises a :class:`Segment` into a contract ``tf.train.Example``.

    Raises :class:`ContractError` naming the segment when a modality is not a
    2-D array of the declared width: the contract never reshapes silently.
    """
    import tensorflow as tf

    feature = {
        SEGMENT_ID: _bytes(segment.segment_id),
        VIDEO_ID: _bytes(segment.video_id),
        DATASET: _bytes(segment.dataset),
        LABEL: tf.train.Feature(float_list=tf.train.FloatList(value=[float(segment.label)])),
    }
    for modality in MODALITIES:
        frames = np.asarray(segment.frames(modality), dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != dims[modality]:
            raise ContractError(
                f"segment {segment.segment_id!r}: {modality} must be (len, {dims[modality]}), "
                f"got shape {tuple(frames.shape)}"
            )
        feature[modality] = tf.train.Feature(float_list=_float_list(frames))
        feature[length_key(modality)] = tf.train.Feature(
            int64_list=tf.train.Int64List(value=[frames.shape[0]])
        )
    return tf.train.Example(features=tf.train.Features(feature=feature))


def from_example(
    example, dims: Mapping[str, int] = DEFAULT_DIMS, source: Optional[str] = None
) -> Segment:
    """Parses a contract ``tf.train.Example`` (or its bytes) into a :class:`Segment`.

    Checks the ``len x dim`` rule and raises :class:`ContractError` naming the
    segment (and ``source`` file when given) on any violation.
    """
    import tensorflow as tf

    if isinstance(example, (bytes, bytearray)):
        example = tf.train.Example.FromString(bytes(example))
    f = example.features.feature
    where = f" in {source}" if source else ""

    def scalar_bytes(name: str) -> str:
        values = f[name].bytes_list.value if name in f else []
        if len(values) != 1:
            raise ContractError(f"feature {name!r}{where}: expected exactly one bytes value")
        return values[0].decode("utf-8")

    segment_id = scalar_bytes(SEGMENT_ID)
    arrays = {}
    for modality in MODALITIES:
        lk = length_key(modality)
        if lk not in f or len(f[lk].int64_list.value) != 1:
            raise ContractError(f"segment {segment_id!r}{where}: missing int64 feature {lk!r}")
        n = int(f[lk].int64_list.value[0])
        values = np.asarray(f[modality].float_list.value, dtype=np.float32)
        check_flat_length(segment_id, modality, values.size, n, dims[modality], where)
        arrays[modality] = values.reshape(n, dims[modality])
    labels = f[LABEL].float_list.value if LABEL in f else []
    if len(labels) != 1:
        raise ContractError(f"segment {segment_id!r}{where}: expected exactly one float {LABEL!r}")
    return Segment(
        segment_id=segment_id,
        video_id=scalar_bytes(VIDEO_ID),
        dataset=scalar_bytes(DATASET),
        label=float(labels[0]),
        **arrays,
    )


def check_flat_length(
    segment_id: str, modality: str, n_values: int, length: int, dim: int, where: str = ""
) -> None:
    """Raises :class:`ContractError` unless ``n_values == length * dim``."""
    if length < 0:
        raise ContractError(
            f"segment {segment_id!r}{where}: {length_key(modality)} is {length}, expected >= 0"
        )
    if n_values != length * dim:
        raise ContractError(
            f"segment {segment_id!r}{where}: feature {modality!r} has {n_values} values, "
            f"expected {length_key(modality)} x dim = {length} x {dim} = {length * dim}"
        )


def write_split(path: str, segments: Iterable[Segment], dims: Mapping[str, int] = DEFAULT_DIMS) -> int:
    """Writes segments to one TFRecord file; returns how many were written."""
    import tensorflow as tf

    count = 0
    with tf.io.TFRecordWriter(path) as writer:
        for segment in segments:
            writer.write(to_example(segment, dims).SerializeToString())
            count += 1
    return count


def read_split(
    path_or_pattern: str, dims: Mapping[str, int] = DEFAULT_DIMS
) -> Iterable[Segment]:
    """Yields the segments of every file matching ``path_or_pattern``."""
    import tensorflow as tf

    for path in sorted(tf.io.gfile.glob(path_or_pattern)):
        compression = "GZIP" if path.endswith(".gz") else ""
        for record in tf.data.TFRecordDataset(path, compression_type=compression).as_numpy_iterator():
            yield from_example(record, dims, source=path)


def raw_feature_spec(include_label: bool = True) -> Dict[str, object]:
    """``tf.io`` parsing spec of a contract example (what Transform reads)."""
    import tensorflow as tf

    spec: Dict[str, object] = {
        SEGMENT_ID: tf.io.FixedLenFeature([], tf.string),
        VIDEO_ID: tf.io.FixedLenFeature([], tf.string),
        DATASET: tf.io.FixedLenFeature([], tf.string),
    }
    for modality in MODALITIES:
        spec[modality] = tf.io.VarLenFeature(tf.float32)
        spec[length_key(modality)] = tf.io.FixedLenFeature([], tf.int64)
    if include_label:
        spec[LABEL] = tf.io.FixedLenFeature([], tf.float32)
    return spec


def missing_splits(data_root: str, splits: Sequence[str] = SPLITS) -> list:
    """Splits that have no file under ``data_root``."""
    import tensorflow as tf

    return [s for s in splits if not tf.io.gfile.glob(os.path.join(data_root, split_pattern(s)))]
