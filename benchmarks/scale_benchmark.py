"""How a whole local run grows with data size, up to MOSEI size.

    python -m benchmarks.scale_benchmark [--fractions 0.25 0.5 1] [--work-dir DIR]
        [--beam-workers N] [-- EXTRA local_runner FLAGS]

For each fraction F it writes the built-in MOSEI-size data cut to F of every
split (``msa-synth --size mosei --fraction F``; kept between invocations),
then runs ``local_runner.py`` on it from an empty output folder, as
``make run`` would. While the run goes, the resident memory of the runner
and every process under it (Beam workers) is sampled twice a second.

Prints, per size: the run's wall time, the peak of the summed RSS of the
process tree (and of its largest process), and per component its wall time
and the peak RSS inside its execution window (from ML Metadata). Then, per
component, a linear fit ``t = a + b * segments`` and the growth exponent
``log(t_max / t_min) / log(n_max / n_min)`` (1 = linear; fixed costs pull it
below 1). Exits 1 when a target is missed at the largest size: wall time
<= 45 min, peak RSS < 8 GB, no component of >= 10 s growing faster than
linear (exponent <= 1.15, a margin for this shared machine's noise).

Writes ``DIR/scale.json``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time

import numpy as np
import psutil

from benchmarks import pipeline_run
from msa_data import synth
from pipeline import cli, configs
from trainer import keras_choice

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GB = 1e9
WALL_TARGET_S = 45 * 60
RSS_TARGET_BYTES = 8 * GB
EXPONENT_LIMIT = 1.15
JUDGED_SECONDS = 10.0  # components shorter than this at full size are mostly fixed cost


class TreeMemory:
    """Samples the summed RSS of a process and its descendants in a thread."""

    def __init__(self, pid: int, interval: float = 0.5):
        self._root = psutil.Process(pid)
        self._interval = interval
        self.samples = []  # (unix time, summed rss, largest single rss)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            try:
                procs = [self._root] + self._root.children(recursive=True)
            except psutil.Error:
                return
            sizes = []
            for proc in procs:
                try:
                    sizes.append(proc.memory_info().rss)
                except psutil.Error:
                    pass
            if sizes:
                self.samples.append((time.time(), sum(sizes), max(sizes)))
            self._stop.wait(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self, start: float = -math.inf, end: float = math.inf):
        """Peak (summed, largest single) RSS in ``[start, end]``; for a window
        shorter than the sampling interval, the last sample before its end."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if not inside:
            inside = [s for s in self.samples if s[0] <= end][-1:]
        if not inside:
            return None, None
        return max(s[1] for s in inside), max(s[2] for s in inside)


def make_data(root: str, fraction: float) -> dict:
    """The built-in MOSEI data at ``fraction``; reused when already written."""

    floor_file = os.path.join(root, synth.NOISE_FLOOR_FILE)
    if os.path.exists(floor_file):
        with open(floor_file, encoding="utf-8") as fh:
            written = json.load(fh)
        if written.get("size") == "mosei" and written.get("fraction") == fraction:
            return {"counts": written["counts"], "seconds": None}
    start = time.perf_counter()
    result = synth.generate(root, size="mosei", seed=0, fraction=fraction, overwrite=True)
    return {"counts": result["counts"], "seconds": round(time.perf_counter() - start, 1)}


def component_windows(output_dir: str) -> dict:
    """``{component id: (start, end)}`` (unix seconds) of the run's executions."""
    from pipeline import recovery, results

    store = results.open_store(configs.metadata_path(output_dir))
    return {recovery.node_name(store, e): (e.create_time_since_epoch / 1000,
                                           e.last_update_time_since_epoch / 1000)
            for e in store.get_executions()}


def run_pipeline(runner_args: list, output_dir: str) -> dict:
    """``local_runner.py RUNNER_ARGS --output-dir OUTPUT_DIR`` from an empty folder,
    with its wall time, its process tree's peak RSS and, per component, the
    execution's wall time and peak RSS. ``started_at`` (unix seconds) and
    ``memory`` (the :class:`TreeMemory`) are kept for finer windows."""
    run = pipeline_run.launch(runner_args, output_dir, fresh=True, monitor=TreeMemory)
    memory = run.monitor
    peak_sum, peak_single = memory.peak()
    if peak_sum is None:
        raise SystemExit("benchmark: no memory sample of the run was taken")
    components = {}
    for name, (begin, end) in sorted(component_windows(output_dir).items(),
                                     key=lambda item: item[1][0]):
        window_sum, _ = memory.peak(begin, end)
        components[name] = {"seconds": round(end - begin, 1),
                            "peak_rss_gb": None if window_sum is None
                            else round(window_sum / GB, 2),
                            "window": (begin, end)}
    return {"wall_seconds": run.wall_seconds, "peak_rss_gb": round(peak_sum / GB, 2),
            "largest_process_rss_gb": round(peak_single / GB, 2), "components": components,
            "console": run.console, "started_at": run.started_at, "memory": memory}


def growth(sizes, seconds) -> dict:
    """Least-squares ``a + b n`` and the end-to-end growth exponent."""
    n, t = np.asarray(sizes, float), np.asarray(seconds, float)
    b, a = np.polyfit(n, t, 1) if len(n) > 1 else (float("nan"), float("nan"))
    ok = t[0] > 0 and t[-1] > 0 and n[-1] > n[0]
    exponent = math.log(t[-1] / t[0]) / math.log(n[-1] / n[0]) if ok else float("nan")
    return {"fixed_s": round(float(a), 1), "ms_per_segment": round(float(b) * 1000, 2),
            "exponent": round(exponent, 2)}


def report(runs: list) -> list:
    """Prints the tables; returns the targets missed at the largest size."""
    sizes = [sum(r["counts"].values()) for r in runs]
    print("\n| fraction | segments | data gen s | run wall s | peak RSS GB (tree) "
          "| largest process GB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r, n in zip(runs, sizes):
        gen = "reused" if r["data_seconds"] is None else r["data_seconds"]
        print(f"| {r['fraction']} | {n} | {gen} | {r['wall_seconds']} | {r['peak_rss_gb']} "
              f"| {r['largest_process_rss_gb']} |")
    names = [c for c in runs[-1]["components"]]
    header = " | ".join(f"{s} segs: s / GB" for s in sizes)
    print(f"\n| component | {header} | fixed s | ms/segment | exponent |")
    print("|---|" + "---:|" * (len(sizes) + 3))
    missed = []
    for name in names:
        cells = [r["components"].get(name, {}) for r in runs]
        secs = [c.get("seconds") for c in cells]
        text = " | ".join(f"{c.get('seconds', '-')} / {c.get('peak_rss_gb', '-')}" for c in cells)
        fit = growth(sizes, secs) if None not in secs and len(runs) > 1 else {}
        print(f"| {name} | {text} | {fit.get('fixed_s', '-')} | {fit.get('ms_per_segment', '-')} "
              f"| {fit.get('exponent', '-')} |")
        if fit and secs[-1] >= JUDGED_SECONDS and fit["exponent"] > EXPONENT_LIMIT:
            missed.append(f"{name} grows faster than linear (exponent {fit['exponent']})")
    last = runs[-1]
    if last["wall_seconds"] > WALL_TARGET_S:
        missed.append(f"wall {last['wall_seconds']} s > {WALL_TARGET_S} s")
    if last["peak_rss_gb"] * GB >= RSS_TARGET_BYTES:
        missed.append(f"peak RSS {last['peak_rss_gb']} GB >= {RSS_TARGET_BYTES / GB:.0f} GB")
    return missed


def main(argv=None) -> int:
    p = cli.OneLineArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    p.add_argument("--work-dir", default=os.path.join(configs.REPO_ROOT, "outputs", "scale"))
    p.add_argument("--beam-workers", type=int, default=1)
    p.add_argument("extra", nargs="*", help="more local_runner flags, after --")
    args = p.parse_args(argv)
    if any(not 0 < f <= 1 for f in args.fractions):
        p.error(f"--fractions: expected numbers in (0, 1], got {args.fractions}")
    runs = []
    for fraction in sorted(args.fractions):
        data_root = os.path.join(args.work_dir, f"data-mosei-{fraction:g}")
        data = make_data(data_root, fraction)
        print(f"fraction {fraction:g}: {sum(data['counts'].values())} segments, running ...",
              flush=True)
        result = run_pipeline(["--data-root", data_root, "--beam-workers",
                               str(args.beam_workers), *args.extra],
                              os.path.join(args.work_dir, f"run-{fraction:g}"))
        del result["memory"]
        result.update(fraction=fraction, counts=data["counts"], data_seconds=data["seconds"])
        print(f"  wall {result['wall_seconds']} s, peak RSS {result['peak_rss_gb']} GB",
              flush=True)
        runs.append(result)
    missed = report(runs)
    with open(os.path.join(args.work_dir, "scale.json"), "w", encoding="utf-8") as fh:
        json.dump({"runs": runs, "missed": missed}, fh, indent=2)
    for line in missed:
        print(f"target missed: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
