"""msa-convert speed and memory on MOSI- and MOSEI-size inputs of every layout.

    python -m benchmarks.convert_benchmark [--sizes mosi,mosei]
        [--formats mult,mmsa,sdk,msa-h5] [--workdir DIR] [--json PATH]

For each size and format it writes a fixture of that size in a temporary
folder (``tests/convert_fixtures.py``, random features, real fold videos),
then runs ``python -m msa_data.convert`` on it in a child process and
measures its wall time and peak RSS (``os.wait4``'s ``ru_maxrss`` of that
child). Fixtures are written by a separate child too: Linux carries the
parent's RSS high-water mark into a child's ``ru_maxrss`` across fork/exec,
so the measuring process stays small. Segments/s counts the whole command: interpreter start,
TensorFlow import, loading and writing. The fixed cost of a process that
only imports the converter and TensorFlow is measured as the baseline.

Sizes (segments train/valid/test): mosi 1284/229/686, mosei 16326/1871/4659;
``sdk`` uses every fold video with ~23.5 (MOSI) / ~7 (MOSEI) segments per
video, COVAREP at 100 Hz, FACET at 30 Hz and 2.5 words/s.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from msa_data.convert_report import REPORT_FILE, input_bytes
from msa_data.synth_plan import standard_folds
from tests import convert_fixtures as fx
from trainer import keras_choice

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNTS = {"mosi": fx.MOSI_COUNTS, "mosei": fx.MOSEI_COUNTS}
SDK_SEGMENTS_PER_VIDEO = {"mosi": (20, 27), "mosei": (5, 9)}


def make_fixture(fmt: str, size: str, folder: str) -> str:
    """Writes one fixture; returns the path to convert."""
    counts = COUNTS[size]
    if fmt == "mult":
        path = os.path.join(folder, "mosi_data.pkl" if size == "mosi" else "mosei_senti_data.pkl")
        fx.write_mult(path, size, counts=counts, specials=False, expected=False)
    elif fmt == "mmsa":
        path = os.path.join(folder, size.upper(), "aligned_50.pkl")
        os.makedirs(os.path.dirname(path))
        fx.write_mmsa(path, size, counts=counts, specials=False, expected=False)
    elif fmt == "msa-h5":
        path = os.path.join(folder, f"{size}_h5")
        fx.write_msa_h5(path, counts=counts, specials=False, expected=False, dataset=size)
    else:
        path = os.path.join(folder, f"{size}_csd")
        videos = {s: len(v) for s, v in standard_folds()[size].items()}
        fx.write_sdk(path, size, videos_per_split=videos,
                     segments_per_video=SDK_SEGMENTS_PER_VIDEO[size], expected=False,
                     audio_hz=100.0, video_hz=30.0, extra_files=False, stray_video=False)
    gc.collect()
    return path


def measure(cmd) -> dict:
    """Wall time, exit code and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return {"seconds": wall, "peak_rss_mib": usage.ru_maxrss / 1024.0}


def run_one(fmt: str, size: str, workdir: str) -> dict:
    folder = tempfile.mkdtemp(prefix=f"{fmt}-{size}-", dir=workdir)
    try:
        start = time.perf_counter()
        made = subprocess.run([sys.executable, "-m", "benchmarks.convert_benchmark",
                               "--make-fixture", fmt, size, folder],
                              cwd=REPO, capture_output=True, text=True)
        if made.returncode != 0:
            raise SystemExit(f"fixture {fmt} {size} failed:\n{made.stderr[-2000:]}")
        path = made.stdout.strip().splitlines()[-1]
        generated = time.perf_counter() - start
        out = os.path.join(folder, "converted")
        cmd = [sys.executable, "-m", "msa_data.convert", "--format", fmt, "--input", path,
               "--output", out, "--no-progress"]
        result = measure(cmd)
        with open(os.path.join(out, REPORT_FILE)) as fh:
            report = json.load(fh)
        size_mib = input_bytes(path) / 2**20
        return {"format": fmt, "size": size, "segments": report["total"],
                "input_mib": round(size_mib, 1), "seconds": round(result["seconds"], 1),
                "segments_per_s": round(report["total"] / result["seconds"], 1),
                "peak_rss_mib": round(result["peak_rss_mib"], 1),
                "rss_over_input": round(result["peak_rss_mib"] / size_mib, 2),
                "dims": report["dims"], "fixture_seconds": round(generated, 1)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def baseline() -> dict:
    """The fixed cost: a process that imports the converter and TensorFlow."""
    return measure([sys.executable, "-c", "import msa_data.convert, tensorflow"])


def table(rows, base) -> str:
    lines = ["| format | size | segments | input MiB | wall s | segments/s | segments/s "
             "after startup | peak RSS MiB | RSS / input |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        net = r["segments"] / max(r["seconds"] - base["seconds"], 0.1)
        lines.append(f"| {r['format']} | {r['size']} | {r['segments']} | {r['input_mib']} "
                     f"| {r['seconds']} | {r['segments_per_s']} | {net:.0f} "
                     f"| {r['peak_rss_mib']} | {r['rss_over_input']} |")
    lines.append(f"\nbaseline (python + msa_data.convert + tensorflow import): "
                 f"{base['peak_rss_mib']:.0f} MiB RSS, {base['seconds']:.1f} s")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="mosi,mosei")
    p.add_argument("--formats", default="mult,mmsa,sdk,msa-h5")
    p.add_argument("--workdir", default=None, help="where fixtures go (default: a temp dir)")
    p.add_argument("--json", default=None, help="also write the rows here")
    p.add_argument("--make-fixture", nargs=3, metavar=("FORMAT", "SIZE", "FOLDER"),
                   help=argparse.SUPPRESS)  # internal: write one fixture, print its path
    args = p.parse_args(argv)
    if args.make_fixture:
        print(make_fixture(*args.make_fixture))
        return 0
    workdir = args.workdir or tempfile.mkdtemp(prefix="convert-bench-")
    os.makedirs(workdir, exist_ok=True)
    rows = []
    try:
        base = baseline()
        for size in args.sizes.split(","):
            for fmt in args.formats.split(","):
                rows.append(run_one(fmt, size, workdir))
                print(f"{fmt} {size}: {rows[-1]}", file=sys.stderr, flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(rows, base))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "baseline": base}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
