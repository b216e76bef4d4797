"""A span run's record in ML Metadata: which span, and how far it drifted.

Written by the local runner (:func:`pipeline.run_notes.record_run`: the
span on the run's ``pipeline_run`` context, and a refused or allowed
drift's line) and by :class:`components.drift_gate.DriftGate` (its ``drift``
output, a JSON string with every distance). Read back for the console at
the end of a run and for ``msa-report``.
"""

from __future__ import annotations

import json
from typing import List, Optional

from ml_metadata.proto import metadata_store_pb2

from msa_data import contract
from pipeline import results

# Custom properties of a pipeline_run context.
DATA_SPAN = "data_span"          # "3", or "2-3" for a window
SPAN_DRIFT = "span_drift"        # the drift line of a refused span or of --allow-drift
REFUSED = "nothing was trained"  # in the line of a refused span (components/drift_gate.py)


def run_drift(store, run_context) -> Optional[dict]:
    """The DriftGate record of one run (None when the run had no drift gate output)."""
    return run_output(store, run_context, "drift")


def skew_line(record: dict) -> str:
    """The SkewCheck's one line, with every distance."""
    return record["line"] + " (" + ", ".join(
        f"{d['name']} {d['distance']:.4f}" for d in record["distances"]) + ")"


def run_output(store, run_context, key: str) -> Optional[dict]:
    """A JSON string output ``key`` (``drift``, ``skew``) of one run, or None."""
    for execution in sorted(store.get_executions_by_context(run_context.id), key=lambda e: -e.id):
        outputs = results._events_by_key(store, execution.id, metadata_store_pb2.Event.OUTPUT)
        for artifact in outputs.get(key, []):
            try:  # a value artifact's URI is the file holding its value
                with open(artifact.uri, encoding="utf-8") as f:
                    return json.loads(f.read())
            except (OSError, ValueError):
                return None
    return None


def span_text(span_plan) -> str:
    """The ``data_span`` note of a run on ``span_plan``: ``"3"``, or ``"2-3"`` for a window."""
    window = span_plan.window
    return str(window[0]) if len(window) == 1 else f"{window[0]}-{window[-1]}"


def span_of(run_context) -> str:
    """The span a run trained on ('' for a plain contract folder)."""
    return results._string_custom(run_context, DATA_SPAN)


def drift_lines(record: Optional[dict], noted: str = "") -> List[str]:
    """Console lines: the span, the span compared with, every distance and its threshold."""
    if not record and not noted:
        return []
    lines = []
    if record:
        if not record.get("previous_span"):
            lines.append(f"  span {record['span']}: no earlier span, drift not checked")
        else:
            lines.append(f"  span {record['span']} against span {record['previous_span']}: "
                         + ("DRIFTED, run anyway (--allow-drift)" if record.get("drifted")
                            else "no drift beyond the thresholds"))
            lines.append("    " + ", ".join(
                f"{d['name']} {d['distance']:.4f}{'!' if d['distance'] > d['threshold'] else ''}"
                f" (<= {d['threshold']:g})" for d in record["distances"]))
    if noted and not (record and record.get("line") == noted):
        lines.append(f"  {noted}")
    return lines


def blessed_lengths(metadata_path: str) -> Optional[dict]:
    """The sequence lengths the newest blessed model was trained with (None when none).

    A warm start copies weights whose shapes follow these lengths, so a run
    on a new span keeps them rather than choosing its own from the span.
    """
    import os

    if not os.path.exists(metadata_path):
        return None
    try:
        store = results.open_store(metadata_path)
        blessings = [a for a in store.get_artifacts_by_type("ModelBlessing")
                     if a.custom_properties["blessed"].int_value == 1
                     and "current_model_id" in a.custom_properties]
    except Exception:
        return None
    for blessing in sorted(blessings, key=lambda a: -a.id):
        model_id = blessing.custom_properties["current_model_id"].int_value
        events = [e for e in store.get_events_by_artifact_ids([model_id])
                  if e.type == metadata_store_pb2.Event.OUTPUT]
        for execution in store.get_executions_by_id([e.execution_id for e in events]):
            config = results._string_property(execution, "custom_config")
            if config:
                return json.loads(config).get("max_lens")
    return None


def report_lines(metadata_path: str, run_id: str) -> List[str]:
    """``msa-report``'s span section for run ``run_id``: its span, the drift distances
    against the previous span, the previous span's own evaluation, and a newer run the
    drift gate refused (empty for a run on a plain contract folder)."""
    store = results.open_store(metadata_path)
    runs = results.pipeline_runs(store)
    context = next((c for c in runs if c.name == run_id), None)
    skew = run_output(store, context, "skew") if context is not None else None
    skew_lines = [skew_line(skew)] if skew else []
    if context is None or not span_of(context):
        return skew_lines
    span = span_of(context)
    lines = [f"data span: {span}"]
    lines += [ln.strip() for ln in drift_lines(run_drift(store, context),
                                               results._string_custom(context, SPAN_DRIFT))]
    current = int(span.split("-")[-1])
    for earlier in runs:
        if earlier.create_time_since_epoch >= context.create_time_since_epoch or \
                not span_of(earlier) or int(span_of(earlier).split("-")[-1]) != current - 1:
            continue
        try:
            evaluation = results.run_evaluation(metadata_path, earlier.name)
        except LookupError:
            continue
        mae = results.overall_metrics(evaluation.evaluation_uri).get("mae")
        lines.append(f"previous span {span_of(earlier)}: run {earlier.name}, MAE "
                     f"{mae:.4f} on its own test split (the baseline table compares the "
                     "two models on this span)" if mae is not None else
                     f"previous span {span_of(earlier)}: run {earlier.name}")
        break
    lines += skew_lines
    for newer in runs:
        if newer.create_time_since_epoch <= context.create_time_since_epoch:
            break
        refused = results._string_custom(newer, SPAN_DRIFT)
        if REFUSED in refused:
            lines.append(f"warning: a newer run ({newer.name}, span {span_of(newer)}) was "
                         f"refused: {refused}")
            break
    return lines


def evaluated_folder(metadata_path: str, run_id: str, data_root: Optional[str]):
    """The folder of the span run ``run_id`` evaluated on (its ``noise_floor.json`` is
    there), or ``data_root`` itself for a plain contract folder."""
    if not data_root:
        return data_root
    store = results.open_store(metadata_path)
    context = next((c for c in results.pipeline_runs(store) if c.name == run_id), None)
    span = span_of(context) if context is not None else ""
    return contract.span_dir(data_root, int(span.split("-")[-1])) if span else data_root
