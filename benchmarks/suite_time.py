"""The test suite's time against a ``make run``'s, measured side by side in one invocation.

    python -m benchmarks.suite_time [--workers N] [--work-dir DIR] [--max-ratio 4]

1. ``make run``'s pipeline on the built-in data (generated first if
   missing, not timed) from an empty output folder: the runner's own
   "finished in N s";
2. ``make test``'s pytest (``pytest tests -n N``), wall time, with the
   summed test time of its slowest modules;
3. the pipeline again.

Prints the figures and the suite's ratio to the mean of the two pipeline
runs (the machine is shared and its speed drifts: one pipeline before the
suite and one after bracket it); exits 1 when the ratio is above
``--max-ratio`` (the goal: 4).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from benchmarks import pipeline_run
from pipeline import configs

DURATION = re.compile(r"^\s*([\d.]+)s (setup|call|teardown)\s+(\S+)", re.M)


def pipeline_seconds(output_dir: str) -> float:
    data = configs.DEFAULT_DATA_ROOT
    if not os.path.isdir(data):
        subprocess.run([sys.executable, "-m", "msa_data.synth_cli", "--output", data], check=True,
                       cwd=configs.REPO_ROOT, capture_output=True)
    return pipeline_run.launch([], output_dir).pipeline_seconds()


def seconds_by_module(pytest_output: str) -> dict:
    """Summed setup, call and teardown seconds per test module, from --durations=0."""
    units: dict = {}
    for seconds, _, nodeid in DURATION.findall(pytest_output):
        module = nodeid.split("::", 1)[0]
        units[module] = round(units.get(module, 0.0) + float(seconds), 2)
    return units


def suite_seconds(workers: int) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests", "-n", str(workers),
                           "-q", "-p", "no:cacheprovider", "--durations=0"],
                          cwd=configs.REPO_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"suite_time: the test suite failed:\n{proc.stdout[-4000:]}")
    units = seconds_by_module(proc.stdout)
    return {"wall_seconds": round(wall, 1), "summed_test_seconds": round(sum(units.values()), 1),
            "slowest_modules": dict(sorted(units.items(), key=lambda kv: -kv[1])[:10]),
            "summary": proc.stdout.strip().splitlines()[-1]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=int(os.environ.get("TEST_WORKERS", "2")))
    p.add_argument("--work-dir", help="where the pipeline run writes (default: a temp folder)")
    p.add_argument("--max-ratio", type=float, default=4.0)
    p.add_argument("--output", help="also write the figures as JSON here")
    args = p.parse_args(argv)
    work = args.work_dir or tempfile.mkdtemp(prefix="suite_time_")
    before = pipeline_seconds(os.path.join(work, "before"))
    print(f"make run's pipeline, before: {before:.0f} s", flush=True)
    suite = suite_seconds(args.workers)
    after = pipeline_seconds(os.path.join(work, "after"))
    pipeline = (before + after) / 2
    print(f"make run's pipeline, after: {after:.0f} s (mean {pipeline:.0f} s)")
    ratio = suite["wall_seconds"] / pipeline
    print(f"make test's suite ({args.workers} workers): {suite['wall_seconds']:.0f} s "
          f"({suite['summary']}); summed test time {suite['summed_test_seconds']:.0f} s")
    for module, seconds in suite["slowest_modules"].items():
        print(f"  {seconds:7.1f} s  {module}")
    print(f"ratio: {ratio:.2f} (goal <= {args.max_ratio:g})")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"pipeline_seconds": [before, after], **suite, "ratio": round(ratio, 2)},
                      f, indent=2)
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
