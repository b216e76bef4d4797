"""The ``--target vertex`` pipeline executed as Vertex AI Pipelines hands TFX its tasks.

tests/kfp_conformance/vertex.py: typed input artifacts, schema-2.0
parameters, the ExampleGen's driver before its cache check, and TFX's
resolver queries run against the pipeline's artifacts (empty on a first
run). Same tiny data and flags as the Kubeflow conformance run.
"""

from __future__ import annotations

import os

import pytest

from tests.kfp_conformance.compile import compile_spec, tiny_data
from tests.kfp_conformance.vertex import Vertex
from tests.runner_util import TFX_SELF_PACKAGING

pytestmark = [pytest.mark.slow, pytest.mark.one_worker]

RESOLVERS = ("latest_blessed_model_resolver-model-blessing-resolver",
             "latest_blessed_model_resolver-model-resolver")


@pytest.fixture(scope="module")
def vertex_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("vertex_conformance")
    data = tiny_data(str(base / "data"))
    root = str(base / "root")
    job = str(base / "msa_pipeline.json")
    compile_spec(job, root, data, target="vertex")
    with Vertex(str(base / "backend"), warm=True) as backend:
        return backend.run(job, root), root


def test_every_task_succeeds(vertex_run):
    run, _ = vertex_run
    assert run.ok, run.failure()
    assert set(run.states().values()) == {"executed"}
    assert {"ImportExampleGen", "Trainer", "Evaluator", "Pusher", *RESOLVERS} <= set(run.tasks)


def test_tasks_get_typed_artifacts_and_schema_2_0_parameters(vertex_run):
    run, _ = vertex_run
    trainer = run.tasks["Trainer"].executor_input["inputs"]
    assert trainer["parameters"]["train_steps"] == {"intValue": "20"}
    [examples] = trainer["artifacts"]["examples"]["artifacts"]
    assert "title: tfx.Examples" in examples["type"]["instanceSchema"]
    assert examples["name"].startswith("projects/")


def test_the_example_gen_driver_ran_before_the_executor(vertex_run):
    run, _ = vertex_run
    parameters = run.tasks["ImportExampleGen"].executor_input["inputs"]["parameters"]
    assert parameters["span"] == {"intValue": "0"}
    assert parameters["input_fingerprint"]["stringValue"].startswith("split:train,")


def test_first_run_resolves_no_baseline_and_pushes(vertex_run):
    run, root = vertex_run
    for name in RESOLVERS:
        assert all(v == [] for v in run.tasks[name].outputs.values()), name
    evaluator = run.tasks["Evaluator"].executor_input["inputs"]["artifacts"]
    assert evaluator["baseline_model"] == {"artifacts": []}
    [pushed] = run.tasks["Pusher"].outputs["pushed_model"]
    assert pushed["metadata"]["push_outcome"] == "pushed"
    assert os.listdir(os.path.join(root, "serving_model")) == [
        pushed["metadata"]["served_version"]]


def test_the_entrypoint_changes_nothing_under_vertex(vertex_run):
    run, _ = vertex_run
    logs = [task.log for task in run.tasks.values() if task.log]
    assert len(logs) >= 10
    for log in logs:
        with open(log) as f:
            text = f.read()
        assert "entrypoint:" not in text, log
        assert TFX_SELF_PACKAGING not in text, log
