"""LatestPushedModel: the newest pushed model as a Model artifact, from the serving folder.

TFX's latest-blessed-model Resolver compiles, for Kubeflow, into two
``resolver`` executors: metadata queries that only Vertex AI runs.
Open-source Kubeflow Pipelines runs container and importer executors only
and refuses the whole pipeline. This component stands in for the Resolver
there, as an ordinary container task.

The Pusher (:mod:`components.msa_pusher`) pushes only blessed models, and
each pushed version's ``msa_push.json`` names the Trainer's Model artifact
it was copied from. The newest version's source is the latest blessed,
pushed model. The output Model artifact points at that source (its
``Format-Serving`` folder for the Evaluator's baseline, ``Format-WarmStart``
for ``--warm-start``), so nothing is copied.

When nothing has been pushed yet, or the newest version's source model is
gone, there is no model to hand on. A Kubeflow task cannot leave an output
out, so the artifact is marked ``msa_resolved = 0`` and the container
entrypoint (:mod:`pipeline.kubeflow.entrypoint`) gives the downstream
Evaluator and Trainer no artifact for it, exactly as after an empty
Resolver. The task must never be cached: the Kubeflow compilation turns
caching off for it.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter
from tfx.utils import path_utils

from components import msa_pusher

COMPONENT_ID = "latest_pushed_model"
SERVING_DIR_KEY = "serving_dir"
MODEL_KEY = "model"
# Custom property: 1 when the artifact points at a model, 0 when there was none.
RESOLVED_KEY = "msa_resolved"


def latest_pushed(serving_dir: str) -> Tuple[Optional[str], str]:
    """(source Model artifact URI or None, one line saying what was found)."""
    existing = msa_pusher.versions(serving_dir)
    if not existing:
        return None, f"no model pushed to {serving_dir} yet"
    version_dir = os.path.join(serving_dir, str(existing[-1]))
    source = msa_pusher.read_manifest(version_dir).get("model")
    if not source:
        return None, f"{version_dir} has no {msa_pusher.MANIFEST} naming its source model"
    if not fileio.exists(path_utils.serving_model_dir(source)):
        return None, (f"{version_dir} came from {source}, which no longer holds "
                      "a serving model")
    return source, f"version {existing[-1]} from {source}"


class LatestPushedModelSpec(ComponentSpec):
    PARAMETERS = {SERVING_DIR_KEY: ExecutionParameter(type=str)}
    INPUTS = {}
    OUTPUTS = {MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}


class Executor(base_executor.BaseExecutor):
    """Points the ``model`` output at the newest pushed version's source model."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(output_dict[MODEL_KEY])
        source, found = latest_pushed(exec_properties[SERVING_DIR_KEY])
        logging.info("latest pushed model: %s", found)
        if source is None:
            model.set_int_custom_property(RESOLVED_KEY, 0)
            return
        model.uri = source
        model.set_int_custom_property(RESOLVED_KEY, 1)


class LatestPushedModel(base_component.BaseComponent):
    """The latest pushed (so blessed) model under ``serving_dir``."""

    SPEC_CLASS = LatestPushedModelSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, serving_dir: str):
        super().__init__(spec=LatestPushedModelSpec(
            serving_dir=serving_dir, model=types.Channel(type=standard_artifacts.Model)))
