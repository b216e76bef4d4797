"""One writer per output folder.

Two runs sharing one output folder would share one SQLite ML Metadata store
and one serving folder. :func:`hold` takes an exclusive ``flock`` on
``<output-dir>/.lock`` for the life of the run and writes the holder's pid
and start time into it. The kernel releases a ``flock`` when its process
dies, however it dies, so a lock left by a killed run is simply taken over
(the previous holder is named when that happens); a second live run gets
:class:`OutputFolderBusy` naming the holder, before it changes anything.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
from typing import Iterator, Optional

LOCK_FILE = ".lock"


class OutputFolderBusy(RuntimeError):
    """Another live run holds the output folder."""


class OutputFolderUnwritable(OSError):
    """The output folder cannot be created or written."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def _describe(holder: dict) -> str:
    pid = holder.get("pid", "?")
    host = holder.get("host")
    started = holder.get("started", "?")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"pid {pid}{where}, started {started}"


@contextlib.contextmanager
def hold(output_dir: str) -> Iterator[Optional[dict]]:
    """Holds the output folder; yields the stale holder taken over, if any.

    Raises :class:`OutputFolderBusy` (another run is live) or
    :class:`OutputFolderUnwritable` (the folder cannot be created or the lock
    file written), each with one line naming the folder.
    """
    path = os.path.join(output_dir, LOCK_FILE)
    try:
        os.makedirs(output_dir, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise OutputFolderUnwritable(
            err.errno or errno.EACCES,
            f"--output-dir {output_dir}: cannot write there ({err.strerror or err}); "
            "expected a folder this user can create and write") from None
    try:
        with os.fdopen(os.dup(fd), "r") as f:
            previous_text = f.read()
        try:
            previous = json.loads(previous_text) if previous_text.strip() else None
        except ValueError:
            previous = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputFolderBusy(
                f"--output-dir {output_dir} is in use by another run ({_describe(previous or {})}); "
                "wait for it to finish or use another --output-dir") from None
        stale = previous if previous and previous.get("pid") != os.getpid() else None
        if stale and stale.get("host") == socket.gethostname() and _pid_alive(stale["pid"]):
            stale = None  # a live process that no longer holds the lock: not a crash
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": datetime.datetime.now().isoformat(timespec="seconds")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)
        except OSError as err:
            raise OutputFolderUnwritable(
                err.errno, f"--output-dir {output_dir}: cannot write {path} ({err.strerror})"
            ) from None
        yield stale
        # A clean exit leaves an empty lock file, so only a run that died
        # holding the folder is reported as taken over.
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock
