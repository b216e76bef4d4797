"""Runs local_runner.py in a subprocess, as a user would."""

import dataclasses
import glob
import hashlib
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Small enough for a pipeline run of about a minute and a half on 2 cores.
TINY_MODEL_FLAGS = ["--train-steps", "40", "--model-dim", "16", "--num-heads", "2",
                    "--ff-dim", "32", "--layers", "1", "--batch-size", "16",
                    "--min-epochs", "0"]


@dataclasses.dataclass
class RunOutcome:
    returncode: int
    console: str
    output_dir: str
    pushed: list  # saved_model.pb paths under the serving dir right after the run


def run_local_runner(args, timeout=900) -> RunOutcome:
    """Runs local_runner.py as a user would; returns exit code and console."""
    proc = subprocess.run([sys.executable, os.path.join(REPO, "local_runner.py"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)
    out_dir = args[args.index("--output-dir") + 1] if "--output-dir" in args else ""
    pushed = sorted(glob.glob(os.path.join(out_dir, "serving_model", "*", "saved_model.pb")))
    return RunOutcome(proc.returncode, proc.stdout + proc.stderr, out_dir, pushed)

# The blessing scenario (tests/test_blessing.py, tests/test_report.py): a good
# model, a deliberately worse one, then a better one, into one output folder.
GOOD_STEPS, WORSE_STEPS, BETTER_STEPS = 40, 1, 160
# That scenario needs a model whose held-out MAE falls reliably with training
# on a few hundred segments: the text_only baseline does (measured on
# BLESSING_SEGMENTS per split, seeds 0-2: 1.25 / >=1.43 / 1.11 for the three
# runs against a constant predictor's 1.43). The default architecture
# overfits that little data (it needs ~1000 segments and ~1000 steps, see
# docs/model.md); that it learns is tested in tests/test_learnability.py and
# measured by `make bench-model`.
BLESSING_SEGMENTS = 250
BLESSING_MODEL_FLAGS = [*TINY_MODEL_FLAGS, "--architecture", "text_only"]
# The shared chain of runs (conftest ``pipeline_chain``) and the fault
# injection runs that must end like its ``better`` run. One Beam worker: the
# DirectRunner's multi_processing mode (user code imported by dotted path in
# worker processes) is run by tests/test_convert_pipeline.py's ``source_run``;
# here its worker start-ups would add ~25 s to each of ten runs.
CHAIN_FLAGS = list(BLESSING_MODEL_FLAGS)


# What TFX logs when it builds an sdist of itself for Beam's workers (a 52 MB
# folder left in /tmp per component); pipeline/cli.beam_args avoids it.
TFX_SELF_PACKAGING = "Attempting to infer TFX Python dependency"


def run_log(output_dir: str) -> str:
    with open(os.path.join(output_dir, "run.log")) as f:
        return f.read()


def latest_run_id(output_dir: str) -> str:
    """The newest pipeline run id recorded in the output dir's MLMD store."""
    from pipeline import configs, results

    runs = results.pipeline_runs(results.open_store(configs.metadata_path(output_dir)))
    return runs[0].name if runs else ""


def open_store(output_dir: str):
    """The output dir's ML Metadata store, read-only."""
    from pipeline import configs, results

    return results.open_store(configs.metadata_path(output_dir))


def execution_inputs(store, execution_id: int, key: str) -> list:
    """Ids of the artifacts an execution read through input channel ``key``."""
    from ml_metadata.proto import metadata_store_pb2

    events = [e for e in store.get_events_by_execution_ids([execution_id])
              if e.type == metadata_store_pb2.Event.INPUT
              and any(s.key == key for s in e.path.steps if s.HasField("key"))]
    return [e.artifact_id for e in events]


def trainer_executions(store) -> list:
    """Every MsaTrainer execution in the store."""
    types = {t.id: t.name for t in store.get_execution_types()}
    return [e for e in store.get_executions() if types[e.type_id].endswith("MsaTrainer")]


def file_digest(folder: str, exclude=()) -> str:
    """sha256 over a folder's relative paths and file contents (but ``exclude`` names)."""

    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            if name in exclude:
                continue
            path = os.path.join(root, name)
            h.update(os.path.relpath(path, folder).encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def serving_snapshot(output_dir: str) -> dict:
    """{entry: digest} of everything under serving_model/ (hidden entries too).

    The digest leaves out the Pusher's own manifest (``msa_push.json``), so it
    compares with the Trainer's model folder.
    """
    from components.msa_pusher import MANIFEST

    root = os.path.join(output_dir, "serving_model")
    if not os.path.isdir(root):
        return {}
    return {v: file_digest(os.path.join(root, v), exclude=(MANIFEST,))
            for v in sorted(os.listdir(root))}

# A Tuner small enough for the tests: two trials of 16 steps.
TUNE_TRIALS = 2
TUNE_FLAGS = ["--tune", "--tune-trials", str(TUNE_TRIALS), "--tune-steps", "16"]
