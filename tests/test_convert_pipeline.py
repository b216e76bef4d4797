"""local_runner.py --source FORMAT:PATH: a downloaded file straight into the pipeline."""

from __future__ import annotations

import glob
import json
import os

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

from msa_data import contract, convert
from pipeline import configs, local_run
from pipeline.results import open_store
from tests import convert_fixtures as fx
from tests.runner_util import (
    BETTER_STEPS,
    BLESSING_MODEL_FLAGS,
    BLESSING_SEGMENTS,
    TFX_SELF_PACKAGING,
    run_local_runner,
    run_log,
)

pytestmark = [pytest.mark.slow, pytest.mark.one_worker]


def _one_error_line(outcome, *fragments):
    lines = [ln for ln in outcome.console.splitlines() if ln.strip()]
    assert outcome.returncode == 2, outcome.console
    assert len(lines) == 1 and lines[0].startswith("error: "), outcome.console
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.slow  # starts the runner in a subprocess
def test_source_is_checked_up_front(tmp_path):
    out = ["--output-dir", str(tmp_path / "out")]
    _one_error_line(run_local_runner(["--source", "xml:/x", *out]), "--source", "'xml'")
    _one_error_line(run_local_runner(["--source", f"mult:{tmp_path}/no.pkl", *out]), "no.pkl")
    _one_error_line(run_local_runner(["--source", "mult:/x", "--data-root", str(tmp_path), *out]),
                    "--source and --data-root")
    bad = tmp_path / "mosi_data.pkl"
    bad.write_bytes(b"\x80\x04\x95")
    _one_error_line(run_local_runner(["--source", f"mult:{bad}", *out]), str(bad), "truncated")


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("source_run")
    path = str(root / "mosei_senti_data.pkl")
    # Enough segments, and the model, that reliably beat the constant predictor
    # (tests/runner_util.py: BLESSING_SEGMENTS), so the run pushes.
    counts = fx.write_mult_from_synth(path, per_split=BLESSING_SEGMENTS)
    out = str(root / "out")
    flags = list(BLESSING_MODEL_FLAGS)
    flags[flags.index("--train-steps") + 1] = str(BETTER_STEPS)
    outcome = run_local_runner(["--source", f"mult:{path}", "--output-dir", out,
                                "--beam-workers", "2", *flags])
    return outcome, path, counts


def _node_executions(store, node):
    [context] = [c for c in store.get_contexts_by_type("node")
                 if c.name.split(".", 1)[1] == node]
    return store.get_executions_by_context(context.id)


def test_pipeline_runs_on_a_downloaded_file_and_pushes(source_run):
    outcome, path, counts = source_run
    assert outcome.returncode == 0, outcome.console
    assert "Traceback" not in outcome.console
    assert len(outcome.pushed) == 1, outcome.console
    assert "dims text 300, audio 74, video 35" in outcome.console  # the source's dims
    # the file is read inside the pipeline, so the lengths are chosen there, and said at the end
    lines = outcome.console.splitlines()
    assert local_run.RUN_TIME_LENGTHS in lines
    [chosen] = [ln for ln in lines if ln.startswith("sequence lengths (the train split's stat")]
    assert lines.index(chosen) > lines.index(local_run.RUN_TIME_LENGTHS)
    assert "frames cut in the train split: text " in chosen
    # multi_processing workers are local processes: TFX packaged nothing for them
    log = run_log(outcome.output_dir)
    assert "--direct_running_mode=multi_processing" in log  # the pipeline's Beam arguments
    assert TFX_SELF_PACKAGING not in log

    store = open_store(configs.metadata_path(outcome.output_dir))
    nodes = {c.name.split(".", 1)[1] for c in store.get_contexts_by_type("node")}
    assert "ConvertedExampleGen" in nodes and "ImportExampleGen" not in nodes
    [gen] = _node_executions(store, "ConvertedExampleGen")
    assert gen.last_known_state == metadata_store_pb2.Execution.COMPLETE
    outputs = [e.artifact_id for e in store.get_events_by_execution_ids([gen.id])
               if e.type == metadata_store_pb2.Event.OUTPUT]
    [examples] = store.get_artifacts_by_id(outputs)
    [kind] = store.get_artifact_types_by_id([examples.type_id])
    assert kind.name == "Examples"
    assert json.loads(examples.properties["split_names"].string_value) == list(contract.SPLITS)

    # lineage: the same artifact feeds the data checks and Transform
    for node in ("StatisticsGen", "DataGate", "Transform", "Evaluator"):
        [execution] = _node_executions(store, node)
        inputs = {e.artifact_id for e in store.get_events_by_execution_ids([execution.id])
                  if e.type == metadata_store_pb2.Event.INPUT}
        assert examples.id in inputs, node

    # the same records msa-convert writes for the same file
    converted = str(os.path.join(os.path.dirname(path), "converted"))
    convert.convert("mult", path, converted)
    for split in contract.SPLITS:
        files = sorted(glob.glob(os.path.join(examples.uri, f"Split-{split}", "*.gz")))
        records = [r for f in files for r in
                   tf.data.TFRecordDataset(f, compression_type="GZIP").as_numpy_iterator()]
        assert len(records) == counts[split]
        expected = list(tf.data.TFRecordDataset(
            contract.split_path(converted, split)).as_numpy_iterator())
        assert sorted(records) == sorted(expected)
