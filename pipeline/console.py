"""A readable console for pipeline runs.

Library output (TensorFlow, Beam, absl, warnings, worker processes) goes to
a log file; the console gets one line per component as it starts and
finishes, with wall time, the Trainer's epochs and the Tuner's trials as
they finish (trainer/core/progress.py), then the results. With ``verbose`` the
library output also reaches the console (it is still written to the log).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import time
import warnings
from typing import Dict, List, Optional, TextIO

from trainer.core import progress as trainer_progress

_RUNNING = re.compile(r"Component (\S+) is running\.")
_FINISHED = re.compile(r"Component (\S+) is finished\.")
_CACHED = re.compile(r"A cached execution \d+ is used\.")
# trainer/task.py logs this when a killed Trainer's checkpoint is picked up.
_RESUMED = re.compile(r"Trainer: resuming from epoch (\d+) of (\d+)")


class ComponentProgress(logging.Handler):
    """Turns LocalDagRunner's log records into progress lines."""

    def __init__(self, out: TextIO):
        super().__init__(level=logging.INFO)
        self.out = out
        self.timings: List[Dict[str, object]] = []
        self._current: Optional[str] = None
        self._start = 0.0
        self._cached = False
        # Called first on every record (the runner's sticky interrupt check).
        self.on_record = None

    @property
    def current(self) -> Optional[str]:
        """The component running now, if any."""
        return self._current

    def emit(self, record: logging.LogRecord) -> None:
        if self.on_record is not None:
            self.on_record()
        try:
            message = record.getMessage()
        except Exception:  # a malformed third-party record must not kill the run
            return
        if match := _RUNNING.search(message):
            self._current, self._start, self._cached = match.group(1), time.perf_counter(), False
            self.out.write(f"  {self._current:<32} running ...\n")
            self.out.flush()
        elif _CACHED.search(message):
            self._cached = True
        elif match := _RESUMED.search(message):
            self._detail(f"resuming from epoch {match.group(1)} of {match.group(2)} "
                         "(checkpoint of an interrupted run)")
        elif match := trainer_progress.EPOCH_PATTERN.search(message):
            k, n, train_mae, val_mae, seconds = match.groups()
            self._detail(f"epoch {k:>{len(n)}}/{n}  train MAE {train_mae}  val MAE {val_mae}  "
                         f"{float(seconds):.1f} s")
        elif match := trainer_progress.TRIAL_PATTERN.search(message):
            k, n, val_mae, seconds, values = match.groups()
            self._detail(f"trial {k:>{len(n)}}/{n}  val MAE {val_mae}  {float(seconds):.0f} s  "
                         f"{values}")
        elif match := trainer_progress.NOTICE_PATTERN.search(message):
            self._detail(match.group(1))
        elif (match := _FINISHED.search(message)) and match.group(1) == self._current:
            seconds = time.perf_counter() - self._start
            status = "cached" if self._cached else "done"
            self.timings.append({"component": self._current, "status": status,
                                 "seconds": round(seconds, 1)})
            self.out.write(f"  {self._current:<32} {status:<7} {seconds:7.1f} s\n")
            self.out.flush()
            self._current = None

    def _detail(self, text: str) -> None:
        """A line under the running component."""
        self.out.write(f"  {'':<32} {text}\n")
        self.out.flush()


def _tee(source_fd: int, targets) -> None:
    """Copies everything read from ``source_fd`` to each of ``targets`` (fds)."""
    while chunk := os.read(source_fd, 65536):
        for fd in targets:
            os.write(fd, chunk)
    os.close(source_fd)


@contextlib.contextmanager
def quiet_libraries(log_path: str, verbose: bool = False):
    """Sends fds 1/2, Python logging and warnings to ``log_path``.

    With ``verbose`` they go to the console as well. Yields
    ``(console, progress)``: a stream on the real terminal, and the progress
    handler (its ``timings`` list the components that ran).
    """
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(saved_out), "w", buffering=1)
    log_file = open(log_path, "a", buffering=1)
    tee = None
    if verbose:  # a pipe read by a thread that writes to the log and the terminal
        read_end, target = os.pipe()
        tee = threading.Thread(target=_tee, args=(read_end, (log_file.fileno(), saved_err)),
                               daemon=True)
        tee.start()
    else:
        target = log_file.fileno()
    # Redirecting the file descriptors also catches C++ logs and the output
    # of Beam worker processes, which Python-level redirection would miss.
    os.dup2(target, 1)
    os.dup2(target, 2)
    sink = os.fdopen(os.dup(target), "w", buffering=1) if verbose else log_file

    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    file_handler = logging.StreamHandler(sink)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    progress = ComponentProgress(console)
    root.handlers = [file_handler, progress]
    root.setLevel(logging.INFO)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.INFO)
        # absl's own stderr handler would duplicate every record.
        absl_logging.get_absl_handler().setLevel(logging.CRITICAL + 1)
    except ImportError:  # pragma: no cover - absl ships with TF
        pass
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    try:
        yield console, progress
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.captureWarnings(False)
        root.handlers, root.level = saved_handlers, saved_level
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        if tee is not None:  # the last write ends close: the thread reads EOF
            sink.close()
            os.close(target)
            tee.join(timeout=10)
        os.close(saved_out)
        os.close(saved_err)
        log_file.close()
        console.close()
