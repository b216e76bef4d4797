"""Open-source Kubeflow Pipelines v2, as ``backend/src/v2`` runs a compiled spec.

Written from the KFP sources (releases 2.0 to 2.17), not from TFX's
assumptions. What each step follows:

* **Refusals** before anything runs: the API server's schema check
  (``apiserver/template/v2_template.go``: 2.1.0 only) and the compiler's
  executor kinds (``v2/compiler/visitor.go``: container and importer).
* **Root DAG** (``driver/root_dag.go``, ``compiler/argocompiler/argo.go``):
  the run's parameters, root defaults filled in, optional ones without a
  default as null; the run's root is ``<pipeline root>/<pipeline>/<run id>``.
* **Container driver** (``driver/container.go``, ``driver/resolve.go``;
  :mod:`.kfp_driver`): input parameters from the root, constants or
  another task's output parameters, type-checked against the component
  (non-strings converted to text for STRING inputs); input artifacts from
  the producer's outputs in ML Metadata, with the *empty* type
  ``GetOutputArtifactsByExecutionId`` leaves (``metadata/client.go``);
  outputs provisioned under the task root (``<run root>/<task>/<uuid>/<name>``;
  before 2.5: ``<run root>/<task>/<name>``)
  plus ``executor-logs`` typed ``system.Artifact`` when logs are published
  (2.5+); the cache fingerprint of inputs, output specs, command and image
  (``driver/cache.go``, ``cacheutils``) and a cache hit reusing the
  earlier execution's outputs; the pod's resources (``initPodSpecPatch``).
* **Launcher** (``component/launcher_v2.go``; :mod:`.kfp_launcher`):
  ``{{$.inputs.parameters[...]}}`` resolved (by the driver in 2.17) then
  ``{{$}}`` and the other placeholders; ``executor-logs`` qualified with
  the retry index (2.17); output folders made; the command run with
  ``KFP_POD_NAME``/``KFP_POD_UID`` set and its output teed into the logs
  artifact; the executor output read, output parameters collected, each
  output artifact merged with what the executor wrote and recorded
  (``RecordArtifact``: schema title as type, metadata as custom
  properties, nulls refused), the execution published, a cache entry
  created.

Deviations, because no cluster exists here: the pipeline root is a local
folder standing for the bucket *and* its mount, so the launcher's copies
between the object store and ``/gcs``, ``/minio`` or ``/s3`` are the
identity; pod-local paths (``/tmp/kfp/outputs``, ``/tmp/kfp_outputs``)
are rebased into a folder per task; the command runs in this environment
(``python`` is this interpreter), not in the image, from a warm
interpreter with ``warm=True`` (:mod:`.zygote`); at most ``parallelism``
tasks run at once; importer executors and conditions are not emulated
(the MSA pipeline has none).
"""

from __future__ import annotations

import copy
import os
import uuid
from typing import Dict, Optional

from ml_metadata.proto import metadata_store_pb2 as mlmd

from tests.kfp_conformance import kfp_driver as driver
from tests.kfp_conformance import kfp_launcher as launcher
from tests.kfp_conformance.common import (
    Cache,
    ConformanceError,
    RunResult,
    TaskResult,
    executor_of,
    load_spec,
    run_dag,
    run_process,
    task_env,
    with_ancestors,
)
from tests.kfp_conformance.store import CONTAINER_EXECUTION, DAG_EXECUTION, Store
from tests.kfp_conformance.zygote import Zygote


class Kfp:
    """Runs a compiled spec the way the open-source backend's driver and launcher do."""

    def __init__(self, state_dir: str, version: str = "2.17", publish_logs: bool = True,
                 cache_enabled: bool = True, parallelism: int = 2, warm: bool = False):
        if version not in ("2.0", "2.17"):
            raise ValueError("version: the oldest (2.0-2.4) or newest (2.17) behaviour")
        self.state_dir = state_dir
        self.version = version
        self.publish_logs = publish_logs and version != "2.0"  # logs artifact: 2.5+
        self.cache_enabled = cache_enabled
        self.parallelism = parallelism
        self.zygote = Zygote() if warm else None
        os.makedirs(state_dir, exist_ok=True)
        self.store = Store(os.path.join(state_dir, "metadata.sqlite"))
        self.cache = Cache(os.path.join(state_dir, "cache.json"))

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the run ----------------------------------------------------------------------
    def run(self, spec_path: str, pipeline_root: str, parameters: Optional[Dict] = None,
            run_id: Optional[str] = None, only: Optional[str] = None) -> RunResult:
        """Runs every task (or ``only`` that task and those it waits on)."""
        spec, job_values = load_spec(spec_path)
        driver.check_spec(spec)
        run_id = run_id or str(uuid.uuid4())
        values = driver.root_parameters(spec, {**job_values, **(parameters or {})})
        name = spec["pipelineInfo"]["name"]
        run_root = driver.generate_output_uri(pipeline_root, name, run_id)
        contexts = self.store.pipeline_run(name, run_id, run_root)
        dag_id = self.store.create_execution(
            DAG_EXECUTION, f"run/{run_id}", list(contexts),
            {"display_name": "", "task_name": "", "parent_dag_id": 0, "inputs": values})
        tasks = spec["root"]["dag"]["tasks"]
        results = run_dag(
            tasks, lambda task_name: self._task(spec, task_name, values, dag_id, contexts,
                                                run_id, run_root, name),
            with_ancestors(tasks, only) if only else None, self.parallelism)
        self.store.finish_execution(
            dag_id, mlmd.Execution.COMPLETE if all(
                r.state != "failed" for r in results.values()) else mlmd.Execution.FAILED, {})
        return RunResult("kfp", run_id, results)

    # --- one task: driver, then launcher ------------------------------------------------
    def _task(self, spec, task_name, root_values, dag_id, contexts, run_id, run_root,
              pipeline_name) -> TaskResult:
        task = spec["root"]["dag"]["tasks"][task_name]
        component = spec["components"][task["componentRef"]["name"]]
        executor = executor_of(spec, task["componentRef"]["name"])
        if "container" not in executor:
            raise ConformanceError(f"task {task_name}: importer executors are not emulated")
        container = executor["container"]
        if (task.get("triggerPolicy") or {}).get("condition"):
            raise ConformanceError(f"task {task_name}: conditions are not emulated")
        siblings = self.store.executions_in_dag(dag_id, contexts[1])
        inputs = driver.resolve_inputs(self.store, task_name, task, component, root_values,
                                        siblings)
        pod_dir = os.path.join(self.state_dir, "pods", f"{run_id[:8]}-{task_name}")
        outputs = driver.provision_outputs(run_root, task_name, component, pod_dir,
                                           self.version, self.publish_logs)
        executor_input = {"inputs": inputs, "outputs": outputs}
        fingerprint = ""
        caching = (task.get("cachingOptions") or {}).get("enableCache", False)
        if self.cache_enabled and caching:
            fingerprint = driver.fingerprint(executor_input, component, container)
        input_ids = {k: [int(a["name"]) for a in lst["artifacts"]]
                     for k, lst in inputs["artifacts"].items()}
        execution_id = self.store.create_execution(
            CONTAINER_EXECUTION, f"run/{run_id}/task/{task_name}", list(contexts),
            {"display_name": task_name, "task_name": task_name, "parent_dag_id": dag_id,
             "inputs": inputs["parameterValues"], "cache_fingerprint": fingerprint,
             "pod_name": f"{pipeline_name}-{task_name}".lower()})
        for key, ids in input_ids.items():
            self.store.link(execution_id, key, ids, output=False, contexts=list(contexts))
        resources = driver.pod_resources(container.get("resources") or {})
        cached = self.cache.lookup(fingerprint, "pipeline/" + pipeline_name) \
            if fingerprint else None
        if cached is not None:
            return self._reuse(task_name, execution_id, cached, contexts, executor_input,
                               resources)
        return self._launch(task_name, component, container, executor_input, execution_id,
                            contexts, pod_dir, fingerprint, pipeline_name, resources)

    # --- cache ---------------------------------------------------------------------------
    def _reuse(self, task_name, execution_id, cached_id, contexts, executor_input, resources):
        cached = self.store.execution(cached_id)
        outputs = self.store.artifacts_of(cached_id, output=True)
        outputs.pop(driver.LOGS, None)
        for key, artifacts in outputs.items():
            self.store.link(execution_id, key, [a.id for a in artifacts], output=True,
                            contexts=list(contexts))
        self.store.finish_execution(
            execution_id, mlmd.Execution.CACHED,
            {"outputs": self.store.struct_prop(cached, "outputs"),
             "cached_execution_id": str(cached_id)})
        return TaskResult(task_name, "cached", execution_id=execution_id,
                          executor_input=executor_input, pod_resources=resources,
                          outputs={k: [driver.runtime_artifact(a) for a in v]
                                   for k, v in outputs.items()})

    # --- launcher ------------------------------------------------------------------------
    def _launch(self, task_name, component, container, executor_input, execution_id,
                contexts, pod_dir, fingerprint, pipeline_name, resources) -> TaskResult:
        executor_input = copy.deepcopy(executor_input)
        logs = executor_input["outputs"]["artifacts"].get(driver.LOGS)
        if logs and self.version == "2.17":  # qualifyExecutorLogsForRetry, first attempt
            logs["artifacts"][0]["uri"] += "-0"
        command = launcher.compile_command(container, executor_input)
        for lst in executor_input["outputs"]["artifacts"].values():
            for artifact in lst["artifacts"]:
                os.makedirs(os.path.dirname(driver.local_path_for_uri(artifact["uri"])),
                            exist_ok=True)
        for param in executor_input["outputs"]["parameters"].values():
            os.makedirs(os.path.dirname(param["outputFile"]), exist_ok=True)
        log_path = os.path.join(pod_dir, "main.log")
        tee = driver.local_path_for_uri(logs["artifacts"][0]["uri"]) if logs else None
        env = task_env({"KFP_POD_NAME": f"{pipeline_name}-{task_name}".lower(),
                        "KFP_POD_UID": str(uuid.uuid4()),
                        **{e["name"]: e["value"] for e in container.get("env", [])}})
        code, seconds = run_process(command, env, log_path, tee_path=tee, zygote=self.zygote)
        result = TaskResult(task_name, "executed", seconds, execution_id, executor_input,
                            command, log_path, resources)
        if code != 0:
            result.state, result.reason = "failed", f"exit code {code}"
            recorded = launcher.record_outputs(self.store, executor_input, {}, only_logs=True)
            self._publish(execution_id, recorded, {}, contexts, mlmd.Execution.FAILED)
            return result
        try:
            executor_output = launcher.read_output(executor_input["outputs"]["outputFile"])
            params = launcher.collect_parameters(executor_input, executor_output, component)
            recorded = launcher.record_outputs(self.store, executor_input, executor_output)
        except (ConformanceError, ValueError, KeyError) as err:
            result.state, result.reason = "failed", f"launcher: {err}"
            self._publish(execution_id, {}, {}, contexts, mlmd.Execution.FAILED)
            return result
        self._publish(execution_id, recorded, params, contexts, mlmd.Execution.COMPLETE)
        if fingerprint:
            self.cache.add(fingerprint, "pipeline/" + pipeline_name, execution_id)
        result.outputs = {k: [driver.runtime_artifact(self.store.artifacts([i])[0])
                              for i in ids] for k, ids in recorded.items()}
        return result

    def _publish(self, execution_id, recorded, params, contexts, state) -> None:
        for key, ids in recorded.items():
            self.store.link(execution_id, key, ids, output=True, contexts=list(contexts))
        self.store.finish_execution(execution_id, state, {"outputs": params})


