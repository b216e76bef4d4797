"""Where a Kubeflow run may keep its artifacts: checked before compiling.

Every task writes its artifacts with TensorFlow's file systems, directly at
the URIs the backend gives it, so the pipeline root must be a URI the
image's TensorFlow can write *and* the backend can stage:

* ``gs://`` works on both backends (the pods need GCS credentials, e.g.
  Workload Identity on GKE; Vertex AI brings its own).
* ``s3://`` and ``minio://`` (open-source KFP's default store): refused.
  TensorFlow 2.16 has no S3 file system of its own and none for
  ``minio://`` at all. Adding tensorflow-io 0.37.1 (its only release for
  TF 2.16) was tried: it writes to an S3 server, but every process that
  used it then aborts at exit with code 134 (tensorflow/io#2039, open), so
  each task would fail. The Beam components would also need Beam's own S3
  file system (boto3, endpoint and credential options).
* an absolute local path compiles, with a warning: a cluster's pods do not
  share this machine's disk, so it only serves the local conformance runs
  (``python -m tests.kfp_conformance``).
"""

from __future__ import annotations

import os
from typing import Optional

from pipeline.kubeflow.targets import Target

LOCAL_WARNING = ("{flag} {path} is a local path: it serves local conformance runs only "
                 "(a cluster's pods cannot read this machine's disk; use gs://BUCKET/...)")


def check_uri(uri: str, target: Target, flag: str) -> Optional[str]:
    """None when ``uri`` serves ``target``, a one-line warning for a local path.

    Raises ValueError, naming the flag and what would work, for anything else.
    """
    if uri.startswith(target.storage_schemes):
        return None
    scheme, sep, _ = uri.partition("://")
    if not sep:
        if os.path.isabs(uri):
            return LOCAL_WARNING.format(flag=flag, path=uri)
        raise ValueError(f"{flag} {uri!r}: expected gs://BUCKET/PATH (or, for local "
                         "conformance runs, an absolute path)")
    if target.name == "vertex":
        raise ValueError(f"{flag} {uri!r}: Vertex AI Pipelines keeps artifacts on "
                         "Cloud Storage; expected gs://BUCKET/PATH")
    if scheme in ("s3", "minio"):
        raise ValueError(f"{flag} {uri!r}: the image's TensorFlow 2.16 cannot write {scheme}:// "
                         "(TensorFlow's S3 file system lives in tensorflow-io, whose TF 2.16 "
                         "release aborts each task at exit); use gs://BUCKET/PATH")
    raise ValueError(f"{flag} {uri!r}: unsupported storage {scheme}://; expected gs://BUCKET/PATH")
