"""SkewCheck: do the requests the model is served look like its training data?

``--serving-data DIR`` points at ``tf.Example`` requests received at serving
(for example taken from request logs: TFRecords, ``*.tfrecord*``, holding
what the schema's SERVING environment lists: the modalities and their
lengths, no label). This component compares them with the train split the
run trains on, by :func:`msa_data.drift.compare` with ``kind="skew"``:
TFDV's skew comparators on the lengths, per-dim divergences on the frame
features, with the drift thresholds (the schema's ``drift_comparator``s,
or ``--drift-threshold``).

It never stops the run (serving data says nothing about the new model's
training data); its ``skew`` output (a JSON string artifact in ML Metadata)
records every distance and, as an anomaly, each feature beyond its
threshold, and the runner prints one line about it when the run ends.
"""

# No `from __future__ import annotations`: TFX reads these annotations at
# decoration time to build the component spec.
import json
import os
from typing import TypedDict

from tfx import v1 as tfx

from msa_data import contract


class SkewCheckOutputs(TypedDict):
    skew: str


def check(training_uri: str, serving_folder: str, schema, thresholds, dims) -> dict:
    """The record: ``{"serving_data", "distances", "skewed", "line"}``."""
    from msa_data import drift

    training = drift.read_span(drift.split_files(training_uri), dims)
    served = drift.read_span(drift.serving_files(serving_folder), dims, serving=True)
    distances = drift.compare(training, served, schema, thresholds, kind="skew")
    skewed = [d for d in distances if d.drifted]
    record = {"serving_data": serving_folder, "requests": int(len(
        served.lengths[contract.length_key("text")])),
        "distances": [d.to_dict() for d in distances], "skewed": [d.name for d in skewed]}
    if skewed:
        worst = max(skewed, key=lambda d: d.distance / max(d.threshold, 1e-12))
        record["line"] = (f"warning: serving data {serving_folder} is skewed from the training "
                          f"data: {worst.line()}"
                          + (f"; also {', '.join(d.name for d in skewed if d is not worst)}"
                             if len(skewed) > 1 else ""))
    else:
        record["line"] = (f"serving data {serving_folder}: {record['requests']} requests, no "
                          "skew from the training data beyond the thresholds")
    return record


@tfx.dsl.components.component
def SkewCheck(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    serving_data: tfx.dsl.components.Parameter[str],
    thresholds_json: tfx.dsl.components.Parameter[str],
    dims_json: tfx.dsl.components.Parameter[str],
) -> SkewCheckOutputs:
    """Records how far the served requests are from the training data."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx.utils import io_utils

    schema_proto = io_utils.parse_pbtxt_file(
        os.path.join(schema.uri, "schema.pbtxt"), schema_pb2.Schema())
    record = check(examples.uri, serving_data, schema_proto, json.loads(thresholds_json),
                   json.loads(dims_json))
    return {"skew": json.dumps(record, sort_keys=True)}
