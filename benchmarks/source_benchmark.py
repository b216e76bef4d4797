"""Memory of ``--source mult:`` on a MOSEI-size pickle, against the file's size.

    python -m benchmarks.source_benchmark [--work-dir DIR] [--size mosi|mosei]

1. Writes a MulT pickle of the size (``tests/convert_fixtures.py``, random
   features; kept between invocations) in a child process.
2. Side by side, each in a fresh child: opening the file's reader in full
   (the whole pickle loaded) and structure-only (what ``--source`` does up
   front to learn dims and counts), with wall time and peak RSS.
3. ``local_runner.py --source mult:FILE`` with a short training budget,
   its process tree's RSS sampled (benchmarks/scale_benchmark.py): the peak
   before the first component (the up-front check) and inside
   ConvertedExampleGen, each over the file's size. Target: <= 2x.

Exits 1 when a target is missed; writes ``DIR/source.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks.scale_benchmark import GB, run_pipeline
from pipeline import cli, configs
from trainer import keras_choice

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RATIO_TARGET = 2.0
_OPEN = ("import sys, time; from msa_data.readers import make_reader; t = time.perf_counter(); "
         "r = make_reader('mult', sys.argv[1], structure_only=sys.argv[2] == '1').open(); "
         "print(time.perf_counter() - t)")


def write_pickle(folder: str, size: str) -> str:
    """The convert benchmark's MulT fixture of ``size`` in ``folder`` (kept when
    there); written by a child, so this process stays small for ``ru_maxrss``."""
    name = "mosi_data.pkl" if size == "mosi" else "mosei_senti_data.pkl"
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        staging = tempfile.mkdtemp(prefix=".pickle-", dir=folder)
        code = ("import sys; from benchmarks.convert_benchmark import make_fixture; "
                "print(make_fixture('mult', sys.argv[1], sys.argv[2]))")
        written = subprocess.run([sys.executable, "-c", code, size, staging], check=True,
                                 cwd=configs.REPO_ROOT, capture_output=True, text=True)
        os.replace(written.stdout.strip().splitlines()[-1], path)
        shutil.rmtree(staging)
    return path


def open_in_child(path: str, structure_only: bool) -> dict:
    """Wall time of ``open()`` and the child's peak RSS (``ru_maxrss``)."""
    proc = subprocess.Popen([sys.executable, "-c", _OPEN, path, "1" if structure_only else "0"],
                            stdout=subprocess.PIPE, text=True, cwd=configs.REPO_ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"source benchmark: opening {path} failed")
    return {"open_seconds": round(float(out.strip().splitlines()[-1]), 2),
            "peak_rss_gb": round(usage.ru_maxrss * 1024 / GB, 2)}


def main(argv=None) -> int:
    p = cli.OneLineArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work-dir", default=os.path.join(configs.REPO_ROOT, "outputs", "source"))
    p.add_argument("--size", choices=("mosi", "mosei"), default="mosei")
    p.add_argument("--train-steps", type=int, default=20)
    args = p.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    start = time.perf_counter()
    path = write_pickle(args.work_dir, args.size)
    file_gb = os.path.getsize(path) / GB
    print(f"{path}: {file_gb:.2f} GB (ready in {time.perf_counter() - start:.0f} s)", flush=True)

    opens = {"full": open_in_child(path, False), "structure_only": open_in_child(path, True)}
    run = run_pipeline(["--source", f"mult:{path}", "--train-steps", str(args.train_steps)],
                       os.path.join(args.work_dir, "run"))
    memory, gen = run.pop("memory"), run["components"]["ConvertedExampleGen"]
    first_start = min(c["window"][0] for c in run["components"].values())
    up_front, _ = memory.peak(run["started_at"], first_start)
    if up_front is None or gen["peak_rss_gb"] is None:
        raise SystemExit("source benchmark: no memory sample before or inside ConvertedExampleGen")
    phases = {"up-front check (before any component)": up_front / GB,
              "ConvertedExampleGen": gen["peak_rss_gb"]}

    print("\n| reader open | wall s | peak RSS GB | RSS / file |")
    print("|---|---:|---:|---:|")
    for name, row in opens.items():
        print(f"| {name} | {row['open_seconds']} | {row['peak_rss_gb']} "
              f"| {row['peak_rss_gb'] / file_gb:.2f} |")
    print(f"\n| --source run (file {file_gb:.2f} GB) | peak RSS GB | RSS / file |")
    print("|---|---:|---:|")
    for name, value in phases.items():
        print(f"| {name} | {value:.2f} | {value / file_gb:.2f} |")
    print(f"| whole run ({run['wall_seconds']} s, {args.train_steps} train steps) "
          f"| {run['peak_rss_gb']:.2f} | {run['peak_rss_gb'] / file_gb:.2f} |")
    print(f"ConvertedExampleGen took {gen['seconds']} s")

    missed = [f"{name}: {value / file_gb:.2f}x the file > {RATIO_TARGET}x"
              for name, value in phases.items() if value / file_gb > RATIO_TARGET]
    for line in missed:
        print(f"target missed: {line}")
    for c in run["components"].values():
        c.pop("window")
    with open(os.path.join(args.work_dir, "source.json"), "w", encoding="utf-8") as fh:
        json.dump({"file_gb": file_gb, "opens": opens, "phases": phases, "run": run,
                   "missed": missed}, fh, indent=2)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
