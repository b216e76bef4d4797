"""The whole pipeline, run for real: LocalDagRunner, Beam DirectRunner, SQLite MLMD.

Reads the runs of the shared chain (conftest ``pipeline_chain``): ``good``,
the folder's first run; ``rerun``, the same on unchanged inputs; ``warm``,
warm-started from the model the ``better`` run blessed.
"""

from __future__ import annotations

import glob
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

from msa_data import contract
from pipeline import configs, results
from tests import runner_util
from tests.runner_util import execution_inputs, trainer_executions
from tests.runner_util import open_store as _store

COMPONENTS = ("ImportExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
              "DataGate", "Transform", "Trainer", "latest_blessed_model_resolver",
              "Evaluator", "BulkInferrer", "Pusher")


def _executions_by_node(store, run_id=None):
    """node id -> list of execution states (of one pipeline run, or all), from MLMD."""
    in_run = None
    if run_id is not None:
        context = store.get_context_by_type_and_name("pipeline_run", run_id)
        in_run = {e.id for e in store.get_executions_by_context(context.id)}
    result = {}
    for context in store.get_contexts_by_type("node"):
        node = context.name.split(".", 1)[1]
        result[node] = [e.last_known_state for e in store.get_executions_by_context(context.id)
                        if in_run is None or e.id in in_run]
    return result


def _run_evaluation(run):
    outcome, run_id, _ = run
    return results.run_evaluation(configs.metadata_path(outcome.output_dir), run_id)


def test_first_run_executes_every_component(pipeline_chain):
    first, run_id, _ = pipeline_chain["good"]
    assert first.returncode == 0, first.console
    states = _executions_by_node(_store(first.output_dir), run_id)
    for node in COMPONENTS:
        assert states.get(node), f"{node} never ran"
        assert states[node] == [metadata_store_pb2.Execution.COMPLETE], node
    # the console shows one line per component with a wall time
    for node in COMPONENTS:
        assert any(line.strip().startswith(node) and line.rstrip().endswith(" s")
                   for line in first.console.splitlines()), node


def _blessed(console: str) -> bool:
    verdict = re.search(r"verdict: (BLESSED|NOT BLESSED)", console)
    assert verdict, console
    return verdict.group(1) == "BLESSED"


def test_console_is_readable(pipeline_chain):
    # The blessing path itself is tested in tests/test_blessing.py. Here: the
    # console states the verdict and what was pushed, consistently.
    first = pipeline_chain["good"][0]
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
    # no Beam component built an sdist of TFX for workers the DirectRunner never starts
    assert runner_util.TFX_SELF_PACKAGING not in runner_util.run_log(first.output_dir)


def test_trained_model_scores_raw_examples_and_push_follows_the_verdict(pipeline_chain,
                                                                         blessing_data):
    first = pipeline_chain["good"][0]
    assert len(first.pushed) == (1 if _blessed(first.console) else 0)
    trained = os.path.join(_run_evaluation(pipeline_chain["good"]).model_uri, "Format-Serving")
    serve = tf.saved_model.load(trained).signatures["serving_default"]

    requests = []
    for segment in list(contract.read_split(contract.split_path(blessing_data, "test")))[:8]:
        example = contract.to_example(segment)
        del example.features.feature[contract.LABEL]  # clients don't send labels
        requests.append(example.SerializeToString())
    scores = serve(examples=tf.constant(requests))["sentiment"]
    assert scores.dtype == tf.float32
    assert scores.shape == (8, 1)
    assert np.all(np.isfinite(scores.numpy()))
    # different inputs, different scores: the model is not a constant
    assert np.std(scores.numpy()) > 0


def test_second_run_reuses_cached_outputs(pipeline_chain):
    second, run_id, _ = pipeline_chain["rerun"]
    assert second.returncode == 0, second.console
    cached = {line.split()[0] for line in second.console.splitlines()
              if len(line.split()) >= 2 and line.split()[1] == "cached"}
    for node in ("ImportExampleGen", "StatisticsGen", "ExampleValidator", "DataGate",
                 "Transform", "Trainer"):
        assert node in cached, second.console
    store = _store(second.output_dir)
    # Trainer and Transform did not run again: MLMD records them as cached
    rerun = _executions_by_node(store, run_id)
    for node in ("Transform", "Trainer", "BulkInferrer"):
        assert rerun[node] == [metadata_store_pb2.Execution.CACHED], node
    # and no later run of the chain (same data) ran Transform again either
    assert _executions_by_node(store)["Transform"].count(
        metadata_store_pb2.Execution.COMPLETE) == 1


def test_training_summary_is_written(pipeline_chain):
    run_dir = _run_evaluation(pipeline_chain["good"]).model_run_uri
    summaries = glob.glob(os.path.join(run_dir, "training_summary.json"))
    assert len(summaries) == 1
    summary = json.load(open(summaries[0]))
    assert summary["policy"] == "float32"  # auto on a CPU-only host
    assert summary["train_examples_per_sec"] > 0
    assert summary["epochs_run"] >= 1
    # TensorBoard logs live beside it
    assert glob.glob(os.path.join(os.path.dirname(summaries[0]), "**", "events.out.tfevents*"),
                     recursive=True)


def test_console_shows_training_progress_and_the_tensorboard_command(pipeline_chain):
    first = pipeline_chain["good"][0]
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


def test_bulk_inferrer_scores_match_the_serving_signature(pipeline_chain, blessing_data):
    from tensorflow_serving.apis import prediction_log_pb2

    evaluation = _run_evaluation(pipeline_chain["good"])
    serve = tf.saved_model.load(os.path.join(evaluation.model_uri, "Format-Serving")).signatures[
        "serving_default"]
    files = glob.glob(os.path.join(evaluation.inference_uri, "*"))
    assert files
    logged, examples = [], []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        examples.extend(log.predict_log.request.inputs["examples"].string_val)
        logged.extend(log.predict_log.response.outputs["sentiment"].float_val)
    # every test example of the data, once
    test_ids = [s.segment_id for s in contract.read_split(contract.split_path(blessing_data,
                                                                              "test"))]
    assert len(logged) == len(examples) == len(test_ids)
    scores = serve(examples=tf.constant(examples))["sentiment"].numpy().reshape(-1)
    np.testing.assert_allclose(logged, scores, rtol=0, atol=1e-5)


def test_make_tensorboard_serves_the_latest_training_logs(pipeline_chain):
    # the folder's newest run: its Trainer's logs are the latest
    first = pipeline_chain["warm"][0]
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


def _run_summary(run):
    """(Trainer execution, training_summary.json) of one run of the chain."""
    outcome, run_id, _ = run
    evaluation = results.run_evaluation(configs.metadata_path(outcome.output_dir), run_id)
    store = _store(outcome.output_dir)
    context = store.get_context_by_type_and_name("pipeline_run", run_id)
    in_run = {e.id for e in store.get_executions_by_context(context.id)}
    (trainer,) = [e for e in trainer_executions(store) if e.id in in_run]
    with open(os.path.join(evaluation.model_run_uri, "training_summary.json")) as f:
        return trainer, evaluation, json.load(f)


def test_warm_start_begins_where_the_blessed_model_ended(pipeline_chain):
    better, warm = pipeline_chain["better"][0], pipeline_chain["warm"][0]
    assert warm.returncode == 0, warm.console
    assert re.search(r"verdict: BLESSED", better.console), \
        "precondition: the better run's model is blessed, so it is the warm start's base"
    assert "warm start: from the blessed model" in warm.console, warm.console
    _, base_eval, base = _run_summary(pipeline_chain["better"])
    trainer, _, started = _run_summary(pipeline_chain["warm"])
    base_model = execution_inputs(_store(warm.output_dir), trainer.id, "base_model")
    assert base_model == [base_eval.model_id]
    loaded, untrained = started["history"]["warm_start_val_mae"]
    # the loaded weights score what the base model scored at the epoch it kept
    # (early stopping restores its best epoch), on the same validation data
    assert min(abs(loaded - v) for v in base["history"]["val_mae"]) < 1e-4, (
        loaded, base["history"]["val_mae"])
    # after its first epoch the model is still near the base, far from an untrained one
    first = started["history"]["val_mae"][0]
    assert abs(first - loaded) < abs(untrained - loaded) / 2, (first, loaded, untrained)
