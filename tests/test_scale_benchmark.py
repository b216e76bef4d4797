"""The scale benchmark's measuring parts: process-tree memory, growth fit, targets.

The benchmark itself (``make bench-scale``) runs the pipeline at MOSEI size;
these check that what it reports is computed right.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from benchmarks import scale_benchmark as sb

_ALLOCATE = ("import sys, time; block = bytearray(int(sys.argv[1])); "
             "block[::4096] = b'x' * len(block[::4096]); time.sleep(3)")


def test_tree_memory_counts_the_children_of_the_process():
    # A Python parent whose child holds 300 MB: the parent alone holds ~10 MB.
    parent = (f"import subprocess, sys; subprocess.run([sys.executable, '-c', {_ALLOCATE!r}, "
              "'300000000'], check=True)")
    proc = subprocess.Popen([sys.executable, "-c", parent])
    before = time.time()
    with sb.TreeMemory(proc.pid, interval=0.1) as memory:
        proc.wait()
    summed, largest = memory.peak()
    assert summed >= 300e6 and largest >= 300e6
    assert summed > largest  # the parent's own memory is added to the child's
    assert memory.peak(end=before - 10) == (None, None)  # no sample that early
    # a window shorter than the interval reads the last sample before its end
    last = memory.samples[-1]
    assert memory.peak(last[0] + 0.001, last[0] + 0.002)[0] == last[1]


def test_growth_fit_of_linear_and_quadratic_costs():
    sizes = [1000, 2000, 4000]
    linear = sb.growth(sizes, [10 + 0.02 * n for n in sizes])
    assert linear["fixed_s"] == pytest.approx(10) and linear["ms_per_segment"] == pytest.approx(20)
    assert linear["exponent"] < 1  # the fixed cost pulls it under 1
    quadratic = sb.growth(sizes, [1e-5 * n * n for n in sizes])
    assert quadratic["exponent"] == pytest.approx(2)


def _run(fraction, wall, rss, transform_seconds):
    n = int(1000 * fraction)
    return {"fraction": fraction, "counts": {"train": n, "valid": 0, "test": 0},
            "data_seconds": 1.0, "wall_seconds": wall, "peak_rss_gb": rss,
            "largest_process_rss_gb": rss,
            "components": {"Transform": {"seconds": transform_seconds, "peak_rss_gb": rss},
                           "Pusher": {"seconds": 0.01 * (4 * fraction) ** 3, "peak_rss_gb": rss}}}


def test_report_names_every_missed_target(capsys):
    fine = [_run(0.25, 100, 2.0, 5), _run(0.5, 150, 2.5, 9), _run(1.0, 250, 3.0, 16)]
    assert sb.report(fine) == []
    out = capsys.readouterr().out
    assert "| Transform |" in out and "| 1000 |" in out

    slow = [_run(0.25, 100, 2.0, 5), _run(0.5, 150, 2.5, 20), _run(1.0, 2800, 8.5, 80)]
    missed = sb.report(slow)
    assert any(m.startswith("Transform grows faster than linear") for m in missed)
    assert any(m.startswith("wall 2800") for m in missed)
    assert any(m.startswith("peak RSS 8.5") for m in missed)
    # Pusher's cost grows with the cube of the data, but it stays under JUDGED_SECONDS
    assert not any("Pusher" in m for m in missed)
