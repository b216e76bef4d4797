"""benchmarks/gpu_check.sh in its short mode, on this CPU-only host.

The script is meant for a GPU host (its figures are in docs/benchmarks.md
when one was available); here it must still run end to end: the set-up step,
every policy with and without XLA, and the export check (a model trained under
mixed_float16, its float32 export scored by a process that sees no GPU).
"""

from __future__ import annotations

import json
import math
import os
import subprocess

import pytest

from benchmarks import gpu_check
from tests.runner_util import REPO


@pytest.mark.slow  # trains six small models and runs tf.Transform
def test_short_mode_runs_every_setting_and_the_export_check(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run([os.path.join(REPO, "benchmarks", "gpu_check.sh"), "--short",
                           "--work-dir", str(tmp_path / "work"), "--output", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["short"] is True
    rows = result["throughput"]
    assert [(r["policy"], r["xla"]) for r in rows] == [
        (p, x) for p in gpu_check.POLICIES for x in ("off", "on")]
    # every setting runs on a CPU too (the script records an error instead of a time
    # only where a device refuses a setting)
    failed = [(r["policy"], r["xla"], r["error"]) for r in rows if "error" in r]
    assert not failed, failed
    assert all(r["ms_per_step"] > 0 and r["examples_per_s"] > 0 for r in rows), rows
    assert rows[0]["vs_float32"] == 1.0
    check = result["export_check"]
    assert check["ok"] and check["policy"] == "mixed_float16"
    assert math.isfinite(check["max_abs_diff"]) and check["max_abs_diff"] <= check["tolerance"]
    assert check["score_std"] > 0  # a model that scores examples differently, not a constant
    for line in ("policy", "mixed_bfloat16", "export check:", "gpu_check:"):
        assert line in proc.stdout, proc.stdout
