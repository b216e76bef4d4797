"""DriftGate: stops the run before Transform when the new span drifted.

On a data root of spans (pipeline/spans.py), ImportExampleGen reads one span
and records its number on the Examples artifact (``span``). This component
compares that span's train split with the newest earlier span it accepted
(pipeline/drift_reference.py: span K-1 unless that one was refused; read
from the data root at run time, so the span may be resolved at run time
too) by :func:`msa_data.drift.compare`:
TFDV's drift comparators on the per-example features, per-dim divergences
on each modality's frames, thresholds from the schema's
``drift_comparator``s unless ``thresholds_json`` overrides them.

A distance beyond its threshold fails the run with one line naming the
modality or feature and the distance (:class:`DriftError`; the local runner
exits 4), unless ``allow_drift``: then the run goes on and the output
``drift`` records it. ``drift`` (a JSON string artifact in ML Metadata)
always holds the span, the span compared with and every distance; with no
previous span (span 1, or a plain contract folder) it says so. An accepted
span (no drift, or drift allowed) is added to ``state_file``.

Transform is made to run after it (``add_upstream_node``), so a drifted
span never reaches Transform, the Trainer or the Pusher.
"""

# No `from __future__ import annotations`: TFX reads these annotations at
# decoration time to build the component spec.
import json
import os
from typing import TypedDict

from tfx import v1 as tfx

from msa_data import contract


class DriftGateOutputs(TypedDict):
    drift: str


class DriftError(RuntimeError):
    """A one-line, user-facing reason why the span was refused."""


def drift_line(span: int, previous: int, drifted) -> str:
    """The one line a refused span gets: the worst distance (by its threshold) first."""
    ranked = sorted(drifted, key=lambda d: -d.distance / max(d.threshold, 1e-12))
    more = ""
    if len(ranked) > 1:
        more = "; also " + ", ".join(f"{d.name} {d.distance:.4f}" for d in ranked[1:])
    return (f"drift: span {span} against span {previous}: {ranked[0].line()}{more}; nothing "
            "was trained or pushed (--allow-drift, or allow_drift=1 on Kubeflow, runs anyway "
            "and records it)")


def check(examples_uri: str, span: int, data_root: str, schema, thresholds, dims,
          allow: bool, state_file: str = "") -> dict:
    """The gate's record (see the module docstring); raises :class:`DriftError`."""
    from msa_data import drift
    from pipeline import drift_reference

    record = {"span": span, "previous_span": None, "distances": [], "drifted": [],
              "allowed": bool(allow)}
    if not data_root or span < 1:
        return record
    reference = drift_reference.reference_span(state_file or None, data_root, span)
    if reference is not None:
        previous_folder = contract.span_dir(data_root, reference)
        current = drift.read_span(drift.split_files(examples_uri), dims)
        previous = drift.read_span(drift.split_files(previous_folder), dims)
        distances = drift.compare(previous, current, schema, thresholds)
        drifted = [d for d in distances if d.drifted]
        record.update(previous_span=reference, previous_folder=previous_folder,
                      distances=[d.to_dict() for d in distances],
                      drifted=[d.name for d in drifted])
        if drifted:
            record["line"] = drift_line(span, reference, drifted)
            if not allow:
                raise DriftError(record["line"])
    if state_file:
        drift_reference.record_accepted(state_file, data_root, span)
    return record


@tfx.dsl.components.component
def DriftGate(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    data_root: tfx.dsl.components.Parameter[str],
    thresholds_json: tfx.dsl.components.Parameter[str],
    dims_json: tfx.dsl.components.Parameter[str],
    allow_drift: tfx.dsl.components.Parameter[int],
    state_file: tfx.dsl.components.Parameter[str] = "",
) -> DriftGateOutputs:
    """Fails the run when the span drifted from the previous one beyond the thresholds."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx.utils import io_utils

    schema_proto = io_utils.parse_pbtxt_file(
        os.path.join(schema.uri, "schema.pbtxt"), schema_pb2.Schema())
    # ImportExampleGen records the span it read as a custom property in TFX 1.16.
    span = examples.get_int_custom_property("span") if examples.has_custom_property("span") \
        else int(examples.span or 0)
    record = check(examples.uri, span, data_root, schema_proto,
                   json.loads(thresholds_json), json.loads(dims_json), bool(allow_drift),
                   state_file)
    return {"drift": json.dumps(record, sort_keys=True)}
