"""Open-source KFP's launcher, step by step (``backend/src/v2/component/launcher_v2.go``).

What happens in the task's pod around its command: the placeholders
resolved, the executor output read, output parameters collected, and each
output artifact merged with what the executor wrote and recorded in ML
Metadata (``RecordArtifact``).
"""

from __future__ import annotations

import copy
import json
import os
from typing import Dict, List

import yaml

from tests.kfp_conformance.common import ConformanceError, dumps
from tests.kfp_conformance.kfp_driver import (
    _INPUT_PARAMETER,
    LOGS,
    local_path_for_uri,
    text_of,
)


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



def compile_command(container: dict, executor_input: dict) -> List[str]:
    """The command and arguments with every placeholder filled in."""
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


def read_output(path: str) -> dict:
    """getExecutorOutputFile: {} when the task wrote none."""
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


def collect_parameters(executor_input, executor_output, component) -> Dict:
    """collectOutputParameters: the executor output's, else each parameter's file."""
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


def record_outputs(store, executor_input, executor_output, only_logs=False
                   ) -> Dict[str, List[int]]:
    """uploadOutputArtifacts: each output merged with the executor's and recorded; ids by key."""
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
                aid = store.record_artifact(
                    title_of(schema_of(artifact["type"])), artifact["uri"], metadata)
            except ValueError as err:
                raise ConformanceError(f"unable to produce MLMD artifact for output "
                                       f"{name!r}: {err}") from None
            recorded.setdefault(name, []).append(aid)
    return recorded
