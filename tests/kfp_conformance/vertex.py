"""Vertex AI Pipelines, as it hands a compiled TFX spec's tasks their inputs.

Vertex's service is not public code; this follows what TFX's Vertex path
(``tfx/orchestration/kubeflow/v2``: the compiler, the container runner,
the ExampleGen driver and their tests) expects of it:

* **Typed artifacts.** Every input artifact comes with its type (the
  consumer's input definition) and its resource name
  ``projects/<n>/locations/<region>/metadataStores/default/artifacts/<id>``;
  outputs are created up front with such names.
* **Schema-2.0 parameters.** With schema 2.0.0, parameters travel as
  ``inputs.parameters`` (``{"intValue": "20"}``), from
  ``runtimeValue.constantValue`` and the job's ``runtimeConfig.parameters``.
* **The ExampleGen driver.** A container's ``lifecycle.preCacheCheck`` runs
  before the cache check; the span, version, fingerprint and input config
  it writes to the output file join the task's parameters (and so its
  cache key); the executor then reads the same file.
* **Resolvers.** A ``resolver`` executor's ``outputArtifactQueries`` filters
  (``schema_title=``, ``state=LIVE``, ``metadata.<key>.number_value=``,
  ``name=`` with an input-artifact placeholder) run against the pipeline's
  artifacts; the newest match is the output, none on a first run.
* **Outputs** under ``<root>/<project number>/<job id>/<task>_<uuid>/``,
  the executor output in ``executor_output.json`` there; the artifacts
  written back (URI and metadata) are recorded.

Deviations: the pipeline root is a local folder (Vertex requires
``gs://``); the command runs in this environment; at most ``parallelism``
tasks run at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2 as mlmd

from tests.kfp_conformance.common import (
    Cache,
    ConformanceError,
    RunResult,
    TaskResult,
    dumps,
    executor_of,
    legacy_value,
    load_spec,
    run_dag,
    run_process,
    task_env,
)
from tests.kfp_conformance.kfp_launcher import schema_of, title_of
from tests.kfp_conformance.store import (
    CONTAINER_EXECUTION,
    DAG_EXECUTION,
    Store,
    from_mlmd_value,
    to_mlmd_value,
)
from tests.kfp_conformance.zygote import Zygote

PROJECT_NUMBER = "123456789012"
REGION = "europe-west4"
_CLAUSE = re.compile(r'^\s*([\w.]+)\s*=\s*(?:"(.*)"|(\S+))\s*$')
_ARTIFACT_METADATA = re.compile(
    r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.metadata\['([^']+)'\]\}\}")


def legacy(value) -> dict:
    """A plain value as a schema-2.0 ``Value``."""
    if isinstance(value, bool):
        return {"intValue": str(int(value))}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value if isinstance(value, str) else json.dumps(value)}


class Vertex:
    """Runs a compiled job the way Vertex AI Pipelines hands TFX its tasks."""

    def __init__(self, state_dir: str, parallelism: int = 2, warm: bool = False):
        self.state_dir = state_dir
        self.parallelism = parallelism
        self.zygote = Zygote() if warm else None
        os.makedirs(state_dir, exist_ok=True)
        self.store = Store(os.path.join(state_dir, "metadata.sqlite"))
        self.cache = Cache(os.path.join(state_dir, "cache.json"))

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def resource_name(self, artifact_id: int) -> str:
        return (f"projects/{PROJECT_NUMBER}/locations/{REGION}/metadataStores/default/"
                f"artifacts/{artifact_id}")

    def run(self, spec_path: str, pipeline_root: str, parameters: Optional[Dict] = None,
            run_id: Optional[str] = None) -> RunResult:
        spec, job_values = load_spec(spec_path)
        if not os.path.isabs(pipeline_root):
            raise ConformanceError(f"{pipeline_root}: a local absolute folder stands for gs://")
        run_id = run_id or f"{spec['pipelineInfo']['name']}-{uuid.uuid4().hex[:12]}"
        values = {**job_values, **(parameters or {})}
        for name, param in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
            if name not in values:
                if "defaultValue" not in param:
                    raise ConformanceError(f"The pipeline parameter {name} is required")
                values[name] = param["defaultValue"]
        contexts = self.store.pipeline_run(spec["pipelineInfo"]["name"], run_id, pipeline_root)
        job_root = os.path.join(pipeline_root, PROJECT_NUMBER, run_id)
        dag_id = self.store.create_execution(DAG_EXECUTION, f"vertex/{run_id}", list(contexts),
                                             {"task_name": "", "parent_dag_id": 0,
                                              "inputs": values})
        results = run_dag(spec["root"]["dag"]["tasks"],
                          lambda task_name: self._task(spec, task_name, values, dag_id,
                                                       contexts, run_id, job_root),
                          parallelism=self.parallelism)
        return RunResult("vertex", run_id, results)

    # --- inputs ------------------------------------------------------------------------
    def _parameters(self, spec, task_name, task, root_values, siblings) -> Dict[str, dict]:
        legacy_schema = spec.get("schemaVersion") == "2.0.0"
        out = {}
        for name, pspec in (task.get("inputs") or {}).get("parameters", {}).items():
            if "componentInputParameter" in pspec:
                value = root_values[pspec["componentInputParameter"]]
            elif "runtimeValue" in pspec:
                runtime = pspec["runtimeValue"]
                value = (json.loads(json.dumps(runtime["constant"])) if "constant" in runtime
                         else legacy_value(runtime["constantValue"]))
            elif "taskOutputParameter" in pspec:
                ref = pspec["taskOutputParameter"]
                value = self.store.struct_prop(siblings[ref["producerTask"]], "outputs")[
                    ref["outputParameterKey"]]
            else:
                raise ConformanceError(f"task {task_name}: parameter {name!r} not emulated")
            out[name] = legacy(value) if legacy_schema else value
        return out

    def _typed(self, artifact: mlmd.Artifact, artifact_type: dict) -> dict:
        metadata = {k: from_mlmd_value(v) for k, v in artifact.custom_properties.items()}
        metadata.pop("display_name", None)
        return {"name": self.resource_name(artifact.id), "uri": artifact.uri,
                "metadata": metadata, "type": artifact_type}

    def _artifacts(self, task_name, task, component, siblings) -> Dict[str, dict]:
        defs = component.get("inputDefinitions", {}).get("artifacts", {})
        out = {}
        for name, aspec in (task.get("inputs") or {}).get("artifacts", {}).items():
            ref = aspec["taskOutputArtifact"]
            produced = self.store.artifacts_of(siblings[ref["producerTask"]].id, output=True)
            out[name] = {"artifacts": [self._typed(a, defs[name]["artifactType"])
                                       for a in produced.get(ref["outputArtifactKey"], [])]}
        return out

    # --- one task ------------------------------------------------------------------------
    def _task(self, spec, task_name, root_values, dag_id, contexts, run_id, job_root):
        task = spec["root"]["dag"]["tasks"][task_name]
        component = spec["components"][task["componentRef"]["name"]]
        executor = executor_of(spec, task["componentRef"]["name"])
        siblings = self.store.executions_in_dag(dag_id, contexts[1])
        artifacts = self._artifacts(task_name, task, component, siblings)
        execution_id = self.store.create_execution(
            CONTAINER_EXECUTION, f"vertex/{run_id}/{task_name}", list(contexts),
            {"task_name": task_name, "parent_dag_id": dag_id})
        for key, lst in artifacts.items():
            ids = [int(a["name"].rsplit("/", 1)[1]) for a in lst["artifacts"]]
            self.store.link(execution_id, key, ids, output=False, contexts=list(contexts))
        if "resolver" in executor:
            return self._resolve(task_name, executor["resolver"], component, artifacts,
                                 execution_id, contexts)
        if "container" not in executor:
            raise ConformanceError(f"task {task_name}: {sorted(executor)} executors not emulated")
        legacy_schema = spec.get("schemaVersion") == "2.0.0"
        params = self._parameters(spec, task_name, task, root_values, siblings)
        task_root = os.path.join(job_root, f"{task_name}_{uuid.uuid4().hex[:8]}")
        outputs: Dict = {"artifacts": {}, "parameters": {},
                         "outputFile": os.path.join(task_root, "executor_output.json")}
        pending = {}
        for name, aspec in component.get("outputDefinitions", {}).get("artifacts", {}).items():
            title = title_of(schema_of(aspec["artifactType"]))
            aid = self.store.record_artifact(title, os.path.join(task_root, name),
                                             {"display_name": name})
            pending[name] = aid
            outputs["artifacts"][name] = {"artifacts": [{
                "name": self.resource_name(aid), "uri": os.path.join(task_root, name),
                "type": aspec["artifactType"]}]}
        for name in component.get("outputDefinitions", {}).get("parameters", {}):
            outputs["parameters"][name] = {"outputFile": os.path.join(task_root, "params", name)}
        inputs = {"artifacts": artifacts,
                  ("parameters" if legacy_schema else "parameterValues"): params}
        executor_input = {"inputs": inputs, "outputs": outputs}
        container = executor["container"]
        os.makedirs(task_root, exist_ok=True)
        log_path = os.path.join(self.state_dir, "tasks", f"{run_id[-12:]}-{task_name}.log")
        env = task_env({e["name"]: e["value"] for e in container.get("env", [])})
        pre = (container.get("lifecycle") or {}).get("preCacheCheck")
        seconds = 0.0
        if pre:
            command = [a.replace("{{$}}", dumps(executor_input))
                       for a in list(pre.get("command", [])) + list(pre.get("args", []))]
            code, seconds = run_process(command, env, log_path + ".driver",
                                        zygote=self.zygote)
            if code != 0:
                return TaskResult(task_name, "failed", seconds, execution_id, executor_input,
                                  command, log_path + ".driver", reason="ExampleGen driver: "
                                  f"exit code {code}")
            with open(outputs["outputFile"]) as f:
                driven = json.load(f)
            for key, value in (driven.get("parameterValues") or {}).items():
                inputs["parameters" if legacy_schema else "parameterValues"][key] = \
                    legacy(int(value) if isinstance(value, float) and value.is_integer()
                           else value) if legacy_schema else value
        fingerprint = ""
        if (task.get("cachingOptions") or {}).get("enableCache"):
            fingerprint = hashlib.sha256(json.dumps(
                [inputs, {k: v["artifacts"][0]["type"] for k, v in outputs["artifacts"].items()},
                 container.get("image"), container.get("command"), container.get("args")],
                sort_keys=True).encode()).hexdigest()
            cached = self.cache.lookup(fingerprint, spec["pipelineInfo"]["name"])
            if cached is not None:
                reused = self.store.artifacts_of(cached, output=True)
                for key, lst in reused.items():
                    self.store.link(execution_id, key, [a.id for a in lst], output=True,
                                    contexts=list(contexts))
                self.store.finish_execution(execution_id, mlmd.Execution.CACHED, {})
                return TaskResult(task_name, "cached", seconds, execution_id, executor_input)
        command = [a.replace("{{$}}", dumps(executor_input))
                   for a in list(container.get("command", [])) + list(container.get("args", []))]
        code, more = run_process(command, env, log_path, zygote=self.zygote)
        result = TaskResult(task_name, "executed", seconds + more, execution_id, executor_input,
                            command, log_path)
        if code != 0:
            result.state, result.reason = "failed", f"exit code {code}"
            self.store.finish_execution(execution_id, mlmd.Execution.FAILED, {})
            return result
        written = {}
        if os.path.exists(outputs["outputFile"]):
            with open(outputs["outputFile"]) as f:
                written = json.load(f)
        for name, aid in pending.items():
            [artifact] = self.store.artifacts([aid])
            got = ((written.get("artifacts") or {}).get(name) or {}).get("artifacts") or []
            if got:
                artifact.uri = got[0].get("uri") or artifact.uri
                for key, value in (got[0].get("metadata") or {}).items():
                    if value is not None:
                        artifact.custom_properties[key].CopyFrom(to_mlmd_value(value))
            self.store.put_artifact(artifact)
            self.store.link(execution_id, name, [aid], output=True, contexts=list(contexts))
        self.store.finish_execution(execution_id, mlmd.Execution.COMPLETE,
                                    {"outputs": written.get("parameterValues") or {}})
        if fingerprint:
            self.cache.add(fingerprint, spec["pipelineInfo"]["name"], execution_id)
        result.outputs = {name: [self._typed(self.store.artifacts([aid])[0], {})]
                          for name, aid in pending.items()}
        return result

    # --- resolver executors ---------------------------------------------------------------
    def _resolve(self, task_name, resolver, component, inputs, execution_id, contexts):
        found = {}
        for key, query in resolver.get("outputArtifactQueries", {}).items():
            found[key] = self._query(query["filter"], inputs, contexts[0])
            if found[key]:
                self.store.link(execution_id, key, [found[key][0].id], output=True,
                                contexts=list(contexts))
        self.store.finish_execution(execution_id, mlmd.Execution.COMPLETE, {})
        return TaskResult(task_name, "executed", execution_id=execution_id,
                          outputs={k: [self._typed(a, {}) for a in v] for k, v in found.items()})

    def _query(self, text: str, inputs: Dict[str, dict], pipeline: mlmd.Context
               ) -> List[mlmd.Artifact]:
        def placeholder(match):
            lst = inputs.get(match.group(1), {}).get("artifacts") or []
            return str(lst[0]["metadata"].get(match.group(2), "")) if lst else ""

        clauses = []
        for raw in _ARTIFACT_METADATA.sub(placeholder, text).split(" AND "):
            m = _CLAUSE.match(raw)
            if not m:
                raise ConformanceError(f"resolver filter clause {raw!r} not emulated")
            clauses.append((m.group(1), m.group(2) if m.group(2) is not None else m.group(3)))
        matches = []
        for artifact in self.store.artifacts_in_context(pipeline):
            if all(self._holds(artifact, key, value) for key, value in clauses):
                matches.append(artifact)
        return sorted(matches, key=lambda a: a.id)[-1:]

    def _holds(self, artifact: mlmd.Artifact, key: str, value: str) -> bool:
        if key == "schema_title":
            return self.store.artifact_type_name(artifact) == value
        if key == "state":
            return mlmd.Artifact.State.Name(artifact.state) == value
        if key == "name":
            return bool(value) and self.resource_name(artifact.id) == value
        if key.startswith("metadata.") and key.endswith(".number_value"):
            prop = artifact.custom_properties.get(key[len("metadata."):-len(".number_value")])
            return prop is not None and from_mlmd_value(prop) == float(value)
        raise ConformanceError(f"resolver filter key {key!r} not emulated")
