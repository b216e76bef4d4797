"""The Kubeflow task entrypoint and the two components open-source KFP needs.

The executor inputs here are built the way the conformance emulation of
open-source KFP builds them (tests/kfp_conformance/kfp.py), recorded in a
real ML Metadata store; TFX's own parser shows the failures the issue
measured, and the entrypoint's adaptation removes them. GCS cannot be
reached from here: the folder-marker cleanup runs against a stand-in
bucket listing (a test double).
"""

from __future__ import annotations

import json
import os

import pytest
from tfx.orchestration.kubeflow.v2.container import (
    kubeflow_v2_entrypoint_utils as tfx_utils,
)

from components import input_fingerprint, latest_pushed_model, msa_pusher
from pipeline.kubeflow import entrypoint
from tests.kfp_conformance.kfp import Kfp
from tests.kfp_conformance.kfp_driver import runtime_artifact

EXAMPLES_TYPE = {"instanceSchema": "title: tfx.Examples\ntype: object\n"}
MODEL_TYPE = {"instanceSchema": "title: tfx.Model\ntype: object\n"}


@pytest.fixture
def kfp(tmp_path):
    return Kfp(str(tmp_path / "backend"))


def upstream_examples(kfp, uri="/root/run/ImportExampleGen/x/examples"):
    """An Examples artifact as the open-source driver hands it to the next task."""
    aid = kfp.store.record_artifact("tfx.Examples", uri, {
        "split_names": '["train", "valid", "test"]', "span": 0.0,
        "display_name": "examples"})
    [artifact] = kfp.store.artifacts([aid])
    return runtime_artifact(artifact)


def kfp_executor_input(kfp, tmp_path, extra_inputs=None):
    return {
        "inputs": {"parameterValues": {"exclude_splits": "[]"},
                   "artifacts": {"examples": {"artifacts": [upstream_examples(kfp)]},
                                 **(extra_inputs or {})}},
        "outputs": {"artifacts": {
            "statistics": {"artifacts": [{"name": "statistics", "uri": str(tmp_path / "s"),
                                          "type": {"instanceSchema":
                                                   "title: tfx.ExampleStatistics\n"}}]},
            "executor-logs": {"artifacts": [{"name": "executor-logs",
                                             "uri": str(tmp_path / "logs"),
                                             "type": {"schemaTitle": "system.Artifact"}}]}},
            "outputFile": str(tmp_path / "out" / "output_metadata.json")}}


INPUTS_SPEC = {"artifacts": {"examples": {"artifactType": EXAMPLES_TYPE},
                             "baseline_model": {"artifactType": MODEL_TYPE}},
               "parameters": {"exclude_splits": {"parameterType": "STRING"}}}


def parse(section):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    message = pipeline_spec_pb2.ExecutorInput()
    json_format.ParseDict({"inputs": {"artifacts": section}}, message)
    return tfx_utils.parse_raw_artifact_dict(message.inputs.artifacts)


def test_tfx_fails_on_what_the_open_source_driver_hands_it(kfp, tmp_path):
    executor_input = kfp_executor_input(kfp, tmp_path)
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'get'"):
        parse(executor_input["inputs"]["artifacts"])
    with pytest.raises(ImportError, match="system.Artifact"):
        parse({"logs": executor_input["outputs"]["artifacts"]["executor-logs"]})


def test_adaptation_types_inputs_and_keeps_executor_logs_from_tfx(kfp, tmp_path):
    executor_input = kfp_executor_input(kfp, tmp_path)
    adapted, logs, changes = entrypoint.adapt_executor_input(executor_input, INPUTS_SPEC)
    assert logs == executor_input["outputs"]["artifacts"]["executor-logs"]
    assert set(adapted["outputs"]["artifacts"]) == {"statistics"}
    [examples] = parse(adapted["inputs"]["artifacts"])["examples"]
    assert examples.type_name == "Examples" and examples.split_names == '["train", "valid", "test"]'
    assert changes == ["output 'executor-logs' kept from TFX (the launcher writes it)",
                       "input 'examples': type taken from the component spec"]
    # what the driver sent is not changed in place
    assert executor_input["inputs"]["artifacts"]["examples"]["artifacts"][0]["type"] == \
        {"instanceSchema": ""}


def test_an_unresolved_model_is_handed_on_as_none(kfp, tmp_path):
    unresolved = {"name": "7", "uri": str(tmp_path / "m"), "type": {"instanceSchema": ""},
                  "metadata": {latest_pushed_model.RESOLVED_KEY: 0.0}}
    resolved = dict(unresolved, metadata={latest_pushed_model.RESOLVED_KEY: 1.0})
    for artifact, kept in ((unresolved, False), (resolved, True)):
        executor_input = kfp_executor_input(
            kfp, tmp_path, {"baseline_model": {"artifacts": [artifact]}})
        adapted, _, changes = entrypoint.adapt_executor_input(executor_input, INPUTS_SPEC)
        assert ("baseline_model" in adapted["inputs"]["artifacts"]) == kept
        assert ("input 'baseline_model': no model resolved, handed on as none" in changes) \
            != kept


def test_vertex_inputs_pass_unchanged():
    typed = {"inputs": {"parameters": {"x": {"intValue": "3"}}, "artifacts": {"examples": {
        "artifacts": [{"name": "projects/1/locations/r/metadataStores/default/artifacts/3",
                       "uri": "gs://b/e", "type": EXAMPLES_TYPE}]}}},
        "outputs": {"artifacts": {}, "outputFile": "gs://b/out.json"}}
    adapted, logs, changes = entrypoint.adapt_executor_input(typed, None)
    assert adapted == typed and logs is None and changes == []


def test_an_untyped_input_without_a_spec_is_one_line(kfp, tmp_path, capsys):
    executor_input = kfp_executor_input(kfp, tmp_path)
    code = entrypoint.main(["--executor_class_path", "x.Y", "--json_serialized_invocation_args",
                            json.dumps(executor_input)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "input artifact 'examples' has no type" in err[0] and "--target kfp" in err[0]
    assert entrypoint.main(["--executor_class_path", "x.Y"]) == 2


class FakeBlob:
    def __init__(self, bucket, name, size):
        self.bucket, self.name, self.size = bucket, name, size

    def delete(self):
        self.bucket.remove(self.name)


class FakeGcs:
    """A bucket listing, the only GCS call the cleanup makes (test double)."""

    def __init__(self, objects):
        self.objects = dict(objects)

    def list_blobs(self, bucket, prefix):
        assert bucket == "bucket"
        return [FakeBlob(self, n, s) for n, s in sorted(self.objects.items())
                if n.startswith(prefix)]

    def remove(self, name):
        del self.objects[name]


def test_gcs_folder_markers_are_removed_from_outputs_only():
    gcs = FakeGcs({"run/Trainer/u/model/": 0, "run/Trainer/u/model/Format-Serving/": 0,
                   "run/Trainer/u/model/Format-Serving/saved_model.pb": 120,
                   "run/Trainer/u/model/empty_file": 0,
                   "run/Trainer/u/model_run/": 0, "run/Trainer/u/model_run/logs/x": 9})
    removed = entrypoint.delete_folder_markers("gs://bucket/run/Trainer/u/model", gcs)
    assert removed == ["gs://bucket/run/Trainer/u/model/",
                       "gs://bucket/run/Trainer/u/model/Format-Serving/"]
    assert set(gcs.objects) == {"run/Trainer/u/model/Format-Serving/saved_model.pb",
                                "run/Trainer/u/model/empty_file", "run/Trainer/u/model_run/",
                                "run/Trainer/u/model_run/logs/x"}
    assert entrypoint.delete_folder_markers("/local/path", gcs) == []


def test_entrypoint_runs_tfx_and_writes_the_logs_artifact_back(tmp_path, monkeypatch):
    serving = tmp_path / "serving"
    source = tmp_path / "Trainer" / "model" / "3"
    (source / "Format-Serving").mkdir(parents=True)
    version = serving / "1790000000"
    version.mkdir(parents=True)
    (version / msa_pusher.MANIFEST).write_text(json.dumps({"model": str(source)}))
    out_file = tmp_path / "task" / "output_metadata.json"
    logs = {"artifacts": [{"name": "executor-logs", "uri": str(tmp_path / "logs-0"),
                           "type": {"schemaTitle": "system.Artifact"}}]}
    executor_input = {
        "inputs": {"parameterValues": {"serving_dir": str(serving)}},
        "outputs": {"artifacts": {
            "model": {"artifacts": [{"name": "model", "uri": str(tmp_path / "task" / "model"),
                                     "type": MODEL_TYPE}]},
            "executor-logs": logs}, "outputFile": str(out_file)}}
    monkeypatch.delenv(entrypoint.KFP_LAUNCHER_ENV, raising=False)
    code = entrypoint.main([
        "--executor_class_path", "components.latest_pushed_model.Executor",
        "--json_serialized_invocation_args", json.dumps(executor_input),
        "--json_serialized_inputs_spec_args", json.dumps(
            {"parameters": {"serving_dir": {"parameterType": "STRING"}}})])
    assert code == 0
    written = json.loads(out_file.read_text())
    assert written["artifacts"]["executor-logs"] == logs
    [model] = written["artifacts"]["model"]["artifacts"]
    assert model["uri"] == str(source)
    assert model["metadata"][latest_pushed_model.RESOLVED_KEY] == 1.0


def test_latest_pushed_model_says_why_there_is_none(tmp_path):
    serving = tmp_path / "serving"
    assert latest_pushed_model.latest_pushed(str(serving))[0] is None
    (serving / "100").mkdir(parents=True)
    source, why = latest_pushed_model.latest_pushed(str(serving))
    assert source is None and "msa_push.json" in why
    gone = tmp_path / "gone"
    (serving / "100" / msa_pusher.MANIFEST).write_text(json.dumps({"model": str(gone)}))
    source, why = latest_pushed_model.latest_pushed(str(serving))
    assert source is None and "no longer holds a serving model" in why
    (gone / "Format-Serving").mkdir(parents=True)
    assert latest_pushed_model.latest_pushed(str(serving))[0] == str(gone)
    # the newest version decides, as the newest push is the latest blessed model
    (serving / "200").mkdir()
    assert latest_pushed_model.latest_pushed(str(serving))[0] is None


def test_input_fingerprint_follows_the_files(tmp_path):
    from pipeline.pipeline import example_input_config

    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.tfrecord").write_bytes(b"x" * 10)
    config = example_input_config()
    before = input_fingerprint.fingerprint_of(str(tmp_path), config)
    assert before == input_fingerprint.fingerprint_of(str(tmp_path), config)
    (tmp_path / "valid.tfrecord").write_bytes(b"y" * 11)
    after = input_fingerprint.fingerprint_of(str(tmp_path), config)
    assert after != before and after.startswith("split:train,")
    assert os.path.exists(tmp_path / "valid.tfrecord")
