"""Open-source KFP's driver, step by step (``backend/src/v2/driver``, ``metadata``, ``cacheutils``).

What the driver does before a task's pod starts: the API server's and
compiler's refusals, the root DAG's parameters, a task's inputs resolved
from ML Metadata, its outputs provisioned, its cache fingerprint and its
pod's resources. :mod:`.kfp` runs the steps; :mod:`.kfp_launcher` is what
the pod does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from typing import Dict

from ml_metadata.proto import metadata_store_pb2 as mlmd

from tests.kfp_conformance.common import ConformanceError, executor_of
from tests.kfp_conformance.store import from_mlmd_value

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



def root_parameters(spec: dict, given: Dict) -> Dict:
    """The run's parameters with the root's defaults (argocompiler/argo.go)."""
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


def resolve_inputs(store, task_name, task, component, root_values, siblings) -> dict:
    """resolveInputs: parameters and upstream artifacts, type-checked as the driver does."""
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
            produced = store.struct_prop(producer, "outputs")
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
        produced = store.artifacts_of(producer.id, output=True)
        if ref["outputArtifactKey"] not in produced:
            raise ConformanceError(
                f"task {task_name}: cannot find output artifact key "
                f"{ref['outputArtifactKey']!r} in producer task {ref['producerTask']!r}")
        artifact = produced[ref["outputArtifactKey"]][-1]
        artifacts[name] = {"artifacts": [runtime_artifact(artifact)]}
    return {"parameterValues": params, "artifacts": artifacts}


def runtime_artifact(artifact: mlmd.Artifact) -> dict:
    """OutputArtifact.ToRuntimeArtifact with the schema left empty."""
    metadata = {k: from_mlmd_value(v) for k, v in artifact.properties.items()}
    metadata.update({k: from_mlmd_value(v) for k, v in artifact.custom_properties.items()})
    return {"name": str(artifact.id), "uri": artifact.uri, "metadata": metadata,
            "type": {"instanceSchema": ""}}


def provision_outputs(run_root, task_name, component, pod_dir, version: str,
                      publish_logs: bool) -> dict:
    """provisionOutputs: output URIs, parameter files, the executor output file."""
    outputs_spec = component.get("outputDefinitions", {})
    artifacts = dict(outputs_spec.get("artifacts", {}))
    if publish_logs:
        artifacts[LOGS] = {"artifactType": {"schemaTitle": "system.Artifact"}}
    salt = str(uuid.uuid4())
    task_root = generate_output_uri(run_root, task_name, salt)
    out: Dict = {"artifacts": {}, "parameters": {}}
    for name, aspec in artifacts.items():
        artifact = {"uri": (generate_output_uri(task_root, name) if version != "2.0"
                            else generate_output_uri(run_root, task_name, name)),
                    "type": aspec["artifactType"]}
        if version != "2.0":
            artifact["name"] = name
        if aspec.get("metadata"):
            artifact["metadata"] = aspec["metadata"]
        out["artifacts"][name] = {"artifacts": [artifact]}
    for name in outputs_spec.get("parameters", {}):
        out["parameters"][name] = {
            "outputFile": pod_dir + os.path.join(POD_PARAMETERS, name)}
    if version == "2.17":
        out["outputFile"] = os.path.join(local_path_for_uri(task_root),
                                         "output_metadata.json")
    else:
        out["outputFile"] = pod_dir + POD_OUTPUT_METADATA
    return out


def fingerprint(executor_input: dict, component: dict, container: dict) -> str:
    """getFingerPrint: the cache key of a task's inputs, output specs, command and image."""
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
