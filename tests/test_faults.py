"""Fault injection: the runner is SIGKILLed inside Transform, the Trainer, the
Evaluator and the Pusher, one after another in one output folder, and rerun
each time. The end state must be what one uninterrupted run leaves: exactly
one pushed version, complete and loadable, no RUNNING execution in ML
Metadata, and the same test metrics as the uninterrupted run with the same
seed, data and settings (the shared chain's ``better`` run, conftest
``pipeline_chain``).

Kill moments are drawn from a seeded RNG inside each component's running
time: seconds after Transform or the Evaluator starts, and right after the
Trainer's second epoch line (a checkpoint exists then, so the rerun resumes
from it; a fixed number of seconds would depend on how fast training is). The
Pusher copies for a few milliseconds, too short to hit from outside: a
``sitecustomize`` on the child's path (test-only) kills the process right
after the model's files land in the push's temporary folder, before the
rename -- the worst moment for a half-written version.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time

import tensorflow as tf

from components import msa_pusher
from pipeline import configs, recovery, results
from reporting import report
from tests.runner_util import BETTER_STEPS, CHAIN_FLAGS, REPO

KILL_IN_PUSH = """
import os, signal
from tfx.utils import io_utils
_copy = io_utils.copy_dir
def _copy_then_die(src, dst, *args, **kwargs):
    _copy(src, dst, *args, **kwargs)
    if "/.tmp-" in dst:
        os.kill(os.getpid(), signal.SIGKILL)
io_utils.copy_dir = _copy_then_die
"""

# component -> (console line that starts the clock, seconds after it: low, high)
KILL_WINDOWS = {
    "Transform": (re.compile(r"^\s*Transform\s+running"), 3.0, 12.0),
    "Trainer": (re.compile(r"^\s*epoch\s+2/"), 0.0, 0.2),
    "Evaluator": (re.compile(r"^\s*Evaluator\s+running"), 1.0, 4.0),
}


def _flags():
    flags = list(CHAIN_FLAGS)
    flags[flags.index("--train-steps") + 1] = str(BETTER_STEPS)
    return flags


def _run(args, kill_at=None, delay=0.0, env=None):
    """Runs local_runner; SIGKILLs its group ``delay`` s after a line matches ``kill_at``."""
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "local_runner.py"), *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, env=env)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if kill_at and kill_at.search(line):
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGKILL)
            break
    rest = proc.communicate(timeout=900)[0]
    return proc.returncode, "".join(lines) + (rest or "")


def test_sigkill_in_each_component_then_rerun_ends_like_an_uninterrupted_run(
        blessing_data, pipeline_chain, tmp_path):
    out = str(tmp_path / "out")
    args = ["--data-root", blessing_data, "--output-dir", out, *_flags()]
    rng = random.Random(0)
    faults = recovered = 0
    consoles = {}
    for component, (kill_at, low, high) in KILL_WINDOWS.items():
        code, console = _run(args, kill_at, rng.uniform(low, high))
        assert code == -signal.SIGKILL, console
        assert "finished in" not in console, f"the run ended before {component} was killed"
        consoles[component] = console
        faults += 1
    # the run after the Trainer's kill picked its training up from a checkpoint
    assert "resuming from epoch" in consoles["Evaluator"], consoles["Evaluator"]
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_IN_PUSH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(hook), REPO, os.environ.get("PYTHONPATH", "")]), "TF_USE_LEGACY_KERAS": "1"}
    code, console = _run(args, env=env)
    assert code == -signal.SIGKILL, console
    faults += 1
    leftovers = os.listdir(configs.serving_dir(out))
    assert leftovers and all(n.startswith(msa_pusher.TMP_PREFIX) for n in leftovers), leftovers

    code, console = _run(args)
    assert code == 0, console
    assert "stopped before it finished" in console  # the last kill was noticed
    recovered = faults  # every interrupted run's work was picked up by a later one

    # exactly one complete, loadable version; no temporary left behind
    serving = configs.serving_dir(out)
    assert msa_pusher.versions(serving) and len(os.listdir(serving)) == 1, os.listdir(serving)
    version = os.path.join(serving, os.listdir(serving)[0])
    assert msa_pusher.read_manifest(version)["digest"]
    assert "serving_default" in tf.saved_model.load(version).signatures
    # ML Metadata: nothing left RUNNING
    assert recovery.running_executions(configs.metadata_path(out)) == []
    # the same test metrics as the uninterrupted run with the same settings
    outcome, run_id, _ = pipeline_chain["better"]
    clean = report.read_slices(results.run_evaluation(
        configs.metadata_path(outcome.output_dir), run_id).evaluation_uri)
    faulty = report.read_slices(results.run_evaluation(configs.metadata_path(out))
                                .evaluation_uri)
    clean_overall = next(r for r in clean if not r.key).candidate
    faulty_overall = next(r for r in faulty if not r.key).candidate
    for metric in ("mae", "corr", "acc2_non0", "acc7"):
        assert abs(clean_overall[metric] - faulty_overall[metric]) < 1e-4, metric
    print(f"\nfault injection: {faults} faults injected (SIGKILL in "
          f"{', '.join(KILL_WINDOWS)}, Pusher), {recovered} runs recovered; final MAE "
          f"{faulty_overall['mae']:.4f} vs uninterrupted {clean_overall['mae']:.4f}")
