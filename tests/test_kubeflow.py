"""kubeflow_runner.py: the compiled KFP v2 pipeline, its submission, and the image.

No Kubeflow cluster exists on this machine. The compiled file is validated
by parsing it into KFP's own PipelineSpec proto; ``--endpoint`` is tested
against a local HTTP server standing in for the KFP API (a test double: it
checks the plumbing, not a real cluster).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.runner_util import REPO

IMAGE = "registry.example/msa-tfx:test"
BEAM_PASSTHROUGH = ["--project=my-project", "--region=europe-west4",
                    "--temp_location=gs://bucket/tmp"]
BEAM_COMPONENTS = ("ImportExampleGen", "StatisticsGen", "ExampleValidator", "Transform",
                   "Evaluator")
RESOLVER = "latest_blessed_model_resolver"


def run_kubeflow_runner(*args, timeout=300):
    return subprocess.run([sys.executable, os.path.join(REPO, "kubeflow_runner.py"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def main_in_process(capsys, *args):
    """kubeflow_runner.main in this process: (exit code, stdout, stderr).

    The ``compiled`` fixture and the bad-flag tests start the runner as a
    user would; the other compilations call its ``main`` directly, sparing a
    TFX import (~8 s) each.
    """
    import kubeflow_runner

    capsys.readouterr()
    code = kubeflow_runner.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def base_args(output):
    return ["--image", IMAGE, "--pipeline-root", "gs://bucket/msa", "--data-root",
            "gs://bucket/data/mosi", "--output", output, "--train-steps", "777"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    output = str(tmp_path_factory.mktemp("kfp") / "msa_pipeline.json")
    proc = run_kubeflow_runner(*base_args(output), "--beam-runner", "DataflowRunner", "--",
                               *BEAM_PASSTHROUGH)
    assert proc.returncode == 0, proc.stderr
    job = json.load(open(output))
    # The inner dict, not the job: the job's pipelineSpec field is a generic
    # Struct and would accept anything.
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    return job, spec


def local_pipeline(**settings):
    from tfx.orchestration import metadata

    from pipeline import configs
    from pipeline.pipeline import create_pipeline
    from trainer.config import TrainerConfig

    return create_pipeline(
        pipeline_name=configs.PIPELINE_NAME, pipeline_root="/tmp/unused", data_root="/tmp/d",
        schema_path=configs.SCHEMA_PATH, serving_dir="/tmp/s", trainer_config=TrainerConfig(),
        train_steps=10,
        metadata_connection_config=metadata.sqlite_metadata_connection_config("/tmp/m.db"),
        **settings)


def test_transform_profiles_its_data_only_when_asked():
    def transform_outputs(**settings):
        [transform] = [c for c in local_pipeline(**settings).components if c.id == "Transform"]
        return set(transform.outputs)

    default = transform_outputs()
    assert {"transform_graph", "transformed_examples"} <= default
    assert not {"pre_transform_stats", "post_transform_stats"} & default
    assert {"pre_transform_stats", "post_transform_stats"} <= \
        transform_outputs(transform_statistics=True)


def _node_of(task_name):
    return RESOLVER if task_name.startswith(RESOLVER) else task_name


def _executor(spec, task_name):
    component = spec.root.dag.tasks[task_name].component_ref.name
    label = spec.components[component].executor_label
    return json_format.MessageToDict(spec.deployment_spec)["executors"][label]


def test_same_components_and_edges_as_local_pipeline(compiled):
    _, spec = compiled
    local = {c.id: {u.id for u in c.upstream_nodes} for c in local_pipeline().components}
    kfp_edges = {}
    for name, task in spec.root.dag.tasks.items():
        kfp_edges.setdefault(_node_of(name), set()).update(
            _node_of(d) for d in task.dependent_tasks if _node_of(d) != _node_of(name))
    assert set(kfp_edges) == set(local)
    for node, upstream in local.items():
        assert kfp_edges[node] == upstream, node


def test_executors_use_the_image_and_dotted_paths(compiled):
    job, spec = compiled
    containers = {name: _executor(spec, name)["container"] for name in spec.root.dag.tasks
                  if not name.startswith(RESOLVER)}
    for name, container in containers.items():
        assert container["image"] == IMAGE, name
    assert "components.data_gate.DataGate_Executor" in containers["DataGate"]["args"]
    assert "components.msa_trainer.MsaTrainerExecutor" in containers["Trainer"]["args"]
    text = json.dumps(job)
    for dotted in ("trainer.preprocessing.preprocessing_fn", "trainer.task.run_fn",
                   "trainer.tfma_metrics"):
        assert dotted in text
    # user code comes from the image, never as a module file staged as a wheel
    assert "module_file" not in text and ".whl" not in text and "module_path" not in text


def test_beam_args_reach_beam_components(compiled):
    _, spec = compiled
    for name in BEAM_COMPONENTS:
        args = _executor(spec, name)["container"]["args"]
        assert "--runner=DataflowRunner" in args, name
        for arg in BEAM_PASSTHROUGH:
            assert arg in args, (name, arg)


def test_runtime_parameters_with_defaults(compiled):
    job, spec = compiled
    params = spec.root.input_definitions.parameters
    assert params["data_root"].default_value.string_value == "gs://bucket/data/mosi"
    assert params["train_steps"].default_value.number_value == 777
    assert job["runtimeConfig"]["parameters"]["train_steps"] == {"intValue": "777"}
    # and they are wired into the components, not baked in
    example_gen = spec.root.dag.tasks["ImportExampleGen"].inputs.parameters["input_base"]
    assert example_gen.component_input_parameter == "data_root"
    trainer = spec.root.dag.tasks["Trainer"].inputs.parameters["train_steps"]
    assert trainer.component_input_parameter == "train_steps"


def test_resolver_and_blessing_gate(compiled):
    _, spec = compiled
    tasks = spec.root.dag.tasks
    resolvers = [n for n in tasks if n.startswith(RESOLVER)]
    assert resolvers
    evaluator = tasks["Evaluator"].inputs.artifacts
    assert evaluator["baseline_model"].task_output_artifact.producer_task in resolvers
    pusher = tasks["Pusher"].inputs.artifacts
    assert pusher["model_blessing"].task_output_artifact.producer_task == "Evaluator"
    assert pusher["model_blessing"].task_output_artifact.output_artifact_key == "blessing"
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    queries = json.dumps([e for k, e in executors.items() if k.startswith(RESOLVER)])
    assert "tfx.ModelBlessing" in queries and "blessed" in queries


class _FakeKfpApi(http.server.BaseHTTPRequestHandler):
    """Answers the KFP v2beta1 calls kfp.Client makes; records every request."""

    requests = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).requests.append((self.command, self.path, body))
        data = json.dumps({"pipeline_id": "p-1", "experiment_id": "e-1", "run_id": "r-1",
                           "display_name": "msa", "experiments": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def test_endpoint_uploads_the_compiled_file_and_starts_a_run(tmp_path, capsys):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeKfpApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        output = str(tmp_path / "p.json")
        code, out, err = main_in_process(capsys, *base_args(output), "--endpoint",
                                         f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert code == 0, err
    assert "started run r-1" in out
    compiled_spec = json.load(open(output))["pipelineSpec"]
    uploads = [body for method, path, body in _FakeKfpApi.requests
               if method == "POST" and path.startswith("/apis/v2beta1/pipelines/upload")]
    assert len(uploads) == 1
    uploaded = json.loads(re.search(rb"\r\n\r\n(\{.*\})\r\n--", uploads[0], re.S).group(1))
    assert uploaded == compiled_spec
    runs = [json.loads(body) for method, path, body in _FakeKfpApi.requests
            if method == "POST" and path == "/apis/v2beta1/runs"]
    assert len(runs) == 1
    assert runs[0]["pipeline_spec"]["pipelineInfo"] == compiled_spec["pipelineInfo"]
    assert runs[0]["runtime_config"]["parameters"]["train_steps"] == 777


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args, fragment, code", [
    (["--pipeline-root", "gs://b", "--data-root", "gs://d"], "--image", 2),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--beam-runner", "SnailRunner"], "--beam-runner", 2),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--model-dim", "30", "--num-heads", "4"], "--model-dim", 2),
])
def test_bad_flags_write_nothing(tmp_path, args, fragment, code):
    output = tmp_path / "p.json"
    proc = run_kubeflow_runner(*args, "--output", str(output))
    assert proc.returncode == code
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "Warning" not in ln
             and not ln.startswith(" ") and "cuda" not in ln and "tensorflow" not in ln]
    errors = [ln for ln in lines if "error:" in ln]
    assert len(errors) == 1 and fragment in errors[0], proc.stderr
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_unreachable_endpoint_is_one_line(tmp_path, capsys):
    output = str(tmp_path / "p.json")
    code, _, err = main_in_process(capsys, *base_args(output), "--endpoint",
                                   f"http://127.0.0.1:{_closed_port()}")
    assert code == 1
    errors = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "--endpoint" in errors[0] and "reachable" in errors[0]
    assert "Traceback" not in err


def test_source_compiles_the_converted_example_gen(tmp_path, capsys):
    from tests import convert_fixtures

    pickle_path = str(tmp_path / "mosi_data.pkl")
    convert_fixtures.write_mult(pickle_path, dataset="mosi")
    output = str(tmp_path / "p.json")
    code, _, err = main_in_process(capsys, "--image", IMAGE, "--pipeline-root", "gs://bucket/msa",
                                   "--source", f"mult:{pickle_path}", "--output", output)
    assert code == 0, err
    job = json.load(open(output))
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    tasks = spec.root.dag.tasks
    assert "ConvertedExampleGen" in tasks and "ImportExampleGen" not in tasks
    assert "components.converted_example_gen.Executor" in json.dumps(
        _executor(spec, "ConvertedExampleGen"))
    assert set(spec.root.input_definitions.parameters) == {"train_steps"}
    # the source's own dims (MulT MOSI: audio 5, vision 20) reach Transform and the Trainer
    transform_config = tasks["Transform"].inputs.parameters["custom_config"]
    dims = json.loads(transform_config.runtime_value.constant_value.string_value)["dims"]
    assert dims == {"text": 300, "audio": 5, "video": 20}


def test_data_root_and_source_are_exclusive(tmp_path):
    proc = run_kubeflow_runner("--image", IMAGE, "--pipeline-root", "gs://b", "--data-root",
                               "gs://d", "--source", "mult:/x.pkl",
                               "--output", str(tmp_path / "p.json"))
    assert proc.returncode == 2
    assert "exactly one of --data-root" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_tune_and_warm_start_compile_into_the_pipeline(tmp_path, capsys):
    output = str(tmp_path / "tuned.json")
    code, _, err = main_in_process(capsys, *base_args(output), "--tune", "--tune-trials", "3",
                                   "--tune-steps", "50", "--warm-start", "--model-dim", "32")
    assert code == 0, err
    job = json.load(open(output))
    spec = json_format.ParseDict(job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    tasks = spec.root.dag.tasks
    assert "Tuner" in tasks and "Transform" in tasks["Tuner"].dependent_tasks
    assert "tfx.components.tuner.executor.Executor" in json.dumps(_executor(spec, "Tuner"))
    tuner_fn = tasks["Tuner"].inputs.parameters["tuner_fn"].runtime_value.constant_value
    assert tuner_fn.string_value == "trainer.tuning.tuner_fn"
    tuner_config = json.loads(
        tasks["Tuner"].inputs.parameters["custom_config"].runtime_value.constant_value.string_value)
    assert tuner_config["trials"] == 3 and "model_dim" not in tuner_config["search_space"]
    trainer_inputs = tasks["Trainer"].inputs.artifacts
    assert trainer_inputs["hyperparameters"].task_output_artifact.producer_task == "Tuner"
    # --warm-start: the latest blessed model is the Trainer's base_model
    assert trainer_inputs["base_model"].task_output_artifact.producer_task.startswith(RESOLVER)
    assert {"Tuner", RESOLVER} <= {_node_of(t) for t in tasks["Trainer"].dependent_tasks}
