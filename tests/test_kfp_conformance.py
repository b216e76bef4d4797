"""The ``--target kfp`` pipeline executed as open-source Kubeflow Pipelines executes it.

tests/kfp_conformance/kfp.py emulates the backend's driver and launcher
(``backend/src/v2``); every task runs its real command from the compiled
spec, on tiny data (``msa-synth --limit-per-split 40``) with ``--train-steps
20 --model-dim 16 --num-heads 2 --batch-size 16`` and a local pipeline root.
Four runs share one backend (its ML Metadata and cache), as on a cluster:

1. the first run: every task executes;
2. the same data again: the cache serves everything up to the Trainer, and
   the Evaluator compares against the model the first run pushed;
3. the data changed under the same ``data_root``: the ExampleGen runs again
   (only it and what it waits on are run);
4. the oldest releases' launcher (2.0-2.4: no ``executor-logs``, the
   executor output in the pod, no salt in the URIs), one task, its command
   started as a fresh process (the other runs start theirs from a warm
   interpreter, tests/kfp_conformance/zygote.py);
5. continuous training: ``data_root`` set to a root of three span folders
   (``msa-synth --spans 3 --shift-span 3``), up to the DriftGate: with
   ``span=2`` the ExampleGen reads span 2 and the gate passes it; with the
   default ``span=0`` the newest span, 3, is read and the DriftGate fails
   the run with its one-line reason, before Transform; with ``allow_drift=1``
   it passes and records the drift.
"""

from __future__ import annotations

import glob
import json
import os
import re

import pytest

from msa_data import synth
from tests.kfp_conformance.compile import TINY, compile_spec, tiny_data
from tests.kfp_conformance.kfp import Kfp
from tests.runner_util import TFX_SELF_PACKAGING

pytestmark = [pytest.mark.slow, pytest.mark.one_worker]

TASKS = {"InputFingerprint", "ImportExampleGen", "StatisticsGen", "ImportSchemaGen",
         "ExampleValidator", "DataGate", "DriftGate", "SequenceLengths", "Transform", "Trainer",
         "latest_pushed_model", "Evaluator", "BulkInferrer", "Pusher"}


@pytest.fixture(scope="module")
def kfp_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("kfp_conformance")
    data = tiny_data(str(base / "data"))
    root = str(base / "root")
    spec = str(base / "msa_pipeline.yaml")
    compile_spec(spec, root, data)
    # Tasks start from a warm interpreter (tests/kfp_conformance/zygote.py) but
    # for the last run's, which starts its command as a fresh process.
    with Kfp(str(base / "backend"), warm=True) as backend:
        runs = {"first": backend.run(spec, root), "again": backend.run(spec, root)}
        tiny_data(data, seed=1)  # new files under the same data_root
        runs["new_data"] = backend.run(spec, root, only="ImportExampleGen")
        spans = str(base / "spans")
        synth.generate_spans(spans, 3, shift_span=3, **TINY)
        runs["span_2"] = backend.run(spec, root, {"data_root": spans, "span": 2},
                                     only="DriftGate")
        runs["drifted"] = backend.run(spec, root, {"data_root": spans}, only="DriftGate")
        runs["allowed"] = backend.run(spec, root, {"data_root": spans, "allow_drift": 1},
                                      only="DriftGate")
    old = Kfp(str(base / "backend"), version="2.0")
    runs["kfp_2_0"] = old.run(spec, root, only="ImportSchemaGen")
    return {"runs": runs, "backend": backend, "root": root, "spec": spec, "spans": spans}


def read(path):
    with open(path) as f:
        return f.read()


def custom(backend, artifact_uri, key):
    [artifact] = backend.store.artifacts_by_uri(artifact_uri)[-1:]
    value = artifact.custom_properties[key]
    return getattr(value, value.WhichOneof("value"))


def test_every_task_of_the_first_run_succeeds(kfp_runs):
    first = kfp_runs["runs"]["first"]
    assert first.ok, first.failure()
    assert first.states() == {name: "executed" for name in TASKS}


def test_no_task_builds_an_sdist_of_tfx(kfp_runs):
    logs = [t.log for run in kfp_runs["runs"].values() for t in run.tasks.values() if t.log]
    assert len(logs) > 12
    for log in logs:
        assert TFX_SELF_PACKAGING not in read(log), log


def test_the_trainer_gets_the_runtime_train_steps(kfp_runs):
    trainer = kfp_runs["runs"]["first"].tasks["Trainer"]
    assert trainer.executor_input["inputs"]["parameterValues"]["train_steps"] == 20
    # 40 examples at batch 16: 3 steps an epoch, so 20 steps are 7 epochs
    assert "Trainer: epoch 1/7 " in read(trainer.log)


def test_transform_lengths_are_chosen_in_the_run_from_the_statistics(kfp_runs):
    import tensorflow_transform as tft

    from msa_data import contract, lengths

    first = kfp_runs["runs"]["first"]
    log = read(first.tasks["SequenceLengths"].log)
    line = next(ln for ln in log.splitlines() if "sequence lengths (the train split's" in ln)
    said = {m: int(re.search(rf"\b{m} (\d+)", line.split("):", 1)[1]).group(1))
            for m in contract.MODALITIES}
    # the local runner's rule on the exact counts, within the histogram's resolution
    [examples] = first.tasks["ImportExampleGen"].outputs["examples"]  # the first run's data
    counts = {m: [] for m in contract.MODALITIES}
    for segment in contract.read_split(os.path.join(examples["uri"], "Split-train", "*")):
        for m in contract.MODALITIES:
            counts[m].append(len(getattr(segment, m)))
    exact = lengths.choose_lengths(counts)
    assert all(abs(said[m] - exact[m]) <= lengths.ROUND_TO for m in said), (said, exact)
    # Transform padded to what the task chose
    [graph] = first.tasks["Transform"].outputs["transform_graph"]
    spec = tft.TFTransformOutput(graph["uri"]).transformed_feature_spec()
    assert {m: spec[m].shape[0] for m in contract.MODALITIES} == said


def test_entrypoint_adapts_what_the_open_source_driver_hands_tfx(kfp_runs):
    first = kfp_runs["runs"]["first"]
    statistics = first.tasks["StatisticsGen"]
    # what the driver passed: an upstream artifact with an empty type, and executor-logs
    [examples] = statistics.executor_input["inputs"]["artifacts"]["examples"]["artifacts"]
    assert examples["type"] == {"instanceSchema": ""}
    assert "executor-logs" in statistics.executor_input["outputs"]["artifacts"]
    log = read(statistics.log)
    assert "entrypoint: input 'examples': type taken from the component spec" in log
    assert "entrypoint: output 'executor-logs' kept from TFX" in log
    # the launcher recorded each task's logs, teed from its output
    [logs] = statistics.outputs["executor-logs"]
    assert "StatisticsGen" in read(logs["uri"]) or "statistics" in read(logs["uri"])


def test_first_run_has_no_baseline_and_pushes(kfp_runs):
    first, backend = kfp_runs["runs"]["first"], kfp_runs["backend"]
    [resolved] = first.tasks["latest_pushed_model"].outputs["model"]
    assert resolved["metadata"]["msa_resolved"] == 0
    evaluator = first.tasks["Evaluator"]
    assert "input 'baseline_model': no model resolved, handed on as none" in read(evaluator.log)
    [pushed] = first.tasks["Pusher"].outputs["pushed_model"]
    assert pushed["metadata"]["push_outcome"] == "pushed"
    versions = os.listdir(os.path.join(kfp_runs["root"], "serving_model"))
    assert versions == [pushed["metadata"]["served_version"]]
    assert custom(backend, pushed["uri"], "push_outcome") == "pushed"


def test_second_run_reuses_the_cache_and_compares_with_the_pushed_model(kfp_runs):
    first, again = kfp_runs["runs"]["first"], kfp_runs["runs"]["again"]
    assert again.ok, again.failure()
    executed = {"InputFingerprint", "latest_pushed_model", "Evaluator", "Pusher"}
    assert again.states() == {n: "executed" if n in executed else "cached" for n in TASKS}
    # the fingerprint of unchanged files is unchanged, so the ExampleGen's cache key is
    assert again.tasks["ImportExampleGen"].executor_input["inputs"]["parameterValues"][
        "input_fingerprint"] == first.tasks["ImportExampleGen"].executor_input["inputs"][
        "parameterValues"]["input_fingerprint"]
    [model] = first.tasks["Trainer"].outputs["model"]
    [resolved] = again.tasks["latest_pushed_model"].outputs["model"]
    assert resolved["uri"] == model["uri"] and resolved["metadata"]["msa_resolved"] == 1
    [baseline] = again.tasks["Evaluator"].executor_input["inputs"]["artifacts"][
        "baseline_model"]["artifacts"]
    assert baseline["uri"] == model["uri"]
    [blessing] = again.tasks["Evaluator"].outputs["blessing"]
    assert blessing["metadata"]["baseline_model_id"] == baseline["name"]
    [pushed] = again.tasks["Pusher"].outputs["pushed_model"]
    assert pushed["metadata"]["push_outcome"] == "unchanged"  # the same model, not pushed again
    assert len(os.listdir(os.path.join(kfp_runs["root"], "serving_model"))) == 1


def test_new_files_under_the_same_data_root_are_read_again(kfp_runs):
    first, new = kfp_runs["runs"]["first"], kfp_runs["runs"]["new_data"]
    assert new.ok, new.failure()
    ran = {n: s for n, s in new.states().items() if s != "not run"}
    assert ran == {"InputFingerprint": "executed", "ImportExampleGen": "executed"}
    fingerprint = new.tasks["ImportExampleGen"].executor_input["inputs"]["parameterValues"][
        "input_fingerprint"]
    assert fingerprint != first.tasks["ImportExampleGen"].executor_input["inputs"][
        "parameterValues"]["input_fingerprint"]
    [examples] = new.tasks["ImportExampleGen"].outputs["examples"]
    assert glob.glob(os.path.join(examples["uri"], "Split-train", "*.gz"))


def test_the_oldest_release_shapes_work_too(kfp_runs):
    run = kfp_runs["runs"]["kfp_2_0"]
    assert run.ok, run.failure()
    task = run.tasks["ImportSchemaGen"]
    assert task.state == "executed"
    outputs = task.executor_input["outputs"]
    assert "executor-logs" not in outputs["artifacts"]
    assert outputs["outputFile"].endswith("/tmp/kfp_outputs/output_metadata.json")
    assert json.loads(read(outputs["outputFile"]))["artifacts"]["schema"]


def drift_record(run):
    """The DriftGate's record: its String artifact, a file at the artifact's URI."""
    [drift] = run.tasks["DriftGate"].outputs["drift"]
    return json.loads(read(drift["uri"]))


def test_the_span_runtime_parameter_picks_the_span_folder(kfp_runs):
    run, backend = kfp_runs["runs"]["span_2"], kfp_runs["backend"]
    assert run.ok, run.failure()
    fingerprint = run.tasks["InputFingerprint"]
    assert fingerprint.executor_input["inputs"]["parameterValues"]["requested_span"] == 2
    assert f"{kfp_runs['spans']}: reading span 2" in read(fingerprint.log)
    gen = run.tasks["ImportExampleGen"]
    # (an Integer output read by a string setting: the executor takes int() of it)
    assert int(gen.executor_input["inputs"]["parameterValues"]["data_span"]) == 2
    [examples] = gen.outputs["examples"]
    # TFX hands KFP a custom property as "custom:<name>" metadata
    assert custom(backend, examples["uri"], "custom:span") == 2
    # the examples are span 2's segments, not span 1's or 3's
    from msa_data import contract

    def ids(pattern):
        return sorted(s.segment_id for s in contract.read_split(pattern))

    assert ids(os.path.join(examples["uri"], "Split-train", "*")) == ids(
        os.path.join(contract.span_dir(kfp_runs["spans"], 2), "train.tfrecord*"))
    record = drift_record(run)
    assert record["span"] == 2 and record["previous_span"] == 1 and record["drifted"] == []


def test_the_latest_span_is_resolved_at_run_time_and_a_drifted_one_stops(kfp_runs):
    run = kfp_runs["runs"]["drifted"]
    assert run.tasks["InputFingerprint"].state == "executed"
    assert int(run.tasks["ImportExampleGen"].executor_input["inputs"]["parameterValues"][
        "data_span"]) == 3
    gate = run.tasks["DriftGate"]
    assert gate.state == "failed"
    last = read(gate.log).strip().splitlines()[-1]
    assert last.startswith("entrypoint: error: drift: span 3 against span 2: video: ")
    assert "nothing was trained or pushed" in last
    assert run.tasks["Transform"].state == "not run"


def test_allow_drift_runs_a_drifted_span_on_and_records_it(kfp_runs):
    run = kfp_runs["runs"]["allowed"]
    assert run.ok, run.failure()
    gate = run.tasks["DriftGate"]
    assert gate.executor_input["inputs"]["parameterValues"]["allow_drift"] == 1
    record = drift_record(run)
    assert record["span"] == 3 and record["allowed"] is True
    assert "video" in record["drifted"]
    assert record["line"].startswith("drift: span 3 against span 2: video: ")
