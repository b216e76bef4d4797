"""A warm interpreter that starts the tasks' ``python -m MODULE ...`` commands by forking.

A fresh interpreter importing TensorFlow and TFX costs about 9 s of CPU on
2 cores, most of a tiny task's time; a conformance run starts a dozen. The
zygote imports those third-party libraries once (:data:`PRELOAD`, never
this project's own modules), then, for each task, forks a child that runs
the command's module as ``__main__`` with the command's arguments, the
task's environment and working folder, stdin from ``/dev/null`` and its
output into the task's log. What the task executes is unchanged; only the
interpreter's start-up is shared. Backends use it with ``warm=True``; a
cold run (the default) starts every command as a fresh process.

Protocol, one JSON object per line: requests on the zygote's stdin
(``{"id", "module", "argv", "env", "cwd", "log"}``), answers on its stdout
(``{"id", "code"}`` when that task's process ended).
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import subprocess
import sys
import threading
import time
import traceback
from typing import Dict, List, Optional, Tuple

PRELOAD = ("tensorflow", "apache_beam",
           "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor",
           "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver")


def python_module_of(command: List[str]) -> Optional[Tuple[str, List[str]]]:
    """(module, its arguments) for ``python -m MODULE ARGS...``, else None."""
    if len(command) >= 3 and command[0] in ("python", "python3") and command[1] == "-m":
        return command[2], list(command[3:])
    return None


def _child(request: dict) -> None:
    """In the forked child: become the task's process; never returns."""
    code = 1
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        # sys.stdout and sys.stderr stay the same objects, now on the log: the
        # zygote never writes through them (answers go out with os.write), so
        # no thread of it can have held their locks at the fork, and absl still
        # recognises the stderr its handler replaces.
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = [request["module"], *request["argv"]]
        try:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except BaseException:  # the task's own failure: its traceback goes to its log
            traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve() -> None:
    """The zygote's main loop."""
    for module in PRELOAD:
        importlib.import_module(module)
    answers = sys.stdout.fileno()  # written with os.write: no stream lock a fork could copy
    write = threading.Lock()
    children: Dict[int, str] = {}
    have_children = threading.Condition()

    def reap():
        while True:
            with have_children:
                while not children:
                    have_children.wait()
            pid, status = os.wait()
            with have_children:
                task_id = children.pop(pid, None)
            if task_id is not None:
                with write:
                    os.write(answers, (json.dumps({"id": task_id, "code": os.waitstatus_to_exitcode(
                        status)}) + "\n").encode())

    threading.Thread(target=reap, daemon=True).start()
    with write:
        os.write(answers, (json.dumps({"ready": True}) + "\n").encode())
    for line in sys.stdin:
        request = json.loads(line)
        with have_children:
            pid = os.fork()
            if pid == 0:
                _child(request)
            children[pid] = request["id"]
            have_children.notify()


class Zygote:
    """The client: starts the zygote and runs commands through it, thread-safe."""

    def __init__(self):
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.kfp_conformance.zygote"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = self._proc.stdout.readline()
        if not ready:
            raise RuntimeError("the zygote did not start")
        self._lock = threading.Lock()
        self._waiting: Dict[str, Tuple[threading.Event, list]] = {}
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._proc.stdout:
            answer = json.loads(line)
            with self._lock:
                event, box = self._waiting.pop(answer["id"])
            box.append(answer["code"])
            event.set()

    def run(self, module: str, argv: List[str], env: Dict[str, str], log_path: str,
            cwd: Optional[str] = None) -> Tuple[int, float]:
        event, box = threading.Event(), []
        with self._lock:
            self._next += 1
            task_id = str(self._next)
            self._waiting[task_id] = (event, box)
            start = time.monotonic()
            self._proc.stdin.write(json.dumps({
                "id": task_id, "module": module, "argv": argv, "env": env,
                "cwd": cwd or os.getcwd(), "log": log_path}) + "\n")
            self._proc.stdin.flush()
        event.wait()
        return box[0], time.monotonic() - start

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)


if __name__ == "__main__":
    serve()
