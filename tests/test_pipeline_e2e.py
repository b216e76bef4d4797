"""The whole pipeline, run for real: LocalDagRunner, Beam DirectRunner, SQLite MLMD."""

from __future__ import annotations

import glob
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from msa_data import contract
from pipeline import configs

COMPONENTS = ("ImportExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
              "DataGate", "Transform", "Trainer", "latest_blessed_model_resolver",
              "Evaluator", "BulkInferrer", "Pusher")


def _store(output_dir):
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = configs.metadata_path(output_dir)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _executions_by_node(store):
    """node id -> list of execution states, from the MLMD node contexts."""
    result = {}
    for context in store.get_contexts_by_type("node"):
        node = context.name.split(".", 1)[1]
        result[node] = [e.last_known_state for e in store.get_executions_by_context(context.id)]
    return result


def test_first_run_executes_every_component(pipeline_runs):
    first, _ = pipeline_runs
    assert first.returncode == 0, first.console
    states = _executions_by_node(_store(first.output_dir))
    for node in COMPONENTS:
        assert node in states, f"{node} never ran"
        assert states[node][0] in (metadata_store_pb2.Execution.COMPLETE,
                                   metadata_store_pb2.Execution.CACHED), node
    # the console shows one line per component with a wall time
    for node in COMPONENTS:
        assert any(line.strip().startswith(node) and line.rstrip().endswith(" s")
                   for line in first.console.splitlines()), node


def _blessed(console: str) -> bool:
    verdict = re.search(r"verdict: (BLESSED|NOT BLESSED)", console)
    assert verdict, console
    return verdict.group(1) == "BLESSED"


def test_console_is_readable(pipeline_runs):
    # The default architecture on 60 segments per split may or may not beat
    # the constant predictor (tests/runner_util.py says why); the blessing
    # path itself is tested in tests/test_blessing.py. Here: the console
    # states the verdict and what was pushed, consistently.
    first, _ = pipeline_runs
    assert "Warning" not in first.console and "Traceback" not in first.console
    # the Evaluator's slice table (reporting/tables.py), overall row first
    assert re.search(r"^\s+overall\s+\d+\s+\d+\.\d{4}\s", first.console, re.M), first.console
    if _blessed(first.console):
        assert "pushed model: " + configs.serving_dir(first.output_dir) in first.console
    else:
        assert "pushed model: none" in first.console
    # The model's MAE beside the built-in data's noise floor and text-only ceiling.
    assert re.search(r"MAE \d\.\d{4} \| reference MAE: constant predictor \d\.\d{4}, text part "
                     r"alone \d\.\d{4}, pooled oracle \d\.\d{4}, noise floor \d\.\d{4}",
                     first.console), first.console
    assert os.path.getsize(os.path.join(first.output_dir, "run.log")) > 0


def test_trained_model_scores_raw_examples_and_push_follows_the_verdict(pipeline_runs,
                                                                         tiny_data):
    first, _ = pipeline_runs
    assert len(first.pushed) == (1 if _blessed(first.console) else 0)
    trained = glob.glob(os.path.join(configs.pipeline_root(first.output_dir), "Trainer",
                                     "model", "*", "Format-Serving"))
    assert len(trained) == 1
    serve = tf.saved_model.load(trained[0]).signatures["serving_default"]

    requests = []
    for segment in list(contract.read_split(contract.split_path(tiny_data, "test")))[:8]:
        example = contract.to_example(segment)
        del example.features.feature[contract.LABEL]  # clients don't send labels
        requests.append(example.SerializeToString())
    scores = serve(examples=tf.constant(requests))["sentiment"]
    assert scores.dtype == tf.float32
    assert scores.shape == (8, 1)
    assert np.all(np.isfinite(scores.numpy()))
    # different inputs, different scores: the model is not a constant
    assert np.std(scores.numpy()) > 0


def test_second_run_reuses_cached_outputs(pipeline_runs):
    first, second = pipeline_runs
    assert second.returncode == 0, second.console
    cached = {line.split()[0] for line in second.console.splitlines()
              if len(line.split()) >= 2 and line.split()[1] == "cached"}
    for node in ("ImportExampleGen", "StatisticsGen", "ExampleValidator", "DataGate",
                 "Transform", "Trainer"):
        assert node in cached, second.console
    states = _executions_by_node(_store(first.output_dir))
    # Trainer and Transform really ran only once across both runs
    for node in ("Transform", "Trainer"):
        assert states[node].count(metadata_store_pb2.Execution.COMPLETE) == 1
        assert metadata_store_pb2.Execution.CACHED in states[node]


def test_training_summary_is_written(pipeline_runs):
    import json

    first, _ = pipeline_runs
    summaries = glob.glob(os.path.join(configs.pipeline_root(first.output_dir), "Trainer",
                                       "model_run", "*", "training_summary.json"))
    assert len(summaries) == 1
    summary = json.load(open(summaries[0]))
    assert summary["policy"] == "float32"  # auto on a CPU-only host
    assert summary["train_examples_per_sec"] > 0
    assert summary["epochs_run"] >= 1
    # TensorBoard logs live beside it
    assert glob.glob(os.path.join(os.path.dirname(summaries[0]), "**", "events.out.tfevents*"),
                     recursive=True)


def test_console_shows_training_progress_and_the_tensorboard_command(pipeline_runs):
    first, _ = pipeline_runs
    lines = first.console.splitlines()
    epochs = [m for m in (re.search(r"epoch +(\d+)/(\d+)  train MAE (\S+)  val MAE (\S+)  "
                                    r"(\S+) s$", ln) for ln in lines) if m]
    assert epochs, first.console
    assert [int(m.group(1)) for m in epochs] == list(range(1, len(epochs) + 1))
    assert all(float(m.group(3)) >= 0 and float(m.group(4)) >= 0 for m in epochs)
    # the epoch lines sit between the Trainer's start and finish lines
    start = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["Trainer", "running"])
    end = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["Trainer", "done"])
    first_epoch = next(i for i, ln in enumerate(lines) if "epoch" in ln and "train MAE" in ln)
    assert start < first_epoch < end
    board = re.search(r"training curves: (\S*tensorboard) --logdir (\S+)", first.console)
    assert board, first.console
    assert glob.glob(os.path.join(board.group(2), "**", "events.out.tfevents*"), recursive=True)


def test_bulk_inferrer_scores_match_the_serving_signature(pipeline_runs):
    from tensorflow_serving.apis import prediction_log_pb2

    first, _ = pipeline_runs
    store = _store(first.output_dir)
    results = store.get_artifacts_by_type("InferenceResult")
    assert len(results) == 1, "one BulkInferrer output over both runs (the second is cached)"
    model_uri = store.get_artifacts_by_type("Model")[-1].uri
    serve = tf.saved_model.load(os.path.join(model_uri, "Format-Serving")).signatures[
        "serving_default"]
    files = glob.glob(os.path.join(results[0].uri, "*"))
    assert files
    logged, examples = [], []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        examples.extend(log.predict_log.request.inputs["examples"].string_val)
        logged.extend(log.predict_log.response.outputs["sentiment"].float_val)
    assert len(logged) == len(examples) == 60  # every test example of the tiny data
    scores = serve(examples=tf.constant(examples))["sentiment"].numpy().reshape(-1)
    np.testing.assert_allclose(logged, scores, rtol=0, atol=1e-5)


def test_make_tensorboard_serves_the_latest_training_logs(pipeline_runs):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    first, _ = pipeline_runs
    printed = re.search(r"training curves: (.*)$", first.console, re.M).group(1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.tensorboard", "--output-dir",
                             first.output_dir, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        command = proc.stdout.readline().strip()
        assert command == f"{printed} --port {port}"
        deadline, runs = time.time() + 60, None
        while time.time() < deadline and runs is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=5) as r:
                    runs = json.loads(r.read())
            except OSError:
                time.sleep(1)
        assert runs, "TensorBoard did not answer"
        assert any(run.startswith(("train", "validation")) for run in runs), runs
    finally:
        proc.terminate()
        proc.wait(timeout=30)
