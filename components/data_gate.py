"""DataGate: stops the run before Transform when the data is not usable.

ExampleValidator only *records* anomalies; nothing in stock TFX acts on
them. This component fails the run, with one line naming the split, the
feature and the anomaly, when
* ExampleValidator found an anomaly against the curated schema (types,
  presence, label domain [-3, 3], non-negative lengths), or
* an example's flattened modality does not hold ``len x dim`` values, which
  the schema cannot express (the line names the segment and the file).

Transform is made to run after it (``add_upstream_node``), so a bad
dataset never reaches Transform, the Trainer or the Pusher.
"""

# No `from __future__ import annotations`: TFX reads these annotations at
# decoration time to build the component spec.
import json
import os
from typing import TypedDict

from tfx import v1 as tfx
from tfx.types import artifact_utils

from msa_data import contract


class DataGateOutputs(TypedDict):
    checked_examples: int


class DataGateError(RuntimeError):
    """A one-line, user-facing reason why the data was rejected."""


def _split_names(artifact) -> list:
    return artifact_utils.decode_split_names(artifact.split_names)


def first_anomaly(anomalies_artifact) -> str:
    """'' if every split is clean, else a one-line description of one anomaly."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    for split in _split_names(anomalies_artifact):
        path = os.path.join(artifact_utils.get_split_uri([anomalies_artifact], split),
                            "SchemaDiff.pb")
        if not tf.io.gfile.exists(path):
            continue
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
        for feature, info in sorted(anomalies.anomaly_info.items()):
            reason = "; ".join(r.description or r.short_description for r in info.reason)
            return (f"ExampleValidator: split '{split}': feature '{feature}': "
                    f"{info.short_description or 'anomaly'}: {reason}")
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            return f"ExampleValidator: split '{split}': {info.short_description}"
    return ""


def check_lengths(examples_artifact, dims) -> int:
    """Checks ``len x dim`` for every example of every split; returns the count."""
    import tensorflow as tf

    spec = contract.raw_feature_spec(include_label=False)
    total = 0
    for split in _split_names(examples_artifact):
        files = sorted(tf.io.gfile.glob(
            os.path.join(artifact_utils.get_split_uri([examples_artifact], split), "*")))
        for path in files:
            compression = "GZIP" if path.endswith(".gz") else ""
            dataset = tf.data.TFRecordDataset(path, compression_type=compression).batch(512)
            for batch in dataset:
                parsed = tf.io.parse_example(batch, spec)
                ids = parsed[contract.SEGMENT_ID].numpy()
                for m in contract.MODALITIES:
                    counts = tf.RaggedTensor.from_sparse(parsed[m]).row_lengths().numpy()
                    lengths = parsed[contract.length_key(m)].numpy()
                    for sid, n_values, n in zip(ids, counts, lengths):
                        try:
                            contract.check_flat_length(sid.decode(), m, int(n_values), int(n),
                                                       int(dims[m]), f" in {path}")
                        except contract.ContractError as err:
                            raise DataGateError(str(err)) from None
                total += len(ids)
    return total


@tfx.dsl.components.component
def DataGate(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    dims_json: tfx.dsl.components.Parameter[str],
) -> DataGateOutputs:
    """Fails the run on schema anomalies or ``len x dim`` violations."""
    reason = first_anomaly(anomalies)
    if reason:
        raise DataGateError(reason)
    return {"checked_examples": check_lengths(examples, json.loads(dims_json))}
