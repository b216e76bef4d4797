"""Runs local_runner.py in a subprocess, as a user would."""

import dataclasses
import glob
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Small enough for a pipeline run of about a minute and a half on 2 cores.
TINY_MODEL_FLAGS = ["--train-steps", "40", "--model-dim", "16", "--num-heads", "2",
                    "--ff-dim", "32", "--layers", "1", "--batch-size", "16"]


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
