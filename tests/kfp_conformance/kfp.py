"""Open-source Kubeflow Pipelines v2, as ``backend/src/v2`` runs a compiled spec.

Written from the KFP sources (releases 2.0 to 2.17), not from TFX's
assumptions. What each step follows:

* **Refusals** before anything runs: the API server's schema check
  (``apiserver/template/v2_template.go``: 2.1.0 only) and the compiler's
  executor kinds (``v2/compiler/visitor.go``: container and importer).
* **Root DAG** (``driver/root_dag.go``, ``compiler/argocompiler/argo.go``):
  the run's parameters, root defaults filled in, optional ones without a
  default as null; the run's root is ``<pipeline root>/<pipeline>/<run id>``.
* **Container driver** (``driver/container.go``, ``driver/resolve.go``):
  input parameters from the root, constants or another task's output
  parameters, type-checked against the component (non-strings converted
  to text for STRING inputs); input artifacts from the producer's
  outputs in ML Metadata, with the *empty* type ``GetOutputArtifactsByExecutionId``
  leaves (``metadata/client.go``); outputs provisioned under the task root
  (``<run root>/<task>/<uuid>/<name>``; before 2.5: ``<run root>/<task>/<name>``)
  plus ``executor-logs`` typed ``system.Artifact`` when logs are published
  (2.5+); the cache fingerprint of inputs, output specs, command and image
  (``driver/cache.go``, ``cacheutils``) and a cache hit reusing the
  earlier execution's outputs; the pod's resources (``initPodSpecPatch``).
* **Launcher** (``component/launcher_v2.go``): ``{{$.inputs.parameters[...]}}``
  resolved (by the driver in 2.17) then ``{{$}}`` and the other placeholders;
  ``executor-logs`` qualified with the retry index (2.17); output folders
  made; the command run with ``KFP_POD_NAME``/``KFP_POD_UID`` set and its
  output teed into the logs artifact; the executor output read, output
  parameters collected, each output artifact merged with what the executor
  wrote and recorded (``RecordArtifact``: schema title as type, metadata as
  custom properties, nulls refused), the execution published, a cache
  entry created.

Deviations, because no cluster exists here: the pipeline root is a local
folder standing for the bucket *and* its mount, so the launcher's copies
between the object store and ``/gcs``, ``/minio`` or ``/s3`` are the
identity; pod-local paths (``/tmp/kfp/outputs``, ``/tmp/kfp_outputs``)
are rebased into a folder per task; the command runs in this environment
(``python`` is this interpreter), not in the image; tasks run one at a
time, at most ``parallelism`` at once; importer executors are not emulated (the MSA
pipeline has none).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import uuid
from typing import Dict, List, Optional

import yaml
from ml_metadata.proto import metadata_store_pb2 as mlmd

from tests.kfp_conformance.common import (
    Cache, ConformanceError, RunResult, TaskResult, dumps, executor_of, load_spec, run_process,
    run_dag, task_env, with_ancestors)
from tests.kfp_conformance.store import (
    CONTAINER_EXECUTION, DAG_EXECUTION, Store, from_mlmd_value)
from tests.kfp_conformance.zygote import Zygote

SCHEMA_VERSION = "2.1.0"
EXECUTOR_KINDS = ("container", "importer")
LOGS = "executor-logs"
POD_OUTPUT_METADATA = "/tmp/kfp_outputs/output_metadata.json"
POD_PARAMETERS = "/tmp/kfp/outputs"
_INPUT_PARAMETER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def check_spec(spec: dict) -> None:
    """What the API server and compiler refuse, with their messages."""
    version = spec.get("schemaVersion")
    if version != SCHEMA_VERSION:
        raise ConformanceError(f"KFP only supports schema version {SCHEMA_VERSION}, but the "
                               f"pipeline spec has version {version}")
    if not _NAME.match(spec.get("pipelineInfo", {}).get("name", "")):
        raise ConformanceError("invalid v2 pipeline spec: name is empty or not lower case "
                               "alphanumeric, '-' or '.'")
    for name in sorted(spec["root"]["dag"]["tasks"]):
        component = spec["root"]["dag"]["tasks"][name]["componentRef"]["name"]
        executor = executor_of(spec, component)
        if not any(k in executor for k in EXECUTOR_KINDS):
            raise ConformanceError(
                f'error processing component name="{component}": executor(label='
                f'"{spec["components"][component]["executorLabel"]}"): non-container and '
                "non-importer executor not implemented")


def generate_output_uri(root: str, *paths: str) -> str:
    return root.rstrip("/") + "/" + "/".join(p.strip("/") for p in paths if p)


def local_path_for_uri(uri: str) -> str:
    """LocalPathForURI, with a local root standing for both bucket and mount."""
    for scheme, mount in (("gs://", "/gcs/"), ("minio://", "/minio/"), ("s3://", "/s3/")):
        if uri.startswith(scheme):
            raise ConformanceError(f"{uri}: object stores are not emulated here; compile with "
                                   "a local --pipeline-root")
    if not os.path.isabs(uri):
        raise ConformanceError(f"failed to generate local path for URI {uri}: unsupported "
                               "storage scheme")
    return uri


def text_of(value) -> str:
    """PbValueToText."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def value_from_text(text: str, kind: str):
    """TextToPbValue."""
    if kind == "STRING":
        return text
    if kind == "NUMBER_INTEGER":
        return float(int(text.strip()))
    if kind == "NUMBER_DOUBLE":
        return float(text.strip())
    if kind == "BOOLEAN":
        return {"true": True, "false": False}[text.strip().lower()]
    return json.loads(text)


def schema_of(artifact_type: dict) -> str:
    """getArtifactSchema."""
    if "instanceSchema" in artifact_type:
        return artifact_type["instanceSchema"]
    if "schemaTitle" in artifact_type:
        return "title: " + artifact_type["schemaTitle"]
    raise ConformanceError(f"unknown type in ArtifactTypeSchema {artifact_type}")


def title_of(schema: str) -> str:
    """SchemaToArtifactType: the YAML title, which must be there."""
    title = (yaml.safe_load(schema) or {}).get("title") if schema else None
    if not title:
        raise ConformanceError(f"No title specified in artifact schema {schema!r}")
    return title


class Kfp:
    """Runs a compiled spec the way the open-source backend's driver and launcher do."""

    def __init__(self, state_dir: str, version: str = "2.17", publish_logs: bool = True,
                 cache_enabled: bool = True, parallelism: int = 2, warm: bool = False):
        if version not in ("2.0", "2.17"):
            raise ValueError("version: the oldest (2.0-2.4) or newest (2.17) behaviour")
        self.state_dir = state_dir
        self.version = version
        self.publish_logs = publish_logs and version != "2.0"  # logs artifact: 2.5+
        self.cache_enabled = cache_enabled
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

    # --- the run ----------------------------------------------------------------------
    def run(self, spec_path: str, pipeline_root: str, parameters: Optional[Dict] = None,
            run_id: Optional[str] = None, only: Optional[str] = None) -> RunResult:
        """Runs every task (or ``only`` that task and those it waits on)."""
        spec, job_values = load_spec(spec_path)
        check_spec(spec)
        run_id = run_id or str(uuid.uuid4())
        values = self._root_parameters(spec, {**job_values, **(parameters or {})})
        name = spec["pipelineInfo"]["name"]
        run_root = generate_output_uri(pipeline_root, name, run_id)
        contexts = self.store.pipeline_run(name, run_id, run_root)
        dag_id = self.store.create_execution(
            DAG_EXECUTION, f"run/{run_id}", list(contexts),
            {"display_name": "", "task_name": "", "parent_dag_id": 0, "inputs": values})
        tasks = spec["root"]["dag"]["tasks"]
        results = run_dag(
            tasks, lambda task_name: self._task(spec, task_name, values, dag_id, contexts,
                                                run_id, run_root, name),
            with_ancestors(tasks, only) if only else None, self.parallelism)
        self.store.finish_execution(
            dag_id, mlmd.Execution.COMPLETE if all(
                r.state != "failed" for r in results.values()) else mlmd.Execution.FAILED, {})
        return RunResult("kfp", run_id, results)

    @staticmethod
    def _root_parameters(spec: dict, given: Dict) -> Dict:
        values = dict(given)
        for name, param in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
            if name not in values:
                if "defaultValue" in param:
                    values[name] = param["defaultValue"]
                elif param.get("isOptional"):
                    values[name] = None
                else:
                    raise ConformanceError(f"pipeline parameter {name!r} is required")
        return values

    # --- one task: driver, then launcher ------------------------------------------------
    def _task(self, spec, task_name, root_values, dag_id, contexts, run_id, run_root,
              pipeline_name) -> TaskResult:
        task = spec["root"]["dag"]["tasks"][task_name]
        component = spec["components"][task["componentRef"]["name"]]
        executor = executor_of(spec, task["componentRef"]["name"])
        if "container" not in executor:
            raise ConformanceError(f"task {task_name}: importer executors are not emulated")
        container = executor["container"]
        if (task.get("triggerPolicy") or {}).get("condition"):
            raise ConformanceError(f"task {task_name}: conditions are not emulated")
        siblings = self.store.executions_in_dag(dag_id, contexts[1])
        inputs = self._resolve_inputs(task_name, task, component, root_values, siblings)
        pod_dir = os.path.join(self.state_dir, "pods", f"{run_id[:8]}-{task_name}")
        outputs = self._provision_outputs(run_root, task_name, component, pod_dir)
        executor_input = {"inputs": inputs, "outputs": outputs}
        fingerprint = ""
        caching = (task.get("cachingOptions") or {}).get("enableCache", False)
        if self.cache_enabled and caching:
            fingerprint = self._fingerprint(executor_input, component, container)
        input_ids = {k: [int(a["name"]) for a in lst["artifacts"]]
                     for k, lst in inputs["artifacts"].items()}
        execution_id = self.store.create_execution(
            CONTAINER_EXECUTION, f"run/{run_id}/task/{task_name}", list(contexts),
            {"display_name": task_name, "task_name": task_name, "parent_dag_id": dag_id,
             "inputs": inputs["parameterValues"], "cache_fingerprint": fingerprint,
             "pod_name": f"{pipeline_name}-{task_name}".lower()})
        for key, ids in input_ids.items():
            self.store.link(execution_id, key, ids, output=False, contexts=list(contexts))
        resources = pod_resources(container.get("resources") or {})
        cached = self.cache.lookup(fingerprint, "pipeline/" + pipeline_name) \
            if fingerprint else None
        if cached is not None:
            return self._reuse(task_name, execution_id, cached, contexts, executor_input,
                               resources)
        return self._launch(task_name, component, container, executor_input, execution_id,
                            contexts, pod_dir, fingerprint, pipeline_name, resources)

    def _resolve_inputs(self, task_name, task, component, root_values, siblings) -> dict:
        specs = component.get("inputDefinitions", {})
        params: Dict = {}
        for name, pspec in (task.get("inputs") or {}).get("parameters", {}).items():
            if "componentInputParameter" in pspec:
                value = root_values.get(pspec["componentInputParameter"])
                if value is None:
                    if specs.get("parameters", {}).get(name, {}).get("isOptional"):
                        continue
                    raise ConformanceError(f"task {task_name}: parameter {name!r} resolved to "
                                           "null")
            elif "runtimeValue" in pspec:
                runtime = pspec["runtimeValue"]
                if "constant" not in runtime:
                    raise ConformanceError(
                        f"task {task_name}: parameter {name!r}: runtimeValue without "
                        "'constant' (a schema-2.0 constantValue)")
                value = runtime["constant"]
            elif "taskOutputParameter" in pspec:
                ref = pspec["taskOutputParameter"]
                producer = siblings.get(ref["producerTask"])
                if producer is None:
                    raise ConformanceError(f"task {task_name}: cannot find producer task "
                                           f"{ref['producerTask']!r}")
                produced = self.store.struct_prop(producer, "outputs")
                if ref["outputParameterKey"] not in produced:
                    raise ConformanceError(
                        f"task {task_name}: producer {ref['producerTask']!r} has no output "
                        f"parameter {ref['outputParameterKey']!r}")
                value = produced[ref["outputParameterKey"]]
            else:
                raise ConformanceError(f"task {task_name}: parameter {name!r}: {pspec} is "
                                       "not emulated")
            params[name] = value
        for name, pdef in specs.get("parameters", {}).items():
            kind = pdef.get("parameterType")
            if name not in params:
                if not pdef.get("isOptional") and "defaultValue" not in pdef:
                    raise ConformanceError(
                        f"task {task_name}: neither value nor default value provided for "
                        f"non-optional parameter {name!r}")
                continue
            value = params[name]
            if kind == "STRING":
                if not isinstance(value, str):
                    params[name] = text_of(value)
                continue
            expected = {"NUMBER_INTEGER": (int, float), "NUMBER_DOUBLE": (int, float),
                        "BOOLEAN": (bool,), "LIST": (list,), "STRUCT": (dict,)}.get(kind)
            if expected and (not isinstance(value, expected) or (
                    isinstance(value, bool) and kind != "BOOLEAN")):
                raise ConformanceError(f"task {task_name}: input parameter {name!r} type "
                                       f"mismatch: expect {kind}, got {type(value).__name__}")
        artifacts: Dict = {}
        for name, aspec in (task.get("inputs") or {}).get("artifacts", {}).items():
            ref = aspec.get("taskOutputArtifact")
            if not ref:
                raise ConformanceError(f"task {task_name}: artifact {name!r}: {aspec} is not "
                                       "emulated")
            producer = siblings.get(ref["producerTask"])
            if producer is None:
                raise ConformanceError(f"task {task_name}: cannot find producer task "
                                       f"{ref['producerTask']!r}")
            produced = self.store.artifacts_of(producer.id, output=True)
            if ref["outputArtifactKey"] not in produced:
                raise ConformanceError(
                    f"task {task_name}: cannot find output artifact key "
                    f"{ref['outputArtifactKey']!r} in producer task {ref['producerTask']!r}")
            artifact = produced[ref["outputArtifactKey"]][-1]
            artifacts[name] = {"artifacts": [self._runtime_artifact(artifact)]}
        return {"parameterValues": params, "artifacts": artifacts}

    @staticmethod
    def _runtime_artifact(artifact: mlmd.Artifact) -> dict:
        """OutputArtifact.ToRuntimeArtifact with the schema left empty."""
        metadata = {k: from_mlmd_value(v) for k, v in artifact.properties.items()}
        metadata.update({k: from_mlmd_value(v) for k, v in artifact.custom_properties.items()})
        return {"name": str(artifact.id), "uri": artifact.uri, "metadata": metadata,
                "type": {"instanceSchema": ""}}

    def _provision_outputs(self, run_root, task_name, component, pod_dir) -> dict:
        outputs_spec = component.get("outputDefinitions", {})
        artifacts = dict(outputs_spec.get("artifacts", {}))
        if self.publish_logs:
            artifacts[LOGS] = {"artifactType": {"schemaTitle": "system.Artifact"}}
        salt = str(uuid.uuid4())
        task_root = generate_output_uri(run_root, task_name, salt)
        out: Dict = {"artifacts": {}, "parameters": {}}
        for name, aspec in artifacts.items():
            artifact = {"uri": (generate_output_uri(task_root, name) if self.version != "2.0"
                                else generate_output_uri(run_root, task_name, name)),
                        "type": aspec["artifactType"]}
            if self.version != "2.0":
                artifact["name"] = name
            if aspec.get("metadata"):
                artifact["metadata"] = aspec["metadata"]
            out["artifacts"][name] = {"artifacts": [artifact]}
        for name in outputs_spec.get("parameters", {}):
            out["parameters"][name] = {
                "outputFile": pod_dir + os.path.join(POD_PARAMETERS, name)}
        if self.version == "2.17":
            out["outputFile"] = os.path.join(local_path_for_uri(task_root),
                                             "output_metadata.json")
        else:
            out["outputFile"] = pod_dir + POD_OUTPUT_METADATA
        return out

    # --- cache ---------------------------------------------------------------------------
    @staticmethod
    def _fingerprint(executor_input: dict, component: dict, container: dict) -> str:
        inputs, outputs = executor_input["inputs"], executor_input["outputs"]
        key = {
            "inputArtifactNames": {k: [a.get("name", "") for a in v["artifacts"]]
                                   for k, v in inputs["artifacts"].items()},
            "inputParameterValues": inputs["parameterValues"],
            "outputArtifactsSpec": {k: {"name": v["artifacts"][0].get("name", ""),
                                        "type": v["artifacts"][0].get("type"),
                                        "metadata": v["artifacts"][0].get("metadata")}
                                    for k, v in outputs["artifacts"].items() if v["artifacts"]},
            "outputParametersSpec": {
                k: component["outputDefinitions"]["parameters"][k]["parameterType"]
                for k in outputs["parameters"]},
            "containerSpec": {"image": container.get("image"),
                              "cmdArgs": list(container.get("command", []))
                              + list(container.get("args", [])), "pvcNames": []},
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    def _reuse(self, task_name, execution_id, cached_id, contexts, executor_input, resources):
        cached = self.store.execution(cached_id)
        outputs = self.store.artifacts_of(cached_id, output=True)
        outputs.pop(LOGS, None)
        for key, artifacts in outputs.items():
            self.store.link(execution_id, key, [a.id for a in artifacts], output=True,
                            contexts=list(contexts))
        self.store.finish_execution(
            execution_id, mlmd.Execution.CACHED,
            {"outputs": self.store.struct_prop(cached, "outputs"),
             "cached_execution_id": str(cached_id)})
        return TaskResult(task_name, "cached", execution_id=execution_id,
                          executor_input=executor_input, pod_resources=resources,
                          outputs={k: [self._runtime_artifact(a) for a in v]
                                   for k, v in outputs.items()})

    # --- launcher ------------------------------------------------------------------------
    def _launch(self, task_name, component, container, executor_input, execution_id,
                contexts, pod_dir, fingerprint, pipeline_name, resources) -> TaskResult:
        executor_input = copy.deepcopy(executor_input)
        logs = executor_input["outputs"]["artifacts"].get(LOGS)
        if logs and self.version == "2.17":  # qualifyExecutorLogsForRetry, first attempt
            logs["artifacts"][0]["uri"] += "-0"
        command = self._compile_command(container, executor_input)
        for lst in executor_input["outputs"]["artifacts"].values():
            for artifact in lst["artifacts"]:
                os.makedirs(os.path.dirname(local_path_for_uri(artifact["uri"])), exist_ok=True)
        for param in executor_input["outputs"]["parameters"].values():
            os.makedirs(os.path.dirname(param["outputFile"]), exist_ok=True)
        log_path = os.path.join(pod_dir, "main.log")
        tee = local_path_for_uri(logs["artifacts"][0]["uri"]) if logs else None
        env = task_env({"KFP_POD_NAME": f"{pipeline_name}-{task_name}".lower(),
                        "KFP_POD_UID": str(uuid.uuid4()),
                        **{e["name"]: e["value"] for e in container.get("env", [])}})
        code, seconds = run_process(command, env, log_path, tee_path=tee, zygote=self.zygote)
        result = TaskResult(task_name, "executed", seconds, execution_id, executor_input,
                            command, log_path, resources)
        if code != 0:
            result.state, result.reason = "failed", f"exit code {code}"
            recorded = self._record_outputs(executor_input, {}, only_logs=True)
            self._publish(execution_id, recorded, {}, contexts, mlmd.Execution.FAILED)
            return result
        try:
            executor_output = self._read_output(executor_input["outputs"]["outputFile"])
            params = self._collect_parameters(executor_input, executor_output, component)
            recorded = self._record_outputs(executor_input, executor_output)
        except (ConformanceError, ValueError, KeyError) as err:
            result.state, result.reason = "failed", f"launcher: {err}"
            self._publish(execution_id, {}, {}, contexts, mlmd.Execution.FAILED)
            return result
        self._publish(execution_id, recorded, params, contexts, mlmd.Execution.COMPLETE)
        if fingerprint:
            self.cache.add(fingerprint, "pipeline/" + pipeline_name, execution_id)
        result.outputs = {k: [self._runtime_artifact(self.store.artifacts([i])[0])
                              for i in ids] for k, ids in recorded.items()}
        return result

    def _compile_command(self, container: dict, executor_input: dict) -> List[str]:
        values = executor_input["inputs"]["parameterValues"]

        def resolve_parameters(arg: str) -> str:  # the driver, before the pod starts
            if "$.outputs" in arg:
                return arg
            return _INPUT_PARAMETER.sub(lambda m: text_of(values[m.group(1)]), arg)

        raw = [resolve_parameters(a) for a in list(container.get("command", []))
               + list(container.get("args", []))]
        placeholders = {"{{$}}": dumps(executor_input)}
        for name, lst in executor_input["inputs"]["artifacts"].items():
            if lst["artifacts"]:
                uri = lst["artifacts"][0]["uri"]
                placeholders[f"{{{{$.inputs.artifacts['{name}'].uri}}}}"] = uri
                placeholders[f"{{{{$.inputs.artifacts['{name}'].path}}}}"] = local_path_for_uri(uri)
        for name, lst in executor_input["outputs"]["artifacts"].items():
            uri = lst["artifacts"][0]["uri"]
            placeholders[f"{{{{$.outputs.artifacts['{name}'].uri}}}}"] = uri
            placeholders[f"{{{{$.outputs.artifacts['{name}'].path}}}}"] = local_path_for_uri(uri)
        for name, param in executor_input["outputs"]["parameters"].items():
            placeholders[f"{{{{$.outputs.parameters['{name}'].output_file}}}}"] = \
                param["outputFile"]
        compiled = []
        for arg in raw:
            for key, value in placeholders.items():
                arg = arg.replace(key, value)
            compiled.append(arg)
        return compiled

    @staticmethod
    def _read_output(path: str) -> dict:
        if not os.path.exists(path):
            return {}
        from google.protobuf import json_format
        from kfp.pipeline_spec import pipeline_spec_pb2

        with open(path) as f:
            text = f.read()
        try:  # protojson.Unmarshal: unknown fields are an error
            json_format.Parse(text, pipeline_spec_pb2.ExecutorOutput())
        except json_format.ParseError as err:
            raise ConformanceError(f"failed to unmarshall ExecutorOutput in file {path!r}: "
                                   f"{err}") from None
        return json.loads(text)

    @staticmethod
    def _collect_parameters(executor_input, executor_output, component) -> Dict:
        params = dict(executor_output.get("parameterValues") or {})
        for name, param in executor_input["outputs"]["parameters"].items():
            if name in params:
                continue
            kind = component["outputDefinitions"]["parameters"][name]["parameterType"]
            try:
                with open(param["outputFile"]) as f:
                    params[name] = value_from_text(f.read(), kind)
            except (OSError, ValueError) as err:
                raise ConformanceError(f"failed to read output parameter name={name!r}: "
                                       f"{err}") from None
        return params

    def _record_outputs(self, executor_input, executor_output, only_logs=False
                        ) -> Dict[str, List[int]]:
        recorded: Dict[str, List[int]] = {}
        for name, lst in executor_input["outputs"]["artifacts"].items():
            if only_logs and name != LOGS:
                continue
            for artifact in lst["artifacts"]:
                artifact = copy.deepcopy(artifact)
                written = ((executor_output.get("artifacts") or {}).get(name) or {}).get(
                    "artifacts") or []
                if written and name != LOGS:  # mergeRuntimeArtifacts
                    if written[0].get("uri"):
                        artifact["uri"] = written[0]["uri"]
                    artifact.setdefault("metadata", {}).update(written[0].get("metadata") or {})
                local = local_path_for_uri(artifact["uri"])
                if name == LOGS and not os.path.exists(local):
                    continue  # never streamed: no dead link recorded
                metadata = dict(artifact.get("metadata") or {})
                metadata.setdefault("display_name", name)
                metadata.setdefault("store_session_info", "{}")
                try:
                    aid = self.store.record_artifact(
                        title_of(schema_of(artifact["type"])), artifact["uri"], metadata)
                except ValueError as err:
                    raise ConformanceError(f"unable to produce MLMD artifact for output "
                                           f"{name!r}: {err}") from None
                recorded.setdefault(name, []).append(aid)
        return recorded

    def _publish(self, execution_id, recorded, params, contexts, state) -> None:
        for key, ids in recorded.items():
            self.store.link(execution_id, key, ids, output=True, contexts=list(contexts))
        self.store.finish_execution(execution_id, state, {"outputs": params})


def pod_resources(spec: dict) -> dict:
    """initPodSpecPatch's requests and limits from the container's ResourceSpec."""
    def number(v):
        return f"{float(v):g}"

    requests, limits = {}, {}
    if spec.get("memoryLimit"):
        limits["memory"] = number(spec["memoryLimit"]) + "G"
    if spec.get("memoryRequest"):
        requests["memory"] = number(spec["memoryRequest"]) + "G"
    if spec.get("cpuLimit"):
        limits["cpu"] = number(spec["cpuLimit"])
    if spec.get("cpuRequest"):
        requests["cpu"] = number(spec["cpuRequest"])
    accelerator = spec.get("accelerator") or {}
    if accelerator.get("type") and int(accelerator.get("count") or 0) > 0:
        limits[accelerator["type"]] = str(int(accelerator["count"]))
    return {"requests": requests, "limits": limits}
