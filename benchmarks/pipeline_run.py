"""One pipeline run for a benchmark: ``local_runner.py`` in a child process, and what it left.

Every benchmark that needs a real run goes through :func:`launch`, so they
all start it the same way (this interpreter, the repository's runner, its
console captured) and read it the same way (:class:`PipelineRun`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Callable, ContextManager, Dict, Optional, Sequence

from pipeline import configs

COMPONENT_LINE = re.compile(r"^\s+(\S+)\s+(done|cached)\s+([\d.]+) s$")
FINISHED_LINE = re.compile(r"^finished in (\d+) s$", re.M)


@dataclasses.dataclass
class PipelineRun:
    """A finished run: its console (stdout and stderr together) and timings."""

    output_dir: str
    console: str
    wall_seconds: float
    started_at: float  # unix seconds
    monitor: object = None  # what ``monitor`` returned, e.g. a memory sampler

    def component_seconds(self) -> Dict[str, float]:
        """Seconds per component from the console's progress lines (cached ones too)."""
        return {m.group(1): float(m.group(3))
                for m in map(COMPONENT_LINE.match, self.console.splitlines()) if m}

    def pipeline_seconds(self) -> float:
        """The runner's own "finished in N s" (the pipeline, without interpreter start-up)."""
        found = FINISHED_LINE.search(self.console)
        if not found:
            raise SystemExit(f"benchmark: no 'finished in' line in the run in {self.output_dir}")
        return float(found.group(1))

    def store(self):
        """The run's ML Metadata store."""
        from pipeline import results

        return results.open_store(configs.metadata_path(self.output_dir))


def launch(runner_args: Sequence[str], output_dir: str, *, fresh: bool = False,
           monitor: Optional[Callable[[int], ContextManager]] = None) -> PipelineRun:
    """Runs ``local_runner.py RUNNER_ARGS --output-dir OUTPUT_DIR`` to its end.

    ``fresh`` empties the output folder first (no cache). ``monitor(pid)``,
    if given, is entered while the run lasts (e.g. a process-tree memory
    sampler). A failed run stops the benchmark with its exit code and the
    console's tail.
    """
    if fresh:
        shutil.rmtree(output_dir, ignore_errors=True)
    cmd = [sys.executable, os.path.join(configs.REPO_ROOT, "local_runner.py"),
           *runner_args, "--output-dir", output_dir]
    started_at = time.time()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=configs.REPO_ROOT)
    with (monitor(proc.pid) if monitor else contextlib.nullcontext()) as watched:
        console = proc.communicate()[0]
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark: local_runner.py {' '.join(runner_args)} failed "
                         f"(exit {proc.returncode}):\n{console[-3000:]}")
    return PipelineRun(output_dir=output_dir, console=console, wall_seconds=round(wall, 1),
                       started_at=started_at, monitor=watched)
