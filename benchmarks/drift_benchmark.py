"""What the drift check costs a run: the same span with and without it, side by side.

    python -m benchmarks.drift_benchmark [--repeats 3] [--train-steps N] [--data DIR]

The built-in MOSI data is written as two spans (``msa-synth --spans 2``).
Each repeat runs both, one right after the other (alternating which goes
first), on fresh output folders:

* ``plain``: ``--data-root DIR/span-2`` (a contract folder: no drift gate);
* ``spans``: ``--data-root DIR --span 2 --no-warm-start`` (the same files,
  read as span 2 of a data root of spans: the DriftGate compares them with
  span 1 before Transform).

Everything else is equal (no warm start, the same settings and data), so the
difference is the drift check: the DriftGate component, the span lookup and
the records. It prints each run's pipeline time (the runner's ``finished
in``) and DriftGate time, the medians side by side (per component too, so
a difference can be put where it arose), and the overhead; it
exits 1 when the median overhead is above 10% (the goal, docs/operations.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from benchmarks.pipeline_run import launch
from msa_data import contract
from pipeline import configs

GOAL = 0.10


def _median(runs, name) -> float:
    values = [run[name] for run in runs if name in run]
    return statistics.median(values) if values else 0.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=configs.TRAIN_STEPS)
    p.add_argument("--data", default=os.path.join(configs.REPO_ROOT, "data", "bench-spans"))
    p.add_argument("--output-dir", default=os.path.join(configs.REPO_ROOT, "outputs",
                                                         "bench-drift"))
    args = p.parse_args(argv)
    if contract.missing_splits(contract.span_dir(args.data, 2)):
        from msa_data import synth

        print(f"writing the built-in MOSI data as 2 spans in {args.data}", flush=True)
        synth.generate_spans(args.data, 2, overwrite=True)
    common = ["--train-steps", str(args.train_steps), "--no-cache"]
    kinds = {"plain": ["--data-root", contract.span_dir(args.data, 2)],
             "spans": ["--data-root", args.data, "--span", "2", "--no-warm-start"]}
    times = {k: [] for k in kinds}
    parts = {k: [] for k in kinds}  # component seconds per run
    gate = []
    for repeat in range(args.repeats):
        order = list(kinds) if repeat % 2 == 0 else list(reversed(kinds))  # neither always first
        for kind in order:
            flags = kinds[kind]
            run = launch([*flags, *common], os.path.join(args.output_dir, kind), fresh=True)
            times[kind].append(run.pipeline_seconds())
            parts[kind].append(run.component_seconds())
            if kind == "spans":
                gate.append(run.component_seconds().get("DriftGate", float("nan")))
            print(f"repeat {repeat + 1} {kind:5s} pipeline {run.pipeline_seconds():6.0f} s"
                  + (f"  DriftGate {gate[-1]:.1f} s" if kind == "spans" else ""), flush=True)
    names = sorted({n for k in kinds for run in parts[k] for n in run})
    print("median seconds per component (plain | spans): " + ", ".join(
        f"{n} {_median(parts['plain'], n):.1f} | {_median(parts['spans'], n):.1f}"
        for n in names))
    plain, spans = (statistics.median(times[k]) for k in kinds)
    overhead = (spans - plain) / plain
    print(f"median pipeline: plain {plain:.0f} s, spans {spans:.0f} s "
          f"(difference {spans - plain:+.0f} s, {100 * overhead:+.1f}%); DriftGate median "
          f"{statistics.median(gate):.1f} s = {100 * statistics.median(gate) / plain:.1f}% of "
          f"the plain run; goal: at most {100 * GOAL:.0f}%")
    return 0 if overhead <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
