"""Starting a run of a compiled pipeline: on a Kubeflow Pipelines API, or on Vertex AI.

KFP: the compiled file is uploaded as a new pipeline, or as a new version of
the pipeline when one of that name exists (the API refuses a second
pipeline of the same name), then a run of that version is created with the
pipeline root and the runtime parameters. So ``--endpoint`` works on every
call, and the UI lists each compilation as a version. With ``schedule`` (a
six-field cron, pipeline/kubeflow/schedule.py) a recurring run of that
version is created instead: one run at a time, no backfill of missed times.

Vertex AI: a ``PipelineJob`` from the compiled job file.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import secrets
from typing import Dict, Optional, Tuple


def version_name(pipeline_name: str, package_path: str, now: Optional[datetime.datetime] = None
                 ) -> str:
    """``<pipeline>-<UTC time>-<digest of the file>-<random>``: unique per submission."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    with open(package_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:8]
    return f"{pipeline_name}-{now.strftime('%Y%m%d-%H%M%S')}-{digest}-{secrets.token_hex(2)}"


def submit_kfp(endpoint: str, package_path: str, pipeline_name: str, experiment: str,
               parameters: Dict, pipeline_root: str, schedule: Optional[str] = None
               ) -> Tuple[str, str]:
    """Uploads ``package_path`` (a new pipeline or version) and starts a run, or with
    ``schedule`` creates a recurring run: (its id, its page)."""
    import kfp

    client = kfp.Client(host=endpoint)
    version = version_name(pipeline_name, package_path)
    # kfp prints its own "details" links; the runner prints one line instead.
    with contextlib.redirect_stdout(io.StringIO()):
        pipeline_id = client.get_pipeline_id(pipeline_name)
        if pipeline_id is None:
            pipeline_id = client.upload_pipeline(
                package_path, pipeline_name=pipeline_name).pipeline_id
            versions = client.list_pipeline_versions(pipeline_id).pipeline_versions or []
            version_id = versions[0].pipeline_version_id
        else:
            version_id = client.upload_pipeline_version(
                package_path, pipeline_version_name=version,
                pipeline_id=pipeline_id).pipeline_version_id
        experiment_id = client.create_experiment(experiment).experiment_id
        if schedule:
            # One run at a time: two runs of one pipeline would race to push.
            # No catch-up: after a pause, one run reads the latest span.
            recurring = client.create_recurring_run(
                experiment_id=experiment_id, job_name=version, pipeline_id=pipeline_id,
                version_id=version_id, params=parameters, pipeline_root=pipeline_root,
                cron_expression=schedule, max_concurrency=1, no_catchup=True)
            return (recurring.recurring_run_id, f"{endpoint.rstrip('/')}/#/recurringrun/details/"
                    f"{recurring.recurring_run_id}")
        run = client.run_pipeline(
            experiment_id=experiment_id, job_name=version, pipeline_id=pipeline_id,
            version_id=version_id, params=parameters, pipeline_root=pipeline_root)
    return run.run_id, f"{endpoint.rstrip('/')}/#/runs/details/{run.run_id}"


def submit_vertex(job_path: str, project: str, region: str, pipeline_root: str,
                  parameters: Dict, display_name: str,
                  service_account: Optional[str] = None, credentials=None) -> Tuple[str, str]:
    """Submits the compiled job to Vertex AI Pipelines: (job resource name, console URL)."""
    from google.cloud import aiplatform

    job = aiplatform.PipelineJob(
        display_name=display_name, template_path=job_path, pipeline_root=pipeline_root,
        parameter_values=parameters, project=project, location=region,
        credentials=credentials)
    job.submit(service_account=service_account)
    job_id = job.resource_name.rsplit("/", 1)[-1]
    url = (f"https://console.cloud.google.com/vertex-ai/locations/{region}/pipelines/runs/"
           f"{job_id}?project={project}")
    return job.resource_name, url
