"""Ctrl-C during a run: one line naming the running component, exit 130,
nothing pushed, and no execution left RUNNING in ML Metadata."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import configs, recovery
from tests.runner_util import REPO, TINY_MODEL_FLAGS

pytestmark = pytest.mark.slow


def test_ctrl_c_names_the_component_and_leaves_mlmd_clean(tiny_data, tmp_path):
    out = str(tmp_path / "out")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "local_runner.py"), "--data-root", tiny_data,
         "--output-dir", out, *TINY_MODEL_FLAGS],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + 300
    for line in proc.stdout:
        lines.append(line)
        # StatisticsGen runs for several seconds in Beam: interrupt it there.
        if line.strip().startswith("StatisticsGen") and "running" in line:
            time.sleep(1.0)
            proc.send_signal(signal.SIGINT)
            break
        assert time.time() < deadline, "".join(lines)
    rest, _ = proc.communicate(timeout=120)
    console = "".join(lines) + rest
    assert proc.returncode == 130, console
    stopped = [ln for ln in console.splitlines() if ln.startswith("interrupted")]
    assert stopped == ["interrupted (SIGINT) while StatisticsGen was running; nothing was "
                       "pushed; rerun the same command to resume from the finished "
                       "components"], console
    assert "Traceback" not in console
    assert recovery.running_executions(configs.metadata_path(out)) == []
    assert not os.path.exists(configs.serving_dir(out))


def test_a_stop_swallowed_in_a_weakref_callback_is_raised_again():
    """Python drops an exception raised in a weakref callback (TensorFlow's datasets
    run them): the SIGTERM that landed there must still stop the run at the next check."""
    import weakref

    from pipeline.interrupt import InterruptSignal

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupt = InterruptSignal()
    try:
        interrupt.install()

        class Dataset:
            pass

        dataset = Dataset()
        ref = weakref.ref(dataset, lambda _: os.kill(os.getpid(), signal.SIGTERM))
        del dataset  # the callback runs, the handler raises inside it, Python drops it
        assert ref() is None and interrupt.received == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
