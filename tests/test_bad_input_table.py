"""The bad-input table: every refused input, as a user meets it, one row each.

Each row builds its input for real (TFRecords, FIFOs, folders, MLMD stores),
runs ``local_runner.py`` or ``msa-report`` in a subprocess and asserts what
the operator's guide promises: the exit code, exactly one ``error:`` line
(or the documented ``warning:`` line) naming the file, flag or splits, no
traceback, nothing pushed, and no folder where none may be created. A new
refusal is a new row, so the list can only grow.

Every runner row stops before TFX starts (flag checks, the output-folder
check, the data preflight), so the table costs seconds. One row runs the
pipeline: a Trainer whose training diverges, which must fail in the
Trainer, be recorded FAILED in ML Metadata (never reused by the cache) and
carry the overlap that ``--allow-overlap`` let through.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import subprocess
import sys
from typing import Callable, List, Tuple

import pytest

from msa_data import synth
from tests import bad_inputs
from tests.runner_util import REPO, TINY_MODEL_FLAGS, open_store, run_local_runner

# Seconds a refused run may take; a FIFO read would hang forever.
REFUSAL_TIMEOUT = 30


# Session scope: every row is a test of its own that xdist may place between other
# modules' tests, and a module fixture would be rebuilt (~3 s) at each switch.
@pytest.fixture(scope="session")
def good_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("table_good"))
    synth.generate(root, size="mosi", seed=0, limit_per_split=6, overwrite=True)
    return root


@dataclasses.dataclass(frozen=True)
class Row:
    """One bad input: how to make it, the flags, and what the one line must say."""

    name: str
    make: Callable[[str, str], None]
    flags: Tuple[str, ...]
    code: int
    names: Tuple[str, ...]  # fragments of the one line ({data}, {out} and {tmp} filled in)
    kind: str = "error"  # or "warning": the run goes on past the check
    output_dir: str = "{tmp}/out"
    must_not_exist: Tuple[str, ...] = ()


RUNNER_ROWS: List[Row] = [
    # flags, checked before the output folder exists
    Row("beam-workers-0", bad_inputs.nothing, ("--beam-workers", "0"), 2, ("--beam-workers",),
        must_not_exist=("{out}",)),
    Row("train-steps-0", bad_inputs.nothing, ("--train-steps", "0"), 2, ("--train-steps",),
        must_not_exist=("{out}",)),
    Row("bad-choice", bad_inputs.nothing, ("--mixed-precision", "float64"), 2, ("--mixed-precision",),
        must_not_exist=("{out}",)),
    Row("bad-setting", bad_inputs.nothing, ("--weight-decay", "-0.1"), 2, ("--weight-decay",),
        must_not_exist=("{out}",)),
    Row("tune-trials-without-tune", bad_inputs.nothing, ("--tune-trials", "3"), 2,
        ("--tune-trials", "--tune"), must_not_exist=("{out}",)),
    Row("tune-steps-without-tune", bad_inputs.nothing, ("--tune-steps", "10"), 2,
        ("--tune-steps", "--tune"), must_not_exist=("{out}",)),
    # where the output folder goes, checked before it is created
    Row("output-named-like-a-split", bad_inputs.nothing, (), 2,
        ("--output-dir", "train.tfrecord-outputs", "'train.tfrecord*'"),
        output_dir="{data}/train.tfrecord-outputs", must_not_exist=("{out}",)),
    Row("output-inside-data-root", bad_inputs.nothing, (), 2, ("--output-dir", "inside the data root"),
        output_dir="{data}/runs/out", must_not_exist=("{data}/runs",)),
    Row("output-named-like-a-split-elsewhere", bad_inputs.nothing, (), 2,
        ("--output-dir", "'valid.tfrecord*'"), output_dir="{tmp}/valid.tfrecord",
        must_not_exist=("{out}",)),
    # the data root and its files, checked before TFX is imported
    Row("missing-data-root", bad_inputs.remove_data_root, (), 2, ("--data-root", "{data}", "no such folder")),
    Row("missing-split", bad_inputs.remove_test_split, (), 2, ("--data-root", "['test']")),
    Row("empty-split", bad_inputs.empty_valid_split, (), 2, ("split 'valid' has no examples",)),
    Row("truncated-split", bad_inputs.truncate_train, (), 2,
        ("{data}/train.tfrecord", "truncated or corrupt")),
    Row("stray-tmp-file", bad_inputs.stray_tmp_file, (), 2, ("{data}/train.tfrecord.tmp",)),
    Row("missing-feature", bad_inputs.drop_label_feature, (), 2,
        ("{data}/train.tfrecord", "missing required feature 'label'")),
    Row("nan-label", bad_inputs.label_set_to(float("nan")), (), 2,
        ("{data}/train.tfrecord", "feature 'label' is nan", "split 'train'")),
    Row("label-out-of-range", bad_inputs.label_set_to(4.5), (), 2,
        ("{data}/train.tfrecord", "feature 'label' is 4.5", "[-3, 3]")),
    Row("len-times-dim", bad_inputs.drop_one_audio_value, (), 2,
        ("in {data}/train.tfrecord:", "feature 'audio'", "audio_len x dim")),
    Row("text-dim-mismatch", bad_inputs.nothing, ("--text-dim", "768"), 2,
        ("in {data}/train.tfrecord:", "feature 'text'", "text_len x dim", "--text-dim")),
    Row("fifo-split", bad_inputs.fifo_test_split, (), 2, ("{data}/test.tfrecord", "FIFO")),
    Row("folder-matching-a-split", bad_inputs.folder_matching_valid, (), 2,
        ("{data}/valid.tfrecord-outputs", "is a folder")),
    Row("socket-matching-a-split", bad_inputs.socket_matching_train, (), 2,
        ("{data}/train.tfrecord.sock", "is a socket")),
    # a data root of spans (pipeline/spans.py) and the span flags
    Row("span-gap", bad_inputs.spans_with_a_gap, (), 2,
        ("--data-root {data}", "span-2 is missing", "span-1 ... span-3")),
    Row("span-missing-a-split", bad_inputs.span_missing_test_split, (), 2,
        ("--data-root {data}/span-2", "['test']", "every span folder")),
    Row("split-files-and-spans", bad_inputs.split_files_and_spans, (), 2,
        ("--data-root {data}", "both split files and span folders")),
    Row("span-window-too-large", bad_inputs.two_spans, ("--span-window", "3"), 2,
        ("--span-window 3", "expected 1..2")),
    Row("span-out-of-range", bad_inputs.two_spans, ("--span", "5"), 2,
        ("--span 5", "expected a span in 1..2")),
    Row("allow-drift-without-spans", bad_inputs.nothing, ("--allow-drift",), 2,
        ("--allow-drift", "span folders", "{data}")),
    Row("bad-drift-threshold", bad_inputs.nothing, ("--drift-threshold", "video=2"), 2,
        ("--drift-threshold video=2", "X in [0, 1]"), must_not_exist=("{out}",)),
    Row("serving-data-without-requests", bad_inputs.nothing, ("--serving-data", "{tmp}"), 2,
        ("--serving-data {tmp}", "no *.tfrecord* file")),
    # leakage between splits
    Row("test-copies-train", bad_inputs.test_split_copies_train, (), 2,
        ("train/test share 6 segment ids", "6 feature contents", "--allow-overlap")),
    Row("renamed-copy", bad_inputs.valid_renamed_copy_of_train, (), 2,
        ("train/valid share 6 feature contents",)),
    Row("shared-speaker", bad_inputs.valid_shares_a_train_speaker, (), 2,
        ("train/valid share 1 videos",)),
]


def _fill(text, data, tmp, out):
    return text.format(data=data, tmp=tmp, out=out)


@pytest.mark.parametrize("row", RUNNER_ROWS, ids=lambda r: r.name)
def test_runner_refuses_in_one_line(row, good_root, tmp_path):
    tmp = str(tmp_path)
    data = os.path.join(tmp, "data")
    shutil.copytree(good_root, data)
    row.make(data, tmp)
    out = _fill(row.output_dir, data, tmp, "")
    outcome = run_local_runner(["--data-root", data, "--output-dir", out, *TINY_MODEL_FLAGS,
                                *(_fill(f, data, tmp, out) for f in row.flags)],
                               timeout=REFUSAL_TIMEOUT)
    console = outcome.console
    assert outcome.returncode == row.code, console
    lines = [ln for ln in console.splitlines() if f"{row.kind}:" in ln]
    assert len(lines) == 1, console
    for fragment in row.names:
        assert _fill(fragment, data, tmp, out) in lines[0], lines[0]
    assert "Traceback" not in console
    assert outcome.pushed == []
    assert not os.path.exists(os.path.join(out, "pipeline_root")), "the pipeline started"
    for path in row.must_not_exist:
        assert not os.path.exists(_fill(path, data, tmp, out)), path


def test_output_dir_equal_to_the_data_root_is_a_warning(good_root, tmp_path):
    """Allowed (only split files are read there), said in one line, the check goes on."""
    data = str(tmp_path / "data")
    shutil.copytree(good_root, data)
    bad_inputs.test_split_copies_train(data, str(tmp_path))  # stops the run at the data check, cheaply
    outcome = run_local_runner(["--data-root", data, "--output-dir", data],
                               timeout=REFUSAL_TIMEOUT)
    warnings = [ln for ln in outcome.console.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "--output-dir is the data root" in warnings[0], \
        outcome.console
    assert "share 6 segment ids" in outcome.console and outcome.returncode == 2


def test_the_report_hint_copy_pastes_with_spaces_in_the_path():
    import shlex

    from pipeline import local_run

    path = "/tmp/my runs/it's here"
    assert shlex.split(local_run.report_command(path)) == ["msa-report", "--output-dir", path]


# --- msa-report: a store it cannot use is one line, and nothing is written ---

REPORT_ROWS = [
    ("no-store", lambda out: None, ("no ML Metadata store", "metadata.sqlite")),
    ("zero-bytes", bad_inputs.zero_bytes, ("metadata.sqlite", "empty (0 bytes)")),
    ("not-sqlite", bad_inputs.not_sqlite, ("metadata.sqlite", "not an SQLite database")),
    ("not-mlmd", bad_inputs.plain_sqlite, ("metadata.sqlite", "without ML Metadata tables")),
    ("no-run", bad_inputs.empty_mlmd, ("metadata.sqlite", "no pipeline run recorded")),
    ("other-pipeline", bad_inputs.other_pipeline, ("someone-elses-pipeline", "not msa-seq-level")),
]


def _report(args, timeout=60):
    proc = subprocess.run([sys.executable, "-m", "reporting.report", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def _assert_one_report_error(code, console, fragments):
    assert code == 1, console
    lines = [ln for ln in console.splitlines() if "error:" in ln]
    assert len(lines) == 1, console
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in console


@pytest.mark.parametrize("name, make, fragments", REPORT_ROWS, ids=[r[0] for r in REPORT_ROWS])
def test_report_refuses_a_store_in_one_line_and_writes_nothing(tmp_path, name, make,
                                                               fragments):
    out = tmp_path / "out with space"
    out.mkdir()
    make(str(out))
    before = sorted(os.listdir(out))
    sizes = {n: os.path.getsize(out / n) for n in before}
    code, console = _report(["--output-dir", str(out)])
    _assert_one_report_error(code, console, fragments)
    assert sorted(os.listdir(out)) == before  # no report.log, no report/
    assert {n: os.path.getsize(out / n) for n in before} == sizes


def test_report_on_a_locked_store_is_one_line(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    bad_inputs.empty_mlmd(str(out))
    writer = sqlite3.connect(str(out / "metadata.sqlite"), isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")  # a writer in the middle of a transaction
        code, console = _report(["--output-dir", str(out)])
    finally:
        writer.close()
    _assert_one_report_error(code, console, ("metadata.sqlite", "locked"))
    assert not (out / "report.log").exists()


# --- the one pipeline run: training diverges, with an overlap let through ---

@pytest.mark.slow  # runs the pipeline up to the Trainer
def test_a_diverging_trainer_fails_there_and_is_never_cached(good_root, tmp_path):
    from ml_metadata.proto import metadata_store_pb2

    from pipeline import results
    from tests.runner_util import trainer_executions

    data, out = str(tmp_path / "data"), str(tmp_path / "out")
    shutil.copytree(good_root, data)
    bad_inputs.test_split_copies_train(data, str(tmp_path))
    outcome = run_local_runner(["--data-root", data, "--output-dir", out, *TINY_MODEL_FLAGS,
                                "--learning-rate", "1e30", "--allow-overlap"])
    console = outcome.console
    assert outcome.returncode == 1, console
    warnings = [ln for ln in console.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "train/test share 6 segment ids" in warnings[0], console
    errors = [ln for ln in console.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "Trainer: training diverged" in errors[0], console
    assert "Traceback" not in console and outcome.pushed == []
    assert "Evaluator" not in console  # it failed in the Trainer, not later
    store = open_store(out)
    (trainer,) = trainer_executions(store)
    # FAILED: TFX's cache reuses only COMPLETE or CACHED executions
    # (tfx/orchestration/portable/cache_utils.py, execution_lib.is_execution_successful)
    assert trainer.last_known_state == metadata_store_pb2.Execution.FAILED
    assert not store.get_artifacts_by_type("Model") or all(
        a.state != metadata_store_pb2.Artifact.LIVE for a in store.get_artifacts_by_type("Model"))
    (run,) = results.pipeline_runs(store)
    assert "train/test share 6 segment ids" in run.custom_properties[
        results.DATA_OVERLAP].string_value
    # the report on a run without an evaluation is one line too
    code, report_console = _report(["--output-dir", out, "--no-predictions"], timeout=300)
    _assert_one_report_error(code, report_console, ("no Evaluator output",))
