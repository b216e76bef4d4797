"""Drift between two spans of data: how far the new span moved from the previous one.

Two kinds of distance, both in [0, 1], each with a threshold:

* **Per-example features** (``text_len``, ``audio_len``, ``video_len``,
  ``label``, ``dataset``): TFDV statistics of each span's train split
  (``tfdv.generate_statistics_in_memory``, no Beam) compared by TFDV's own
  drift comparators, set on the schema: Jensen-Shannon divergence for the
  numeric ones, L-infinity distance for the categorical ``dataset``
  (``tfdv.validate_statistics(..., previous_statistics=...)``).
* **Frame features** (``text``, ``audio``, ``video``, one value per frame
  and dimension): TFDV pools a float list's values into one histogram, which
  cannot see a permutation of dims or a shift in a few of them. So every
  dimension is compared on its own: the previous span's per-dim
  20-quantiles define twenty bins (plus one for non-finite values), and the distance of a
  dim is the Jensen-Shannon divergence (base 2) between the two spans'
  frequencies over those bins, less what two samples of one distribution
  show on average (:func:`null_bias`). The modality's distance is its
  largest dim's.
  That catches a scale change, an offset, a permutation of dims with
  different distributions, or another extractor's distribution, on any
  subset of dims. The summary also keeps each span's per-dim mean and std.

Thresholds come from the schema: a feature's ``drift_comparator``
(``jensen_shannon_divergence`` or ``infinity_norm``); on a frame feature
it applies to each of its dims. ``overrides`` (``--drift-threshold``)
replace them.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import Dict, List, Mapping, Optional

import numpy as np

from msa_data import contract

BINS = 20
# Frames kept per span and modality for the per-dim histograms (an even stride
# over the frames past this): enough that an unchanged span's largest dim
# stays far below the threshold, bounded in memory at MOSEI size.
MAX_FRAMES = 50_000
EXAMPLE_FEATURES = (*(contract.length_key(m) for m in contract.MODALITIES), contract.LABEL,
                    contract.DATASET)
SPLIT = "train"
SERVING_PATTERN = "*.tfrecord*"  # files of served requests (--serving-data)


@dataclasses.dataclass
class SpanData:
    """What the drift check reads of one span's split."""

    lengths: Dict[str, np.ndarray]      # length feature -> (examples,)
    labels: np.ndarray                  # (examples,)
    datasets: List[bytes]
    frames: Dict[str, np.ndarray]       # modality -> (frames, dim) float32


@dataclasses.dataclass(frozen=True)
class Distance:
    """One feature's (or modality's) distance, its threshold and the measure."""

    name: str
    distance: float
    threshold: float
    measure: str
    detail: str = ""

    @property
    def drifted(self) -> bool:
        return self.distance > self.threshold

    def line(self) -> str:
        return (f"{self.name}: {self.measure} {self.distance:.4f} > threshold "
                f"{self.threshold:g}{' (' + self.detail + ')' if self.detail else ''}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_span(files: List[str], dims: Mapping[str, int], max_frames: int = MAX_FRAMES,
              serving: bool = False) -> SpanData:
    """Parses one split's files (TFRecords, ``.gz`` for gzip) into :class:`SpanData`.

    ``serving``: requests as served, with the modalities and lengths only (the
    schema's SERVING environment); ``labels`` and ``datasets`` are left empty.
    A file that does not parse raises :class:`contract.ContractError` naming it.
    """
    import tensorflow as tf

    spec = {name: feature for name, feature in contract.raw_feature_spec(True).items()
            if not serving or name in contract.MODALITIES or name.endswith("_len")}
    lengths: Dict[str, list] = {contract.length_key(m): [] for m in contract.MODALITIES}
    frames: Dict[str, list] = {m: [] for m in contract.MODALITIES}
    labels, datasets = [], []
    for path in files:
        compression = "GZIP" if path.endswith(".gz") else ""
        try:
            for batch in tf.data.TFRecordDataset(path, compression_type=compression).batch(512):
                parsed = tf.io.parse_example(batch, spec)
                if not serving:
                    labels.append(parsed[contract.LABEL].numpy().reshape(-1))
                    datasets.extend(parsed[contract.DATASET].numpy().reshape(-1).tolist())
                for m in contract.MODALITIES:
                    lengths[contract.length_key(m)].append(
                        parsed[contract.length_key(m)].numpy().reshape(-1))
                    frames[m].append(parsed[m].values.numpy().reshape(-1, int(dims[m])))
        except (tf.errors.OpError, ValueError) as err:
            reason = (getattr(err, "message", "") or str(err)).splitlines()[0][:200]
            raise contract.ContractError(
                f"{path}: cannot be read as data-contract examples ({reason})") from None
    out = {}
    for m, parts in frames.items():
        stacked = np.concatenate(parts) if parts else np.zeros((0, int(dims[m])), np.float32)
        if len(stacked) > max_frames:
            stacked = stacked[np.linspace(0, len(stacked) - 1, max_frames).astype(np.int64)]
        out[m] = stacked
    return SpanData({k: np.concatenate(v) if v else np.zeros(0, np.int64)
                     for k, v in lengths.items()},
                    np.concatenate(labels) if labels else np.zeros(0, np.float32), datasets, out)


def serving_files(folder: str) -> List[str]:
    """The request files of a ``--serving-data`` folder (:data:`SERVING_PATTERN`)."""
    return sorted(p for p in glob.glob(os.path.join(folder, SERVING_PATTERN))
                  if os.path.isfile(p))


def split_files(folder: str, split: str = SPLIT) -> List[str]:
    """A split's files in a contract folder, or in an ExampleGen output (``Split-<split>``)."""
    found = sorted(glob.glob(os.path.join(folder, contract.split_pattern(split))))
    return found or sorted(glob.glob(os.path.join(folder, f"Split-{split}", "*")))


def _js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (base 2) between rows of frequency arrays."""
    m = (p + q) / 2

    def kl(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log2(a / np.where(b > 0, b, 1)), 0.0)
        return terms.sum(axis=-1)

    return np.clip((kl(p, m) + kl(q, m)) / 2, 0.0, 1.0)


def frame_distances(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Per-dim JS divergence of ``current``'s frames over ``previous``'s quantile bins
    (:data:`BINS` of them, plus one for non-finite values)."""
    dims = previous.shape[1]
    out = np.zeros(dims)
    for d in range(dims):
        a, b = previous[:, d], current[:, d]
        fa, fb = np.isfinite(a), np.isfinite(b)
        edges = np.unique(np.quantile(a[fa], np.linspace(0, 1, BINS + 1)[1:-1])) \
            if fa.any() else np.zeros(0)
        hist_a = np.bincount(np.searchsorted(edges, a[fa], side="right"),
                             minlength=len(edges) + 1)
        hist_b = np.bincount(np.searchsorted(edges, b[fb], side="right"),
                             minlength=len(edges) + 1)
        p = np.append(hist_a, (~fa).sum()) / max(len(a), 1)
        q = np.append(hist_b, (~fb).sum()) / max(len(b), 1)
        out[d] = max(0.0, float(_js(p, q)) - null_bias(np.count_nonzero(p + q), len(a), len(b)))
    return out


def null_bias(bins: int, n_previous: int, n_current: int) -> float:
    """The JS divergence (bits) two samples of one distribution show on average.

    For ``bins`` occupied bins, ``8 ln 2 JSD / (1/n1 + 1/n2)`` is about
    chi-squared with ``bins - 1`` degrees of freedom, so its mean is what a
    span of a few hundred frames shows with no drift at all; it is taken
    off each dim's divergence, so that the same threshold holds for small and
    large spans.
    """
    if n_previous < 1 or n_current < 1 or bins < 2:
        return 0.0
    return (bins - 1) / (8 * np.log(2)) * (1 / n_previous + 1 / n_current)


def mean_std(frames: np.ndarray):
    """Per-dim mean and std of the finite values (the modality's summary vectors)."""
    masked = np.ma.masked_invalid(frames.astype(np.float64))
    return np.ma.filled(masked.mean(axis=0), np.nan), np.ma.filled(masked.std(axis=0), np.nan)


def _describe_dim(d: int, previous: np.ndarray, current: np.ndarray) -> str:
    (mp, sp), (mc, sc) = mean_std(previous[:, [d]]), mean_std(current[:, [d]])
    return (f"dim {d}: mean {mp[0]:.3g} -> {mc[0]:.3g}, std {sp[0]:.3g} -> {sc[0]:.3g}")


def example_statistics(span: SpanData):
    """TFDV statistics of the per-example features (in memory, no Beam)."""
    import pyarrow as pa
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics.stats_impl import (
        generate_statistics_in_memory,
    )

    columns = {name: pa.array([[int(v)] for v in span.lengths[name]], pa.list_(pa.int64()))
               for name in span.lengths}
    if len(span.labels):  # not in served requests
        columns[contract.LABEL] = pa.array([[float(v)] for v in span.labels],
                                           pa.list_(pa.float32()))
        columns[contract.DATASET] = pa.array([[v] for v in span.datasets],
                                             pa.list_(pa.binary()))
    batch = pa.RecordBatch.from_arrays(list(columns.values()), list(columns))
    return generate_statistics_in_memory(batch, tfdv.StatsOptions())


def schema_thresholds(schema) -> Dict[str, float]:
    """``{feature: threshold}`` from the schema's drift comparators."""
    found = {}
    for feature in schema.feature:
        comparator = feature.drift_comparator
        if comparator.HasField("jensen_shannon_divergence"):
            found[feature.name] = comparator.jensen_shannon_divergence.threshold
        elif comparator.HasField("infinity_norm"):
            found[feature.name] = comparator.infinity_norm.threshold
    return found


def _with_thresholds(schema, thresholds: Mapping[str, float], kind: str = "drift"):
    """A copy of ``schema`` whose per-example ``{kind}_comparator``s carry ``thresholds``."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    copy = schema_pb2.Schema()
    copy.CopyFrom(schema)
    for feature in copy.feature:
        feature.ClearField("drift_comparator")
        feature.ClearField("skew_comparator")
        if feature.name not in EXAMPLE_FEATURES or feature.name not in thresholds:
            continue
        measure = "infinity_norm" if feature.type == schema_pb2.BYTES else \
            "jensen_shannon_divergence"
        comparator = getattr(feature, f"{kind}_comparator")
        getattr(comparator, measure).threshold = thresholds[feature.name]
    return copy


def compare(previous: SpanData, current: SpanData, schema,
            overrides: Optional[Mapping[str, float]] = None,
            kind: str = "drift") -> List[Distance]:
    """Every checked feature's and modality's distance, in a fixed order.

    ``kind`` ``"skew"``: ``current`` is served requests (:func:`read_span`'s
    ``serving``) against the training data ``previous``; TFDV's skew
    comparators then measure the per-example features the requests carry.
    """
    import tensorflow_data_validation as tfdv

    thresholds = {**schema_thresholds(schema), **(overrides or {})}
    schema = _with_thresholds(schema, thresholds, kind)
    if kind == "skew":
        anomalies = tfdv.validate_statistics(example_statistics(previous), schema,
                                             serving_statistics=example_statistics(current))
    else:
        anomalies = tfdv.validate_statistics(example_statistics(current), schema,
                                             previous_statistics=example_statistics(previous))
    found = "skew_measurements" if kind == "skew" else "drift_measurements"
    measured = {info.path.step[0]: getattr(info, found)[0]
                for info in anomalies.drift_skew_info if getattr(info, found)}
    distances = []
    for name in EXAMPLE_FEATURES:
        if name not in thresholds or (kind == "skew" and name in (contract.LABEL,
                                                                  contract.DATASET)):
            continue
        m = measured.get(name)
        if m is None:  # TFDV measures every compared feature, 0 included
            raise contract.ContractError(
                f"{kind}: {name}: no distance was measured (TFDV found no statistics for it); "
                f"expected the feature in both data sets")
        measure = "L-infinity distance" if name == contract.DATASET else \
            "Jensen-Shannon divergence"
        distances.append(Distance(name, float(m.value), float(thresholds[name]),
                                  measure))
    for modality in contract.MODALITIES:
        if modality not in thresholds:
            continue
        per_dim = frame_distances(previous.frames[modality], current.frames[modality])
        worst = int(np.argmax(per_dim)) if per_dim.size else 0
        distances.append(Distance(
            modality, float(per_dim[worst]) if per_dim.size else 0.0,
            float(thresholds[modality]), "Jensen-Shannon divergence of its largest dim",
            _describe_dim(worst, previous.frames[modality], current.frames[modality])
            if per_dim.size else ""))
    return distances
