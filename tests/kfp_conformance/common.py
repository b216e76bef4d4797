"""What both backends share: the spec file, the task order, a task's process, results."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import yaml


class ConformanceError(RuntimeError):
    """The backend would refuse the spec or the run; the message says what it would say."""


@dataclasses.dataclass
class TaskResult:
    name: str
    state: str  # executed | cached | failed | not run
    seconds: float = 0.0
    execution_id: Optional[int] = None
    executor_input: Optional[dict] = None
    command: Optional[List[str]] = None
    log: Optional[str] = None  # the task's whole output
    pod_resources: Optional[dict] = None
    outputs: Dict[str, List[dict]] = dataclasses.field(default_factory=dict)
    reason: str = ""


@dataclasses.dataclass
class RunResult:
    backend: str
    run_id: str
    tasks: Dict[str, TaskResult]

    @property
    def ok(self) -> bool:
        """No task failed (tasks left out of a partial run are "not run")."""
        return not any(t.state == "failed" for t in self.tasks.values())

    def states(self) -> Dict[str, str]:
        return {name: t.state for name, t in self.tasks.items()}

    def failure(self) -> str:
        for t in self.tasks.values():
            if t.state == "failed":
                tail = ""
                if t.log and os.path.exists(t.log):
                    with open(t.log, errors="replace") as f:
                        tail = "".join(f.readlines()[-25:])
                return f"task {t.name} failed: {t.reason}\n{tail}"
        return ""

    def summary(self) -> str:
        return "\n".join(f"  {t.name:40s} {t.state:9s} {t.seconds:6.1f} s"
                         for t in self.tasks.values())


def load_spec(path: str) -> Tuple[dict, Dict]:
    """(PipelineSpec dict, runtime parameter values) from a bare spec (YAML/JSON) or a job."""
    with open(path) as f:
        documents = [d for d in yaml.safe_load_all(f) if d]
    specs = [d for d in documents if "pipelineInfo" in d and "root" in d]
    if specs:
        return specs[0], {}
    jobs = [d for d in documents if "pipelineSpec" in d]
    if not jobs:
        raise ConformanceError(f"{path}: no pipeline spec is provided")
    config = jobs[0].get("runtimeConfig") or {}
    values = dict(config.get("parameterValues") or {})
    for name, legacy in (config.get("parameters") or {}).items():
        values[name] = legacy_value(legacy)
    return jobs[0]["pipelineSpec"], values


def legacy_value(value: dict):
    """A schema-2.0 ``Value`` ({"intValue": "3"}) as a plain value."""
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    return value.get("stringValue", "")


def executor_of(spec: dict, component_name: str) -> dict:
    label = spec["components"][component_name]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]


def upstream(task: dict) -> set:
    """The tasks ``task`` waits on: dependentTasks and the producers of its inputs."""
    deps = set(task.get("dependentTasks") or ())
    for spec in (task.get("inputs") or {}).get("artifacts", {}).values():
        deps.add((spec.get("taskOutputArtifact") or {}).get("producerTask"))
    for spec in (task.get("inputs") or {}).get("parameters", {}).values():
        deps.add((spec.get("taskOutputParameter") or {}).get("producerTask"))
    return deps - {None}


def with_ancestors(tasks: Dict[str, dict], name: str) -> set:
    """``name`` and every task it waits on, directly or not."""
    found, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(upstream(tasks[current]))
    return found


def topological_order(tasks: Dict[str, dict]) -> List[str]:
    """Tasks in an order that respects dependentTasks and output references (sorted ties)."""
    pending = {name: upstream(task) for name, task in tasks.items()}
    order: List[str] = []
    while pending:
        ready = sorted(n for n, deps in pending.items() if deps <= set(order))
        if not ready:
            raise ConformanceError(f"tasks {sorted(pending)} wait on each other or on a "
                                   "missing task")
        order.append(ready[0])
        del pending[ready[0]]
    return order


def run_dag(tasks: Dict[str, dict], run_task: Callable[[str], "TaskResult"],
            wanted: Optional[set] = None, parallelism: int = 2) -> Dict[str, "TaskResult"]:
    """Runs each wanted task once all it waits on succeeded, up to ``parallelism`` at once
    (Argo starts independent tasks together); after a failure nothing new starts."""
    wanted = set(tasks) if wanted is None else wanted
    order = topological_order(tasks)
    results: Dict[str, TaskResult] = {}
    running: Dict[concurrent.futures.Future, str] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        while True:
            failed = any(r.state == "failed" for r in results.values())
            done = {n for n, r in results.items() if r.state in ("executed", "cached")}
            for name in order:
                if failed or len(running) >= max(1, parallelism):
                    break
                if name in results or name in running.values() or name not in wanted:
                    continue
                if upstream(tasks[name]) <= done:
                    running[pool.submit(run_task, name)] = name
            if not running:
                break
            finished, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                results[running.pop(future)] = future.result()
    return {name: results.get(name) or TaskResult(name, "not run") for name in order}


def run_process(command: Sequence[str], env: Dict[str, str], log_path: str,
                tee_path: Optional[str] = None, cwd: Optional[str] = None,
                zygote=None) -> Tuple[int, float]:
    """Runs the task's command; its output goes to ``log_path`` (and ``tee_path``).

    With a :class:`~tests.kfp_conformance.zygote.Zygote`, a ``python -m`` command
    starts from its warm interpreter; anything else starts as a fresh process.
    """
    command = list(command)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    from tests.kfp_conformance.zygote import python_module_of

    module = python_module_of(command) if zygote is not None else None
    if module is not None:
        code, seconds = zygote.run(module[0], module[1], env, log_path, cwd)
        if tee_path:
            shutil.copyfile(log_path, tee_path)
        return code, seconds
    if command and command[0] in ("python", "python3"):
        command[0] = sys.executable  # the image's python is this environment's
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        tee = open(tee_path, "wb") if tee_path else None
        try:
            for chunk in iter(lambda: proc.stdout.read1(65536), b""):
                log.write(chunk)
                if tee:
                    tee.write(chunk)
        finally:
            if tee:
                tee.close()
        code = proc.wait()
    return code, time.monotonic() - start


def task_env(extra: Dict[str, str]) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def dumps(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))


class Cache:
    """The backend's cache entries: fingerprint -> the execution that produced it."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()

    def _entries(self) -> List[dict]:
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return json.load(f)

    def lookup(self, fingerprint: str, pipeline_name: str) -> Optional[int]:
        with self._lock:
            entries = self._entries()
        for entry in reversed(entries):
            if entry["fingerprint"] == fingerprint and entry["pipeline_name"] == pipeline_name:
                return entry["execution_id"]
        return None

    def add(self, fingerprint: str, pipeline_name: str, execution_id: int) -> None:
        with self._lock:
            entries = self._entries()
            entries.append({"fingerprint": fingerprint, "pipeline_name": pipeline_name,
                            "execution_id": execution_id, "created": time.time()})
            with open(self.path, "w") as f:
                json.dump(entries, f)
