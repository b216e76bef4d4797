"""The backend's ML Metadata, as KFP's metadata client writes it, in SQLite.

One store holds every emulated run, like a cluster's metadata-grpc service:
contexts ``system.Pipeline`` (the pipeline name) and ``system.PipelineRun``
(the run id, with its pipeline root), executions ``system.DAGExecution``
(the root DAG) and ``system.ContainerExecution`` (one per task, with
``task_name``, ``parent_dag_id``, ``inputs`` and ``outputs`` as custom
properties), artifacts typed by their schema title with every field as a
custom property (``RecordArtifact``), and INPUT/OUTPUT events whose path
is the artifact's key (``metadata/client.go``).
"""

from __future__ import annotations

import functools
import threading
from typing import Dict, List, Optional, Tuple

from google.protobuf import json_format
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

PIPELINE_CONTEXT = "system.Pipeline"
RUN_CONTEXT = "system.PipelineRun"
DAG_EXECUTION = "system.DAGExecution"
CONTAINER_EXECUTION = "system.ContainerExecution"


def to_mlmd_value(value) -> mlmd.Value:
    """KFP's StructValueToMLMDValue: numbers become doubles, bools ints, lists and
    structs a struct under "list"/"struct"; null is refused."""
    out = mlmd.Value()
    if isinstance(value, bool):
        out.int_value = int(value)
    elif isinstance(value, (int, float)):
        out.double_value = float(value)
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, (list, dict)):
        out.struct_value.update({"list" if isinstance(value, list) else "struct": value})
    else:
        raise ValueError(f"unknown/unsupported value type {type(value).__name__} ({value!r})")
    return out


def from_mlmd_value(value: mlmd.Value):
    """KFP's toRuntimeArtifact: MLMD value -> JSON value of the artifact's metadata."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "double_value":
        return value.double_value
    if kind == "int_value":
        return float(value.int_value)
    if kind == "struct_value":
        return json_format.MessageToDict(value.struct_value)
    raise ValueError(f"unknown property type in MLMD artifact: {kind}")


def _struct(value: Dict) -> mlmd.Value:
    out = mlmd.Value()
    out.struct_value.SetInParent()  # an empty struct is still a struct
    out.struct_value.update(value)
    return out


def _locked(method):
    """One call at a time: tasks run in threads, and the MLMD client is not thread-safe."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return call


class Store:
    """ML Metadata in SQLite, written the way KFP's driver and launcher write it."""

    def __init__(self, path: str):
        config = mlmd.ConnectionConfig()
        config.sqlite.filename_uri = path
        config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.mlmd = metadata_store.MetadataStore(config)
        self._types: Dict[Tuple[str, str], int] = {}
        self._lock = threading.RLock()

    # --- types -----------------------------------------------------------------
    def _type_id(self, kind: str, name: str) -> int:
        key = (kind, name)
        if key not in self._types:
            if kind == "artifact":
                self._types[key] = self.mlmd.put_artifact_type(mlmd.ArtifactType(name=name))
            elif kind == "execution":
                self._types[key] = self.mlmd.put_execution_type(mlmd.ExecutionType(name=name))
            else:
                self._types[key] = self.mlmd.put_context_type(mlmd.ContextType(name=name))
        return self._types[key]

    @_locked
    def artifact_type_name(self, artifact: mlmd.Artifact) -> str:
        [t] = self.mlmd.get_artifact_types_by_id([artifact.type_id])
        return t.name

    # --- contexts ----------------------------------------------------------------
    def _context(self, type_name: str, name: str, props: Optional[Dict] = None) -> mlmd.Context:
        found = self.mlmd.get_context_by_type_and_name(type_name, name)
        if found is not None:
            return found
        ctx = mlmd.Context(type_id=self._type_id("context", type_name), name=name)
        for k, v in (props or {}).items():
            ctx.custom_properties[k].string_value = v
        [ctx.id] = self.mlmd.put_contexts([ctx])
        return ctx

    @_locked
    def pipeline_run(self, pipeline_name: str, run_id: str, pipeline_root: str
                     ) -> Tuple[mlmd.Context, mlmd.Context]:
        pipeline = self._context(PIPELINE_CONTEXT, pipeline_name)
        run = self._context(RUN_CONTEXT, run_id, {"pipeline_root": pipeline_root})
        if not self.mlmd.get_parent_contexts_by_context(run.id):
            self.mlmd.put_parent_contexts([mlmd.ParentContext(child_id=run.id,
                                                              parent_id=pipeline.id)])
        return pipeline, run

    # --- executions ----------------------------------------------------------------
    @_locked
    def create_execution(self, type_name: str, name: str, contexts: List[mlmd.Context],
                         props: Dict) -> int:
        execution = mlmd.Execution(type_id=self._type_id("execution", type_name), name=name,
                                   last_known_state=mlmd.Execution.RUNNING)
        self._set_props(execution, props)
        [eid] = self.mlmd.put_executions([execution])
        self.mlmd.put_attributions_and_associations(
            [], [mlmd.Association(context_id=c.id, execution_id=eid) for c in contexts])
        return eid

    @staticmethod
    def _set_props(message, props: Dict) -> None:
        for k, v in props.items():
            if isinstance(v, dict):
                message.custom_properties[k].CopyFrom(_struct(v))
            elif isinstance(v, bool) or isinstance(v, int):
                message.custom_properties[k].int_value = int(v)
            else:
                message.custom_properties[k].string_value = str(v)

    @_locked
    def execution(self, execution_id: int) -> mlmd.Execution:
        [e] = self.mlmd.get_executions_by_id([execution_id])
        return e

    @_locked
    def finish_execution(self, execution_id: int, state: int, props: Dict) -> None:
        execution = self.execution(execution_id)
        execution.last_known_state = state
        self._set_props(execution, props)
        self.mlmd.put_executions([execution])

    @_locked
    def struct_prop(self, execution: mlmd.Execution, key: str) -> Dict:
        if key not in execution.custom_properties:
            return {}
        return json_format.MessageToDict(execution.custom_properties[key].struct_value)

    @_locked
    def executions_in_dag(self, dag_id: int, run: mlmd.Context) -> Dict[str, mlmd.Execution]:
        """Task name -> execution, for the tasks of one DAG execution (GetExecutionsInDAG)."""
        out = {}
        for e in self.mlmd.get_executions_by_context(run.id):
            if e.custom_properties.get("parent_dag_id", mlmd.Value()).int_value == dag_id:
                out[e.custom_properties["task_name"].string_value] = e
        return out

    # --- artifacts and events -------------------------------------------------------
    @_locked
    def record_artifact(self, type_name: str, uri: str, custom: Dict,
                        name: Optional[str] = None) -> int:
        artifact = mlmd.Artifact(type_id=self._type_id("artifact", type_name), uri=uri,
                                 state=mlmd.Artifact.LIVE)
        if name:
            artifact.name = name
        for k, v in custom.items():
            artifact.custom_properties[k].CopyFrom(to_mlmd_value(v))
        [aid] = self.mlmd.put_artifacts([artifact])
        return aid

    @_locked
    def link(self, execution_id: int, key: str, artifact_ids: List[int], output: bool,
             contexts: List[mlmd.Context]) -> None:
        kind = mlmd.Event.OUTPUT if output else mlmd.Event.INPUT
        events = []
        for aid in artifact_ids:
            event = mlmd.Event(artifact_id=aid, execution_id=execution_id, type=kind)
            event.path.steps.add().key = key
            events.append(event)
        self.mlmd.put_events(events)
        if output:
            self.mlmd.put_attributions_and_associations(
                [mlmd.Attribution(context_id=c.id, artifact_id=a)
                 for c in contexts for a in artifact_ids], [])

    @_locked
    def artifacts_of(self, execution_id: int, output: bool) -> Dict[str, List[mlmd.Artifact]]:
        kind = mlmd.Event.OUTPUT if output else mlmd.Event.INPUT
        ids: Dict[str, List[int]] = {}
        for event in self.mlmd.get_events_by_execution_ids([execution_id]):
            if event.type == kind:
                ids.setdefault(event.path.steps[0].key, []).append(event.artifact_id)
        every = {a.id: a for a in self.mlmd.get_artifacts_by_id(
            [i for lst in ids.values() for i in lst])}
        return {key: [every[i] for i in lst] for key, lst in ids.items()}

    @_locked
    def artifacts_in_context(self, context: mlmd.Context) -> List[mlmd.Artifact]:
        return self.mlmd.get_artifacts_by_context(context.id)

    @_locked
    def artifacts(self, ids: List[int]) -> List[mlmd.Artifact]:
        return self.mlmd.get_artifacts_by_id(ids)

    @_locked
    def put_artifact(self, artifact: mlmd.Artifact) -> None:
        self.mlmd.put_artifacts([artifact])

    @_locked
    def artifacts_by_uri(self, uri: str) -> List[mlmd.Artifact]:
        return self.mlmd.get_artifacts_by_uri(uri)
