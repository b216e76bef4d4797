"""From TFX's compiled PipelineSpec to one a backend accepts and runs as intended.

:func:`adapt` edits the spec TFX's KubeflowV2DagRunner wrote:

* runtime-parameter defaults into the root's input definitions (TFX puts
  them only in the job's runtimeConfig; KFP's UI and a bare-spec upload
  read them from the spec);
* a task input fed by another task's output parameter names its producer
  ``<id>_task``, a task that does not exist (TFX 1.16's step builder); the
  reference is pointed at ``<id>``;
* caching off for the tasks whose output depends on more than their inputs
  (:data:`targets.NEVER_CACHED`);
* each container's CPU, memory and accelerator (:mod:`resources`).

:func:`check` then refuses, in one line, what the backend would refuse:
another schema version, an executor kind it does not run, a reference to a
missing task, or anything KFP's PipelineSpec proto does not parse.
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional

from pipeline.kubeflow import resources as resources_lib
from pipeline.kubeflow.targets import NEVER_CACHED, Target


class SpecError(ValueError):
    """The compiled spec would be refused by the backend; the message says why."""


def add_parameter_defaults(pipeline_spec: Dict, defaults: Dict) -> None:
    params = pipeline_spec["root"]["inputDefinitions"]["parameters"]
    for name, value in defaults.items():
        params[name]["defaultValue"] = value
        params[name]["isOptional"] = True


def executor_of(pipeline_spec: Dict, task: str) -> Dict:
    component = pipeline_spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    label = pipeline_spec["components"][component]["executorLabel"]
    return pipeline_spec["deploymentSpec"]["executors"][label]


def fix_output_parameter_producers(pipeline_spec: Dict) -> None:
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    for task in tasks.values():
        for param in (task.get("inputs") or {}).get("parameters", {}).values():
            producer = (param.get("taskOutputParameter") or {}).get("producerTask")
            if producer and producer not in tasks and producer.endswith("_task") \
                    and producer[:-len("_task")] in tasks:
                param["taskOutputParameter"]["producerTask"] = producer[:-len("_task")]


def set_caching(pipeline_spec: Dict, never_cached: Iterable[str] = NEVER_CACHED) -> None:
    for name, task in pipeline_spec["root"]["dag"]["tasks"].items():
        if name in never_cached:
            task["cachingOptions"] = {"enableCache": False}


def set_resources(pipeline_spec: Dict, target: Target,
                  per_task: Dict[str, resources_lib.Resources], gpus: int = 0,
                  gpu_type: Optional[str] = None) -> None:
    for name, res in per_task.items():
        container = executor_of(pipeline_spec, name).get("container")
        if container is None:
            continue
        container["resources"] = resources_lib.resource_spec(
            res, target.name, gpus if name in resources_lib.GPU_TASKS else 0, gpu_type)


def container_tasks(pipeline_spec: Dict):
    return [name for name in pipeline_spec["root"]["dag"]["tasks"]
            if "container" in executor_of(pipeline_spec, name)]


def adapt(pipeline_spec: Dict, target: Target, defaults: Dict,
          per_task: Dict[str, resources_lib.Resources], gpus: int = 0,
          gpu_type: Optional[str] = None) -> None:
    add_parameter_defaults(pipeline_spec, defaults)
    fix_output_parameter_producers(pipeline_spec)
    set_caching(pipeline_spec)
    set_resources(pipeline_spec, target, per_task, gpus, gpu_type)


def check(pipeline_spec: Dict, target: Target) -> None:
    """Raises SpecError in one line when ``target``'s backend would refuse the spec."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    version = pipeline_spec.get("schemaVersion")
    if version != target.schema_version:
        raise SpecError(f"schemaVersion {version}: the {target.name} backend takes "
                        f"{target.schema_version} only")
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    for name, task in sorted(tasks.items()):
        kind = next(iter(executor_of(pipeline_spec, name)), None)
        if kind not in target.executor_kinds:
            raise SpecError(f"task {name!r} has a {kind!r} executor; the {target.name} backend "
                            f"runs {' and '.join(target.executor_kinds)} executors only")
        upstream = set(task.get("dependentTasks") or ())
        for spec in (task.get("inputs") or {}).get("artifacts", {}).values():
            upstream.add((spec.get("taskOutputArtifact") or {}).get("producerTask"))
        for spec in (task.get("inputs") or {}).get("parameters", {}).values():
            upstream.add((spec.get("taskOutputParameter") or {}).get("producerTask"))
        missing = sorted(u for u in upstream - {None} if u not in tasks)
        if missing:
            raise SpecError(f"task {name!r} reads from {missing[0]!r}, which is not a task")
    try:
        json_format.ParseDict(pipeline_spec, pipeline_spec_pb2.PipelineSpec())
    except json_format.ParseError as err:
        raise SpecError(f"not a valid PipelineSpec: {str(err).splitlines()[0]}") from None
