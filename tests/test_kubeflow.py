"""kubeflow_runner.py: the compiled spec for each target, its submission, and its flags.

No Kubeflow cluster and no Vertex AI exist here. The compiled specs are
checked against what the open-source backend's API server and compiler
accept (the conformance emulation's own checks, tests/kfp_conformance) and
parsed into KFP's PipelineSpec proto; their execution is tested in
tests/test_kfp_conformance.py. ``--endpoint`` runs against a stand-in KFP
API server that refuses what the real one refuses
(tests/kfp_conformance/api_server.py); Vertex submission builds a real
``aiplatform.PipelineJob`` and stops at its ``submit`` call (test doubles,
both: neither service can be reached from here).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import kubeflow_runner
from pipeline import configs
from pipeline.kubeflow import spec as spec_lib
from pipeline.kubeflow import submit
from pipeline.kubeflow.targets import KFP, VERTEX
from tests.kfp_conformance import kfp_driver as kfp_backend
from tests.kfp_conformance.api_server import ApiError, KfpApiServer, pipeline_spec_of
from tests.kfp_conformance.common import ConformanceError
from tests.runner_util import REPO
from trainer.core.config import TrainerConfig

pytestmark = [pytest.mark.slow, pytest.mark.one_worker]

IMAGE = "registry.example/msa-tfx:test"
BEAM_PASSTHROUGH = ["--project=my-project", "--region=europe-west4",
                    "--temp_location=gs://bucket/tmp"]
BEAM_COMPONENTS = ("ImportExampleGen", "StatisticsGen", "ExampleValidator", "Transform",
                   "Evaluator")
RESOLVER = "latest_blessed_model_resolver"
ENTRYPOINT = ["python", "-m", "pipeline.kubeflow.entrypoint"]


def run_kubeflow_runner(*args, timeout=300):
    return subprocess.run([sys.executable, os.path.join(REPO, "kubeflow_runner.py"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def main_in_process(capsys, *args):
    """kubeflow_runner.main in this process: (exit code, stdout, stderr).

    The ``kfp_spec`` fixture and the bad-flag tests start the runner as a
    user would; the other compilations call its ``main`` directly, sparing a
    TFX import (~8 s) each.
    """

    capsys.readouterr()
    code = kubeflow_runner.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def base_args(output, target="kfp"):
    return ["--image", IMAGE, "--target", target, "--pipeline-root", "gs://bucket/msa",
            "--data-root", "gs://bucket/data/mosi", "--output", output, "--train-steps", "777"]


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def parse(spec: dict) -> pipeline_spec_pb2.PipelineSpec:
    return json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())


@pytest.fixture(scope="module")
def kfp_spec(tmp_path_factory):
    """The default target, compiled by a user's command line, with Dataflow arguments."""
    output = str(tmp_path_factory.mktemp("kfp") / "msa_pipeline.yaml")
    proc = run_kubeflow_runner(*base_args(output), "--beam-runner", "DataflowRunner", "--",
                               *BEAM_PASSTHROUGH)
    assert proc.returncode == 0, proc.stderr
    return output, load(output)


@pytest.fixture(scope="module")
def vertex_job(tmp_path_factory):
    output = str(tmp_path_factory.mktemp("vertex") / "msa_pipeline.json")
    assert kubeflow_runner.main(base_args(output, "vertex")) == 0
    with open(output) as f:
        return output, json.load(f)


def local_pipeline(**settings):
    from tfx.orchestration import metadata

    from pipeline.pipeline import create_pipeline

    return create_pipeline(
        pipeline_name=configs.PIPELINE_NAME, pipeline_root="/tmp/unused", data_root="/tmp/d",
        schema_path=configs.SCHEMA_PATH, serving_dir="/tmp/s", trainer_config=TrainerConfig(),
        train_steps=10,
        metadata_connection_config=metadata.sqlite_metadata_connection_config("/tmp/m.db"),
        **settings)


def executor(spec: dict, task: str) -> dict:
    component = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    return spec["deploymentSpec"]["executors"][spec["components"][component]["executorLabel"]]


def edges(spec: dict, node_of=lambda name: name) -> dict:
    out = {}
    for name, task in spec["root"]["dag"]["tasks"].items():
        out.setdefault(node_of(name), set()).update(
            node_of(d) for d in task.get("dependentTasks", []) if node_of(d) != node_of(name))
    return out


# --- what each backend accepts ------------------------------------------------------

def test_kfp_spec_passes_the_open_source_api_server_and_compiler(kfp_spec):
    path, spec = kfp_spec
    assert spec["schemaVersion"] == "2.1.0"
    kinds = {kind for name in spec["root"]["dag"]["tasks"] for kind in executor(spec, name)}
    assert kinds <= {"container", "importer"}
    kfp_backend.check_spec(spec)  # the API server's and the compiler's refusals
    with open(path) as f:
        assert pipeline_spec_of(f.read())["pipelineInfo"]["name"] == "msa-seq-level"
    parse(spec)


def test_vertex_spec_is_refused_by_open_source_kfp_as_the_issue_measured(vertex_job):
    _, job = vertex_job
    spec = job["pipelineSpec"]
    assert spec["schemaVersion"] == "2.0.0"
    with pytest.raises(ConformanceError, match="only supports schema version 2.1.0"):
        kfp_backend.check_spec(spec)
    spec_2_1 = dict(spec, schemaVersion="2.1.0")
    with pytest.raises(ConformanceError, match="non-container and non-importer executor"):
        kfp_backend.check_spec(spec_2_1)
    with pytest.raises(ApiError, match="schema version 2.1.0"):
        pipeline_spec_of(yaml.safe_dump(spec))
    # Vertex runs the resolver executors TFX compiles
    queries = json.dumps([executor(spec, n) for n in spec["root"]["dag"]["tasks"]
                          if n.startswith(RESOLVER)])
    assert "tfx.ModelBlessing" in queries and "blessed" in queries
    parse(spec)


def test_each_target_has_the_local_pipelines_components_and_edges(kfp_spec, vertex_job):
    def resolver_node(name):
        return RESOLVER if name.startswith(RESOLVER) else name

    local = {c.id: {u.id for u in c.upstream_nodes}
             for c in local_pipeline(lengths_from_statistics=True).components}
    assert edges(vertex_job[1]["pipelineSpec"], resolver_node) == local
    kfp_local = {c.id: {u.id for u in c.upstream_nodes} for c in local_pipeline(
        baseline_from="serving_dir", fingerprint_inputs=True,
        lengths_from_statistics=True, spans=True, span=0).components}
    assert edges(kfp_spec[1]) == kfp_local
    # the kfp pipeline differs only where open-source KFP needs it, and reads spans
    assert set(kfp_local) - set(local) == {"InputFingerprint", "latest_pushed_model",
                                           "DriftGate"}
    assert kfp_local["Transform"] >= {"DataGate", "DriftGate"}
    assert set(local) - set(kfp_local) == {RESOLVER}


def test_every_task_runs_the_entrypoint_with_tfx_arguments(kfp_spec, vertex_job):
    for spec, inputs_spec in ((kfp_spec[1], True), (vertex_job[1]["pipelineSpec"], False)):
        for name in spec["root"]["dag"]["tasks"]:
            container = executor(spec, name).get("container")
            if container is None:
                continue
            assert container["image"] == IMAGE, name
            assert container["command"] == ENTRYPOINT, name
            assert container["args"][:4] == ["--executor_class_path", container["args"][1],
                                              "--json_serialized_invocation_args", "{{$}}"]
            assert ("--json_serialized_inputs_spec_args" in container["args"]) == inputs_spec
    spec = kfp_spec[1]
    assert executor(spec, "DataGate")["container"]["args"][1] == \
        "components.data_gate.DataGate_Executor"
    assert executor(spec, "Trainer")["container"]["args"][1] == \
        "components.msa_trainer.MsaTrainerExecutor"
    text = json.dumps(spec)
    for dotted in ("trainer.transform.preprocessing.preprocessing_fn", "trainer.task.run_fn",
                   "trainer.metrics.tfma_metrics"):
        assert dotted in text
    # user code comes from the image, never as a module file staged as a wheel
    assert "module_file" not in text and ".whl" not in text and "module_path" not in text


def test_beam_args_reach_beam_components(kfp_spec, vertex_job):
    spec = kfp_spec[1]
    for name in BEAM_COMPONENTS:
        args = executor(spec, name)["container"]["args"]
        assert "--runner=DataflowRunner" in args, name
        for arg in BEAM_PASSTHROUGH:
            assert arg in args, (name, arg)
        # the workers run the image, so TFX does not build an sdist of itself per task
        assert f"--sdk_container_image={IMAGE}" in args, name
    # the default, Beam in the task's own pod, needs no arguments at all
    vertex = vertex_job[1]["pipelineSpec"]
    for name in BEAM_COMPONENTS:
        args = executor(vertex, name)["container"]["args"]
        assert not [a for a in args if a.startswith("--runner")
                    or a.startswith("--sdk_container_image")], name


def test_runtime_parameters_with_defaults(kfp_spec, vertex_job):
    spec = kfp_spec[1]
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["data_root"] == {"parameterType": "STRING", "defaultValue":
                                   "gs://bucket/data/mosi", "isOptional": True}
    assert params["train_steps"]["parameterType"] == "NUMBER_INTEGER"
    assert params["train_steps"]["defaultValue"] == 777
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["ImportExampleGen"]["inputs"]["parameters"]["input_base"] == \
        {"componentInputParameter": "data_root"}
    assert tasks["InputFingerprint"]["inputs"]["parameters"]["input_base"] == \
        {"componentInputParameter": "data_root"}
    assert tasks["Trainer"]["inputs"]["parameters"]["train_steps"] == \
        {"componentInputParameter": "train_steps"}
    # spans: the span is resolved in the fingerprint task and read by the ExampleGen
    for name in ("span", "allow_drift"):
        assert params[name] == {"parameterType": "NUMBER_INTEGER", "defaultValue": 0,
                                "isOptional": True}
    assert tasks["InputFingerprint"]["inputs"]["parameters"]["requested_span"] == \
        {"componentInputParameter": "span"}
    assert tasks["ImportExampleGen"]["inputs"]["parameters"]["data_span"] == {
        "taskOutputParameter": {"outputParameterKey": "span", "producerTask": "InputFingerprint"}}
    gate = tasks["DriftGate"]["inputs"]["parameters"]
    assert gate["allow_drift"] == {"componentInputParameter": "allow_drift"}
    assert gate["data_root"] == {"componentInputParameter": "data_root"}
    assert "DriftGate" in tasks["Transform"]["dependentTasks"]
    job = vertex_job[1]
    assert set(job["runtimeConfig"]["parameters"]) == {"data_root", "train_steps"}
    assert job["runtimeConfig"]["parameters"]["train_steps"] == {"intValue": "777"}
    assert parse(job["pipelineSpec"]).root.input_definitions.parameters[
        "train_steps"].default_value.number_value == 777


def test_kfp_baseline_comes_from_a_container_task_reading_the_serving_folder(kfp_spec):
    spec = kfp_spec[1]
    tasks = spec["root"]["dag"]["tasks"]
    evaluator = tasks["Evaluator"]["inputs"]["artifacts"]
    assert evaluator["baseline_model"]["taskOutputArtifact"] == {
        "producerTask": "latest_pushed_model", "outputArtifactKey": "model"}
    assert tasks["latest_pushed_model"]["inputs"]["parameters"]["serving_dir"] == {
        "runtimeValue": {"constant": "gs://bucket/msa/serving_model"}}
    assert executor(spec, "latest_pushed_model")["container"]["args"][1] == \
        "components.latest_pushed_model.Executor"
    pusher = tasks["Pusher"]["inputs"]["artifacts"]
    assert pusher["model_blessing"]["taskOutputArtifact"] == {
        "producerTask": "Evaluator", "outputArtifactKey": "blessing"}


def test_kfp_example_gen_cache_key_follows_the_input_files(kfp_spec):
    spec = kfp_spec[1]
    tasks = spec["root"]["dag"]["tasks"]
    # the ExampleGen's input fingerprint is the InputFingerprint task's output
    # (TFX names the producer "InputFingerprint_task", a task that does not exist)
    assert tasks["ImportExampleGen"]["inputs"]["parameters"]["input_fingerprint"] == {
        "taskOutputParameter": {"producerTask": "InputFingerprint",
                                "outputParameterKey": "fingerprint"}}
    assert "InputFingerprint" in tasks["ImportExampleGen"]["dependentTasks"]
    assert spec["components"]["InputFingerprint"]["outputDefinitions"]["parameters"] == {
        "fingerprint": {"parameterType": "STRING"}, "span": {"parameterType": "NUMBER_INTEGER"}}
    # both read the same split patterns
    assert tasks["ImportExampleGen"]["inputs"]["parameters"]["input_config"] == \
        tasks["InputFingerprint"]["inputs"]["parameters"]["input_config"]
    caching = {name: task.get("cachingOptions", {}).get("enableCache", False)
               for name, task in tasks.items()}
    assert caching.pop("InputFingerprint") is False
    assert caching.pop("latest_pushed_model") is False
    assert all(caching.values()), caching


def test_transform_lengths_come_from_the_statistics_at_run_time(kfp_spec, tmp_path, capsys):
    tasks = kfp_spec[1]["root"]["dag"]["tasks"]
    # Transform's settings are the SequenceLengths task's output, which reads StatisticsGen's
    assert tasks["Transform"]["inputs"]["parameters"]["custom_config"] == {
        "taskOutputParameter": {"producerTask": "SequenceLengths",
                                "outputParameterKey": "transform_config"}}
    assert "SequenceLengths" in tasks["Transform"]["dependentTasks"]
    assert tasks["SequenceLengths"]["inputs"]["artifacts"]["statistics"][
        "taskOutputArtifact"]["producerTask"] == "StatisticsGen"
    # given lengths are compiled in, and no task chooses them
    output = str(tmp_path / "given.yaml")
    code, out, err = main_in_process(capsys, *base_args(output), "--max-len", "30", "60", "90")
    assert code == 0, err
    assert "sequence lengths (--max-len): text 30, audio 60, video 90" in out
    tasks = load(output)["root"]["dag"]["tasks"]
    assert "SequenceLengths" not in tasks
    constant = tasks["Transform"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]
    assert json.loads(constant["constant"])["max_lens"] == {"text": 30, "audio": 60, "video": 90}


def test_resources_are_sized_per_component_and_set_by_flags(kfp_spec, tmp_path, capsys):
    spec = kfp_spec[1]
    trainer = executor(spec, "Trainer")["container"]["resources"]
    assert trainer == {"cpuRequest": 2, "memoryRequest": 4, "memoryLimit": 8}
    for name in spec["root"]["dag"]["tasks"]:
        resources = executor(spec, name)["container"]["resources"]
        assert resources["memoryLimit"] == 2 * resources["memoryRequest"], name
    # the open-source driver turns them into the pod's requests and limits
    assert kfp_backend.pod_resources(trainer) == {
        "requests": {"cpu": "2", "memory": "4G"}, "limits": {"memory": "8G"}}

    output = str(tmp_path / "gpu.yaml")
    code, _, err = main_in_process(capsys, *base_args(output), "--cpu", "Trainer=8",
                                   "--memory", "Trainer=16", "--memory", "Evaluator=6",
                                   "--gpus", "2", "--tune")
    assert code == 0, err
    spec = load(output)
    trainer = executor(spec, "Trainer")["container"]["resources"]
    assert trainer == {"cpuRequest": 8, "memoryRequest": 16, "memoryLimit": 32,
                       "accelerator": {"type": "nvidia.com/gpu", "count": "2"}}
    assert executor(spec, "Tuner")["container"]["resources"]["accelerator"]["count"] == "2"
    assert "accelerator" not in executor(spec, "Evaluator")["container"]["resources"]
    assert executor(spec, "Evaluator")["container"]["resources"]["memoryRequest"] == 6
    assert kfp_backend.pod_resources(trainer)["limits"] == {"memory": "32G",
                                                            "nvidia.com/gpu": "2"}


def test_vertex_resources_are_limits_and_accelerators_are_checked(tmp_path, capsys):
    output = str(tmp_path / "v.json")
    code, _, err = main_in_process(capsys, *base_args(output, "vertex"), "--gpus", "1",
                                   "--gpu-type", "NVIDIA_L4")
    assert code == 0, err
    with open(output) as f:
        spec = json.load(f)["pipelineSpec"]
    assert executor(spec, "Trainer")["container"]["resources"] == {
        "cpuLimit": 2, "memoryLimit": 8, "accelerator": {"type": "NVIDIA_L4", "count": "1"}}
    code, _, err = main_in_process(capsys, *base_args(str(tmp_path / "w.json"), "vertex"),
                                   "--gpus", "1", "--gpu-type", "nvidia.com/gpu")
    assert code == 2 and "--gpu-type 'nvidia.com/gpu': not a Vertex AI accelerator" in err
    assert not (tmp_path / "w.json").exists()


def test_compiled_files_are_readable_by_all(kfp_spec, vertex_job):
    for path, _ in (kfp_spec, vertex_job):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_the_output_suffix_picks_yaml_or_json(tmp_path, capsys):
    code, _, err = main_in_process(capsys, *base_args(str(tmp_path / "p.json")))
    assert code == 0, err
    with open(tmp_path / "p.json") as f:
        spec = json.load(f)  # the bare spec, as JSON
    assert spec["schemaVersion"] == "2.1.0" and "pipelineSpec" not in spec
    code, _, err = main_in_process(capsys, *base_args(str(tmp_path / "p.txt")))
    assert code == 2 and "--output" in err and ".yaml, .yml or .json" in err
    assert not (tmp_path / "p.txt").exists()


def test_spec_check_refuses_what_a_backend_would(kfp_spec):
    spec = json.loads(json.dumps(kfp_spec[1]))
    spec_lib.check(spec, KFP)
    with pytest.raises(spec_lib.SpecError, match="the vertex backend takes 2.0.0 only"):
        spec_lib.check(spec, VERTEX)
    spec["root"]["dag"]["tasks"]["ImportExampleGen"]["inputs"]["parameters"][
        "input_fingerprint"]["taskOutputParameter"]["producerTask"] = "InputFingerprint_task"
    with pytest.raises(spec_lib.SpecError,
                       match="'ImportExampleGen' reads from 'InputFingerprint_task'"):
        spec_lib.check(spec, KFP)


# --- submission ----------------------------------------------------------------------

def test_endpoint_twice_creates_two_runs_of_new_versions(tmp_path, capsys):
    with KfpApiServer() as api:
        outs = []
        for _ in range(2):
            code, out, err = main_in_process(capsys, *base_args(str(tmp_path / "p.yaml")),
                                             "--endpoint", api.url)
            assert code == 0, err
            outs.append(out)
    assert len(api.runs) == 2 and not api.refusals
    [pipeline] = api.pipelines.values()
    versions = api.versions[pipeline["pipeline_id"]]
    assert len(versions) == 2
    assert [r["pipeline_version_reference"]["pipeline_version_id"] for r in api.runs] == \
        [v["pipeline_version_id"] for v in versions]
    for run, out in zip(api.runs, outs):
        assert run["runtime_config"] == {"pipeline_root": "gs://bucket/msa", "parameters": {
            "train_steps": 777, "data_root": "gs://bucket/data/mosi", "span": 0,
            "allow_drift": 0}}
        assert f"started run {run['run_id']}: {api.url}/#/runs/details/{run['run_id']}" in out
    assert versions[0]["pipeline_spec"] == load(str(tmp_path / "p.yaml"))


def test_schedule_creates_a_recurring_run_with_kfps_six_field_cron(tmp_path, capsys):
    with KfpApiServer() as api:
        code, out, err = main_in_process(capsys, *base_args(str(tmp_path / "p.yaml")),
                                         "--endpoint", api.url, "--schedule", "0 3 * * *",
                                         "--span", "0")
    assert code == 0, err
    assert not api.runs and not api.refusals  # nothing started now: the schedule starts runs
    [recurring] = api.recurring_runs
    # crontab's 03:00 daily; KFP's parser reads 5 fields as seconds first, so it gets 6
    assert recurring["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
    assert recurring["max_concurrency"] == "1" and recurring["no_catchup"] is True
    assert recurring["mode"] == "ENABLE"
    assert recurring["runtime_config"]["parameters"]["span"] == 0  # the newest span, each run
    rid = recurring["recurring_run_id"]
    assert (f"created recurring run {rid} (cron '0 0 3 * * *', UTC): "
            f"{api.url}/#/recurringrun/details/{rid}") in out


def test_stand_in_api_refuses_what_the_real_one_refuses(kfp_spec, vertex_job):
    import kfp
    from kfp_server_api.exceptions import ApiException

    with KfpApiServer() as api:
        client = kfp.Client(host=api.url)
        client.upload_pipeline(kfp_spec[0], pipeline_name="msa")
        with pytest.raises(ApiException) as duplicate:
            client.upload_pipeline(kfp_spec[0], pipeline_name="msa")
        vertex_spec = str(vertex_job[0]) + ".spec.yaml"
        with open(vertex_spec, "w") as f:
            yaml.safe_dump(vertex_job[1]["pipelineSpec"], f)
        with pytest.raises(ApiException) as old_schema:
            client.upload_pipeline(vertex_spec, pipeline_name="msa-vertex")
        experiment = client.create_experiment("x").experiment_id
        with pytest.raises(ApiException) as bad_cron:  # 3 fields: robfig/cron refuses it
            client.create_recurring_run(experiment, "r", cron_expression="1 * *",
                                        pipeline_package_path=kfp_spec[0])
    assert bad_cron.value.status == 400
    assert "Schedule cron is not a supported format" in bad_cron.value.body
    assert not api.recurring_runs
    assert duplicate.value.status == 409
    assert old_schema.value.status == 400
    assert "KFP only supports schema version 2.1.0, but the pipeline spec has version 2.0.0" \
        in old_schema.value.body


def test_vertex_submission_builds_the_pipeline_job(vertex_job, monkeypatch, capsys):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    submitted = []

    def fake_submit(job, service_account=None, **_):
        job._gca_resource.name = (f"projects/my-project/locations/europe-west4/pipelineJobs/"
                                  f"{job.job_id}")
        submitted.append((job, service_account))

    monkeypatch.setattr(aiplatform.PipelineJob, "submit", fake_submit)
    name, url = submit.submit_vertex(vertex_job[0], "my-project", "europe-west4",
                                     "gs://bucket/msa", {"train_steps": 5},
                                     "msa-seq-level", "sa@my-project.iam",
                                     credentials=AnonymousCredentials())
    [(job, account)] = submitted
    assert account == "sa@my-project.iam"
    config = job._gca_resource.runtime_config
    assert config.gcs_output_directory == "gs://bucket/msa"
    assert config.parameters["train_steps"].int_value == 5
    assert config.parameters["data_root"].string_value == "gs://bucket/data/mosi"
    assert name.endswith(job.job_id)
    assert url == ("https://console.cloud.google.com/vertex-ai/locations/europe-west4/"
                   f"pipelines/runs/{job.job_id}?project=my-project")


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_is_one_line(tmp_path, capsys):
    output = str(tmp_path / "p.yaml")
    code, _, err = main_in_process(capsys, *base_args(output), "--endpoint",
                                   f"http://127.0.0.1:{_closed_port()}")
    assert code == 1
    errors = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "--endpoint" in errors[0] and "reachable" in errors[0]
    assert "Traceback" not in err


# --- bad flags and storage -------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["--pipeline-root", "gs://b", "--data-root", "gs://d"], "--image"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--beam-runner", "SnailRunner"], "--beam-runner"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--model-dim", "30", "--num-heads", "4"], "--model-dim"),
    (["--image", IMAGE, "--pipeline-root", "s3://b/msa", "--data-root", "gs://d"],
     "--pipeline-root 's3://b/msa'"),
    (["--image", IMAGE, "--pipeline-root", "minio://mlpipeline/v2", "--data-root", "gs://d"],
     "cannot write minio://"),
    (["--image", IMAGE, "--target", "vertex", "--pipeline-root", "/abs/root",
      "--data-root", "gs://d", "--serving-dir", "s3://b/serving"], "--serving-dir"),
    (["--image", IMAGE, "--pipeline-root", "relative/root", "--data-root", "gs://d"],
     "expected gs://BUCKET/PATH"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--memory", "Trainer=lots"], "--memory 'Trainer=lots'"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--cpu", "Trainor=4"], "unknown component 'Trainor'"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--project", "p", "--region", "r"], "--target vertex"),
    (["--image", IMAGE, "--target", "vertex", "--pipeline-root", "gs://b", "--data-root",
      "gs://d", "--gpus", "1"], "--gpu-type"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--schedule", "0 3 * * *"], "--schedule creates a recurring run"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--endpoint", "http://127.0.0.1:9", "--schedule", "0 3 * *"], "expected a cron"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--span", "-1"], "--span -1: expected a span number >= 1, or 0"),
    (["--image", IMAGE, "--target", "vertex", "--pipeline-root", "gs://b", "--data-root",
      "gs://d", "--span", "2"], "--span: data spans are compiled for --target kfp only"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--drift-threshold", "video=2"], "--drift-threshold video=2"),
    (["--image", IMAGE, "--pipeline-root", "gs://b", "--data-root", "gs://d",
      "--endpoint", "http://127.0.0.1:9", "--schedule", "@daily", "--span", "2"],
     "--schedule with --span 2: every scheduled run would retrain that span"),
])
def test_bad_flags_write_nothing(tmp_path, args, fragment):
    output = tmp_path / "p.yaml"
    proc = run_kubeflow_runner(*args, "--output", str(output))
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1 and errors[0].startswith("kubeflow_runner.py: error: ")
    assert fragment in errors[0], proc.stderr
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_local_pipeline_root_compiles_with_a_warning(tmp_path, capsys):
    output = str(tmp_path / "p.yaml")
    code, out, err = main_in_process(capsys, "--image", IMAGE, "--pipeline-root",
                                     str(tmp_path / "root"), "--data-root", "gs://bucket/d",
                                     "--output", output)
    assert code == 0, err
    warnings = [ln for ln in err.splitlines() if "warning:" in ln]
    assert len(warnings) == 1
    assert "--pipeline-root" in warnings[0] and "local conformance runs only" in warnings[0]
    # the data is read only in the cluster: the lengths are chosen there
    assert "sequence lengths: chosen when the pipeline runs, from the train split's " \
           "statistics" in out


# --- data sources, tuning, warm start --------------------------------------------------

def test_source_compiles_the_converted_example_gen_with_its_fingerprint(tmp_path, capsys):
    from tests import convert_fixtures

    pickle_path = str(tmp_path / "mosi_data.pkl")
    convert_fixtures.write_mult(pickle_path, dataset="mosi")
    output = str(tmp_path / "p.yaml")
    code, _, err = main_in_process(capsys, "--image", IMAGE, "--pipeline-root", "gs://bucket/msa",
                                   "--source", f"mult:{pickle_path}", "--output", output)
    assert code == 0, err
    spec = load(output)
    tasks = spec["root"]["dag"]["tasks"]
    assert "ConvertedExampleGen" in tasks and "ImportExampleGen" not in tasks
    assert executor(spec, "ConvertedExampleGen")["container"]["args"][1] == \
        "components.converted_example_gen.Executor"
    fingerprint = tasks["InputFingerprint"]["inputs"]["parameters"]
    assert fingerprint["input_base"] == {"runtimeValue": {"constant": str(tmp_path)}}
    assert "mosi_data.pkl" in fingerprint["input_config"]["runtimeValue"]["constant"]
    assert tasks["ConvertedExampleGen"]["inputs"]["parameters"]["input_fingerprint"][
        "taskOutputParameter"]["producerTask"] == "InputFingerprint"
    assert set(spec["root"]["inputDefinitions"]["parameters"]) == {"train_steps"}
    # the source's own dims (MulT MOSI: audio 5, vision 20) reach Transform (through the
    # task that adds the lengths) and the Trainer
    dims = tasks["SequenceLengths"]["inputs"]["parameters"]["dims_json"]
    assert json.loads(dims["runtimeValue"]["constant"]) == {"text": 300, "audio": 5, "video": 20}
    # its memory follows the file's size (1.6x + 1 GB)
    memory = executor(spec, "ConvertedExampleGen")["container"]["resources"]["memoryRequest"]
    assert memory == 1 + -(-1.6 * os.path.getsize(pickle_path) // 1e9)


def test_data_root_and_source_are_exclusive(tmp_path):
    proc = run_kubeflow_runner("--image", IMAGE, "--pipeline-root", "gs://b", "--data-root",
                               "gs://d", "--source", "mult:/x.pkl",
                               "--output", str(tmp_path / "p.yaml"))
    assert proc.returncode == 2
    assert "exactly one of --data-root" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_tune_and_warm_start_compile_into_the_pipeline(tmp_path, capsys):
    output = str(tmp_path / "tuned.yaml")
    code, _, err = main_in_process(capsys, *base_args(output), "--tune", "--tune-trials", "3",
                                   "--tune-steps", "50", "--warm-start", "--model-dim", "32")
    assert code == 0, err
    spec = load(output)
    tasks = spec["root"]["dag"]["tasks"]
    assert "Transform" in tasks["Tuner"]["dependentTasks"]
    assert executor(spec, "Tuner")["container"]["args"][1] == \
        "tfx.components.tuner.executor.Executor"
    parameters = tasks["Tuner"]["inputs"]["parameters"]
    assert parameters["tuner_fn"]["runtimeValue"]["constant"] == "trainer.tuning.tuner_fn"
    tuner_config = json.loads(parameters["custom_config"]["runtimeValue"]["constant"])
    assert tuner_config["trials"] == 3 and "model_dim" not in tuner_config["search_space"]
    trainer_inputs = tasks["Trainer"]["inputs"]["artifacts"]
    assert trainer_inputs["hyperparameters"]["taskOutputArtifact"]["producerTask"] == "Tuner"
    # --warm-start: the latest pushed model is the Trainer's base_model
    assert trainer_inputs["base_model"]["taskOutputArtifact"]["producerTask"] == \
        "latest_pushed_model"
    assert {"Tuner", "latest_pushed_model"} <= set(tasks["Trainer"]["dependentTasks"])
    kfp_backend.check_spec(spec)


def test_transform_profiles_its_data_only_when_asked():
    def transform_outputs(**settings):
        [transform] = [c for c in local_pipeline(**settings).components if c.id == "Transform"]
        return set(transform.outputs)

    default = transform_outputs()
    assert {"transform_graph", "transformed_examples"} <= default
    assert not {"pre_transform_stats", "post_transform_stats"} & default
    assert {"pre_transform_stats", "post_transform_stats"} <= \
        transform_outputs(transform_statistics=True)
