"""The two backends a compiled pipeline runs on, and what each accepts.

``kfp``: open-source Kubeflow Pipelines v2 (2.0 to 2.17). Its API server
takes pipeline-spec schema 2.1.0 only
(``backend/src/apiserver/template/v2_template.go``), and its compiler
builds container and importer executors only
(``backend/src/v2/compiler/visitor.go``). So the latest blessed model comes
from a container task reading the serving folder, and the ExampleGen's
cache key carries a fingerprint of its input files (its own driver, which
Vertex runs before the cache check, is ignored there).

``vertex``: Vertex AI Pipelines, as TFX compiles for it: schema 2.0.0 and
its ``resolver`` executors (metadata queries Vertex runs).
"""

from __future__ import annotations

import dataclasses
from typing import Tuple


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    schema_version: str
    executor_kinds: Tuple[str, ...]  # the ExecutorSpec kinds the backend runs
    baseline_from: str  # create_pipeline's baseline_from
    fingerprint_inputs: bool  # create_pipeline's fingerprint_inputs
    storage_schemes: Tuple[str, ...]  # pipeline roots the tasks can write
    output_suffix: str  # the compiled file's default suffix
    bare_spec: bool  # the file holds the PipelineSpec alone (KFP uploads), else TFX's job


KFP = Target(name="kfp", schema_version="2.1.0", executor_kinds=("container", "importer"),
             baseline_from="serving_dir", fingerprint_inputs=True,
             storage_schemes=("gs://",), output_suffix=".yaml", bare_spec=True)
VERTEX = Target(name="vertex", schema_version="2.0.0",
                executor_kinds=("container", "importer", "resolver"),
                baseline_from="metadata", fingerprint_inputs=False,
                storage_schemes=("gs://",), output_suffix=".json", bare_spec=False)
TARGETS = {t.name: t for t in (KFP, VERTEX)}
# What the compiled file may be called: KFP's API reads a package by its suffix.
OUTPUT_SUFFIXES = (".yaml", ".yml", ".json")

# Tasks whose output depends on more than their inputs: never from the cache.
NEVER_CACHED = ("InputFingerprint", "latest_pushed_model")

# Every task's command; its arguments are TFX's (pipeline/kubeflow/entrypoint.py).
ENTRYPOINT_COMMAND = ("python", "-m", "pipeline.kubeflow.entrypoint")
