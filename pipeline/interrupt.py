"""Ctrl-C and SIGTERM during a local run: a KeyboardInterrupt that cannot be lost.

The runner (pipeline/local_run.py) installs :class:`InterruptSignal` for the
whole run and turns the exception into one line (exit 130).
"""

from __future__ import annotations

import signal
import threading


class InterruptSignal:
    """Turns SIGINT and SIGTERM into KeyboardInterrupt, and remembers which came.

    The exception can surface as another one (library code that cleans up
    on its way out may raise its own), so the run asks :attr:`received`
    rather than trusting the exception type. It can also be lost: raised
    inside a weakref callback or ``__del__`` (TensorFlow's datasets run
    them) or under a bare ``except:``, Python drops it and the run goes on.
    So the stop is sticky: :meth:`check` raises it again, and the run calls
    it after the data check, after the imports and on every log record the
    pipeline writes from the main thread (measured: a SIGTERM during the data
    check was lost about one time in four before).
    """

    def __init__(self):
        self.received = None

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name
        raise KeyboardInterrupt(self.received)

    def check(self) -> None:
        """Raises KeyboardInterrupt again if a signal came (and was perhaps swallowed)."""
        if self.received and threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt(self.received)
