"""The runner's console (pipeline/console.py): quiet by default, everything with --verbose."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.runner_util import REPO

SCRIPT = textwrap.dedent("""
    import logging, os, sys
    from pipeline import console
    with console.quiet_libraries(sys.argv[1], verbose=sys.argv[2] == "1") as (out, progress):
        os.write(1, b"C++ style line on fd 1\\n")
        os.write(2, b"C++ style line on fd 2\\n")
        logging.getLogger("absl").warning("a library warning")
        logging.info("Component Trainer is running.")
        logging.info("Trainer: epoch 1/3  train MAE 1.2000  val MAE 1.3000  2.5 s")
        logging.info("Trainer: warm start: no blessed model yet; training from scratch")
        logging.info("Component Trainer is finished.")
        out.write("console line\\n")
""")


def _run(tmp_path, verbose: bool):
    log = tmp_path / f"run-{verbose}.log"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(log), "1" if verbose else "0"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr, log.read_text()


def test_library_output_goes_to_the_log_only_by_default(tmp_path):
    terminal, log = _run(tmp_path, verbose=False)
    for line in ("C++ style line on fd 1", "C++ style line on fd 2", "a library warning"):
        assert line in log and line not in terminal, line
    assert "console line" in terminal and "console line" not in log
    # progress lines: the component, its epoch and the warm-start outcome
    assert "Trainer                          running ..." in terminal
    assert "epoch 1/3  train MAE 1.2000  val MAE 1.3000  2.5 s" in terminal
    assert "warm start: no blessed model yet; training from scratch" in terminal
    assert "Trainer                          done" in terminal


def test_verbose_also_shows_library_output(tmp_path):
    terminal, log = _run(tmp_path, verbose=True)
    for line in ("C++ style line on fd 1", "C++ style line on fd 2", "a library warning"):
        assert line in log and line in terminal, line
    assert "epoch 1/3  train MAE 1.2000" in terminal
