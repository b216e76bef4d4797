"""What a finished run produced, looked up through ML Metadata.

Artifacts are found by type and by the events that link them to executions
in MLMD (never by guessing folder names): the newest ModelEvaluation with its
metrics and blessing verdict, the newest PushedModel that was actually
pushed, and for one pipeline run, its Evaluator execution with the model,
baseline and examples it read (:func:`run_evaluation`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Dict, List, Optional, Tuple

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.msa_pusher import OUTCOME_KEY, SERVED_VERSION_KEY


@dataclasses.dataclass
class RunResult:
    metrics: Dict[str, float]
    blessed: Optional[bool]
    failed_thresholds: list
    pushed_model: Optional[str]
    evaluation_uri: Optional[str]


def open_store(metadata_path: str, writable: bool = False) -> metadata_store.MetadataStore:
    """The SQLite MLMD store; read-only unless ``writable`` (pipeline/recovery.py)."""
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    mode = metadata_store_pb2.SqliteMetadataSourceConfig
    config.sqlite.connection_mode = mode.READWRITE if writable else mode.READONLY
    return metadata_store.MetadataStore(config)


def newest_artifact(store, type_name: str, predicate=lambda a: True):
    """The newest live artifact of ``type_name`` (None when there is none)."""
    try:
        artifacts = store.get_artifacts_by_type(type_name)
    except Exception:  # type not registered yet: the component never ran
        return None
    live = [a for a in artifacts if a.state == metadata_store_pb2.Artifact.LIVE and predicate(a)]
    return max(live, key=lambda a: a.id) if live else None


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
    """Overall-slice metrics of the candidate model from a TFMA output dir."""
    import tensorflow_model_analysis as tfma

    metrics: Dict[str, float] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        if slice_metrics.slice_key.single_slice_keys:
            continue
        for kv in slice_metrics.metric_keys_and_values:
            # Skip the baseline model's values and candidate-minus-baseline diffs.
            if kv.key.model_name == "baseline" or kv.key.is_diff:
                continue
            value = kv.value.double_value.value
            if kv.value.HasField("double_value") and not math.isnan(value):
                metrics[kv.key.name] = value
    return metrics


def latest(metadata_path: str) -> RunResult:
    import tensorflow_model_analysis as tfma

    store = open_store(metadata_path)
    evaluation = newest_artifact(store, "ModelEvaluation")
    # The newest Pusher output says whether *this* run pushed.
    pushed = newest_artifact(store, "PushedModel")
    if pushed is not None and pushed.custom_properties["pushed"].int_value != 1:
        pushed = None
    metrics, blessed, failed = {}, None, []
    if evaluation is not None:
        metrics = overall_metrics(evaluation.uri)
        validation = tfma.load_validation_result(evaluation.uri)
        blessed = bool(validation.validation_ok)
        for slice_failure in validation.metric_validations_per_slice:
            for failure in slice_failure.failures:
                failed.append(f"{failure.metric_key.name}: {failure.message}")
    destination = None
    if pushed is not None and "pushed_destination" in pushed.custom_properties:
        destination = pushed.custom_properties["pushed_destination"].string_value
    return RunResult(metrics, blessed, failed, destination,
                     evaluation.uri if evaluation is not None else None)


@dataclasses.dataclass
class RunEvaluation:
    """One pipeline run's Evaluator execution and what it read and wrote."""

    run_id: str
    execution_id: int
    cached: bool  # the run reused an earlier execution's outputs
    evaluation_uri: str
    blessing_uri: Optional[str]
    blessed: Optional[bool]  # the ModelBlessing artifact's verdict
    model_uri: str
    model_id: int
    baseline_model_uri: Optional[str]
    baseline_model_id: Optional[int]
    examples_uri: str
    example_splits: List[str]
    eval_config_json: str  # as configured (before TFX drops change thresholds)
    data_root: Optional[str]  # the ExampleGen's input_base, if it had one
    pushed_destination: Optional[str]  # where this run's Pusher pushed, if it did
    # What the run's Pusher did: pushed | unchanged | not_blessed (None: no
    # Pusher output, or one from before MsaPusher), and the version served after it.
    push_outcome: Optional[str] = None
    served_version: Optional[str] = None
    # The run's BulkInferrer output for the evaluated model (PredictionLogs of
    # the evaluated split), the Trainer's ModelRun (TensorBoard logs), and the
    # Tuner's results when the run tuned.
    inference_uri: Optional[str] = None
    model_run_uri: Optional[str] = None
    tuner_results_uri: Optional[str] = None
    data_overlap: str = ""  # shared between splits, run with --allow-overlap (run_notes.py)


# On a pipeline_run context: what its splits shared, when --allow-overlap let it run
# anyway (written by pipeline/run_notes.py).
DATA_OVERLAP = "data_overlap"


def _string_custom(node, name: str) -> str:
    return node.custom_properties[name].string_value if name in node.custom_properties else ""


def pipeline_runs(store) -> list:
    """``pipeline_run`` contexts, newest first."""
    try:
        runs = store.get_contexts_by_type("pipeline_run")
    except Exception:  # no run recorded yet
        return []
    return sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id), reverse=True)


def _events_by_key(store, execution_id: int, event_type) -> Dict[str, list]:
    """Artifacts an execution read (INPUT) or wrote (OUTPUT), by channel key."""
    found: Dict[str, list] = {}
    events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == event_type]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    for event in events:
        keys = [step.key for step in event.path.steps if step.HasField("key")]
        if keys and event.artifact_id in artifacts:
            found.setdefault(keys[0], []).append(artifacts[event.artifact_id])
    return found


def _string_property(execution, name: str) -> Optional[str]:
    for props in (execution.custom_properties, execution.properties):
        if name in props:
            return props[name].string_value
    return None


def _producer_input_base(store, artifact) -> Optional[str]:
    """The ``input_base`` exec property of the execution that wrote ``artifact``."""
    events = [e for e in store.get_events_by_artifact_ids([artifact.id])
              if e.type == metadata_store_pb2.Event.OUTPUT]
    for execution in store.get_executions_by_id([e.execution_id for e in events]):
        value = _string_property(execution, "input_base")
        if value:
            return value
    return None


def _evaluator_execution(store, run_context):
    """The execution in ``run_context`` that output a ModelEvaluation, if any."""
    for execution in sorted(store.get_executions_by_context(run_context.id), key=lambda e: -e.id):
        outputs = _events_by_key(store, execution.id, metadata_store_pb2.Event.OUTPUT)
        evaluations = outputs.get("evaluation", [])
        if any(store.get_artifact_types_by_id([a.type_id])[0].name == "ModelEvaluation"
               for a in evaluations):
            return execution, outputs
    return None, None


def _push_result(store, run_context, blessing) -> Tuple[Optional[str], Optional[str],
                                                        Optional[str]]:
    """``(pushed_destination, push_outcome, served_version)`` of the run's Pusher.

    Only the Pusher execution that read ``blessing`` counts.
    """
    if blessing is None:
        return None, None, None
    for execution in store.get_executions_by_context(run_context.id):
        inputs = _events_by_key(store, execution.id, metadata_store_pb2.Event.INPUT)
        if blessing.id not in {a.id for a in inputs.get("model_blessing", [])}:
            continue
        outputs = _events_by_key(store, execution.id, metadata_store_pb2.Event.OUTPUT)
        for pushed in outputs.get("pushed_model", []):
            props = pushed.custom_properties
            outcome = props[OUTCOME_KEY].string_value if OUTCOME_KEY in props else None
            served = (props[SERVED_VERSION_KEY].string_value
                      if SERVED_VERSION_KEY in props else None)
            destination = None
            if props["pushed"].int_value == 1 and "pushed_destination" in props:
                destination = props["pushed_destination"].string_value
            return destination, outcome, served
    return None, None, None


def _run_output(store, run_context, output_key: str, input_key: Optional[str] = None,
                input_id: Optional[int] = None):
    """The newest ``output_key`` artifact written in ``run_context``.

    With ``input_key``, only by an execution that read artifact ``input_id`` there.
    """
    for execution in sorted(store.get_executions_by_context(run_context.id), key=lambda e: -e.id):
        outputs = _events_by_key(store, execution.id, metadata_store_pb2.Event.OUTPUT)
        if not outputs.get(output_key):
            continue
        if input_key is not None:
            inputs = _events_by_key(store, execution.id, metadata_store_pb2.Event.INPUT)
            if input_id not in {a.id for a in inputs.get(input_key, [])}:
                continue
        return outputs[output_key][0]
    return None


def _uri(artifact) -> Optional[str]:
    return artifact.uri if artifact is not None else None


def run_evaluation(metadata_path: str, run: str = "latest") -> RunEvaluation:
    """The Evaluator execution of pipeline run ``run`` (a run id, or ``latest``).

    ``latest`` is the newest run that has an evaluation. Raises LookupError
    with the known run ids when there is none.
    """
    store = open_store(metadata_path)
    runs = pipeline_runs(store)
    if not runs:
        raise LookupError(f"no pipeline run recorded in {metadata_path}")
    if run == "latest":
        candidates = runs
    else:
        candidates = [c for c in runs if c.name == run]
        if not candidates:
            known = ", ".join(c.name for c in runs[:10])
            raise LookupError(f"no pipeline run {run!r} in {metadata_path}; known runs "
                              f"(newest first): {known}")
    for context in candidates:
        execution, outputs = _evaluator_execution(store, context)
        if execution is not None:
            break
    else:
        what = "any run" if run == "latest" else f"run {run!r}"
        raise LookupError(f"{what} in {metadata_path} has no Evaluator output (did the run "
                          "stop before the Evaluator?)")
    inputs = _events_by_key(store, execution.id, metadata_store_pb2.Event.INPUT)
    evaluation = outputs["evaluation"][0]
    blessing = (outputs.get("blessing") or [None])[0]
    blessed = None
    if blessing is not None and "blessed" in blessing.custom_properties:
        blessed = blessing.custom_properties["blessed"].int_value == 1
    model = inputs["model"][0]
    baseline = (inputs.get("baseline_model") or [None])[0]
    examples = inputs["examples"][0]
    splits = json.loads(_string_property(execution, "example_splits") or "null") or []
    pushed_destination, push_outcome, served_version = _push_result(store, context, blessing)
    return RunEvaluation(
        run_id=context.name,
        execution_id=execution.id,
        cached=execution.last_known_state == metadata_store_pb2.Execution.CACHED,
        evaluation_uri=evaluation.uri,
        blessing_uri=blessing.uri if blessing is not None else None,
        blessed=blessed,
        model_uri=model.uri,
        model_id=model.id,
        baseline_model_uri=baseline.uri if baseline is not None else None,
        baseline_model_id=baseline.id if baseline is not None else None,
        examples_uri=examples.uri,
        example_splits=list(splits),
        eval_config_json=_string_property(execution, "eval_config") or "",
        data_root=_producer_input_base(store, examples),
        pushed_destination=pushed_destination,
        push_outcome=push_outcome,
        served_version=served_version,
        inference_uri=_uri(_run_output(store, context, "inference_result", "model", model.id)),
        model_run_uri=_uri(_run_output(store, context, "model_run")),
        tuner_results_uri=_uri(_run_output(store, context, "tuner_results")),
        data_overlap=_string_custom(context, DATA_OVERLAP),
    )


def run_time_lengths(metadata_path: str) -> List[str]:
    """The console lines of the newest SequenceLengths task (lengths chosen inside a run)."""
    from components.sequence_lengths import console_lines

    store = open_store(metadata_path)
    names = [t.name for t in store.get_execution_types() if t.name.endswith(".SequenceLengths")]
    done = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)
    executions = [e for name in names for e in store.get_executions_by_type(name)
                  if e.last_known_state in done]
    if not executions:
        return []
    newest = max(executions, key=lambda e: e.id)
    artifact = _events_by_key(store, newest.id, metadata_store_pb2.Event.OUTPUT).get(
        "transform_config", [None])[0]
    if artifact is None:
        return []
    # A value artifact's URI is the file holding its value.
    with open(artifact.uri, encoding="utf-8") as f:
        return console_lines(f.read())
