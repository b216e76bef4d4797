"""MsaPusher: TFX's Pusher, made idempotent and atomic for a filesystem target.

The stock Pusher copies a blessed model into ``<base>/<unix second>``:

* a rerun on unchanged inputs pushes the same model again as a new version
  (the Evaluator reruns once its baseline changes from none to the blessed
  model), so a model server reloads an identical model;
* the copy is written in place, so a kill or a full disk leaves a partial
  newest version that a polling server would try to load;
* two pushes in one second collide.

This executor keeps the stock blessing check, outputs and MLMD properties,
and changes the push itself:

* **Unchanged model, no new version.** Every pushed version holds
  ``msa_push.json`` with the SHA-256 of the SavedModel's files. When the
  newest version already holds this model, nothing is written; the output
  artifact says so (``push_outcome`` ``unchanged``, ``served_version``).
* **Atomic.** The model is copied to a hidden ``.tmp-<version>-<pid>``
  folder beside the versions and renamed into place once complete; a
  failed copy is removed, and a stale temporary folder from a killed push
  is cleared at the next push. A model server only ever sees whole
  versions. (A rename is atomic on a POSIX filesystem; on an object store
  such as GCS the version appears when the copy completes.)
* **Versions never collide.** A new version is ``max(unix second, newest +
  1)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
from tfx import types
from tfx.components.pusher import component as pusher_component
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

MANIFEST = "msa_push.json"
TMP_PREFIX = ".tmp-"
# Custom properties of the pushed_model artifact, beside TFX's own `pushed`,
# `pushed_destination` and `pushed_version`.
OUTCOME_KEY = "push_outcome"  # pushed | unchanged | not_blessed
SERVED_VERSION_KEY = "served_version"
SERVED_DESTINATION_KEY = "served_destination"

_VERSION = re.compile(r"^\d+$")


def model_digest(model_dir: str) -> str:
    """SHA-256 over a SavedModel folder's relative paths and file contents."""
    h = hashlib.sha256()
    files = []
    for root, _, names in fileio.walk(model_dir):
        for name in names:
            path = os.path.join(root, name)
            files.append((os.path.relpath(path, model_dir), path))
    for rel, path in sorted(files):
        h.update(rel.encode())
        h.update(b"\0")
        with fileio.open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
    return h.hexdigest()


def versions(base: str) -> List[int]:
    """Complete pushed versions under ``base`` (numeric folder names), ascending."""
    if not fileio.exists(base):
        return []
    return sorted(int(name.rstrip("/")) for name in fileio.listdir(base)
                  if _VERSION.match(name.rstrip("/")))


def read_manifest(version_dir: str) -> Dict[str, Any]:
    path = os.path.join(version_dir, MANIFEST)
    if not fileio.exists(path):
        return {}
    with fileio.open(path, "r") as f:
        return json.loads(f.read())


def next_version(existing: List[int], now: Optional[float] = None) -> int:
    now = int(time.time() if now is None else now)
    return max(now, existing[-1] + 1) if existing else now


def clear_stale_temporaries(base: str) -> List[str]:
    """Removes half-written pushes left by a killed process; returns their names."""
    if not fileio.exists(base):
        return []
    removed = []
    for name in fileio.listdir(base):
        name = name.rstrip("/")
        if name.startswith(TMP_PREFIX):
            fileio.rmtree(os.path.join(base, name))
            removed.append(name)
    return removed


def push_atomically(model_dir: str, base: str, digest: str,
                    manifest: Dict[str, Any]) -> Tuple[str, str]:
    """Copies ``model_dir`` to a new version under ``base``; returns (version, path)."""
    fileio.makedirs(base)
    version = str(next_version(versions(base)))
    tmp = os.path.join(base, f"{TMP_PREFIX}{version}-{os.getpid()}")
    final = os.path.join(base, version)
    try:
        io_utils.copy_dir(model_dir, tmp)
        with fileio.open(os.path.join(tmp, MANIFEST), "w") as f:
            f.write(json.dumps({**manifest, "digest": digest, "version": version}, indent=2))
        fileio.rename(tmp, final)
    except BaseException:
        if fileio.exists(tmp):
            fileio.rmtree(tmp)
        raise
    return version, final


class Executor(pusher_executor.Executor):
    """The stock Pusher executor with an idempotent, atomic filesystem push."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(OUTCOME_KEY, "not_blessed")
            return
        model_dir = self.GetModelPath(input_dict)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError("MsaPusher pushes to a filesystem destination only")
        base = destination.filesystem.base_directory

        for name in clear_stale_temporaries(base):
            logging.warning("Pusher: removed %s, a push interrupted before it completed", name)
        digest = model_digest(model_dir)
        existing = versions(base)
        newest = os.path.join(base, str(existing[-1])) if existing else None
        if newest and read_manifest(newest).get("digest") == digest:
            logging.info("Pusher: version %s already holds this model; nothing pushed",
                         existing[-1])
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(OUTCOME_KEY, "unchanged")
            model_push.set_string_custom_property(SERVED_VERSION_KEY, str(existing[-1]))
            model_push.set_string_custom_property(SERVED_DESTINATION_KEY, newest)
            return

        models = input_dict.get(standard_component_specs.MODEL_KEY) or []
        source = models[0].uri if models else model_dir
        version, path = push_atomically(model_dir, base, digest, {"model": source})
        io_utils.copy_dir(model_dir, model_push.uri)  # the archive copy, as the stock Pusher
        self._MarkPushed(model_push, pushed_destination=path, pushed_version=version)
        model_push.set_string_custom_property(OUTCOME_KEY, "pushed")
        model_push.set_string_custom_property(SERVED_VERSION_KEY, version)
        model_push.set_string_custom_property(SERVED_DESTINATION_KEY, path)
        logging.info("Pusher: pushed version %s to %s", version, path)


class MsaPusher(pusher_component.Pusher):
    """The stock Pusher component running :class:`Executor`."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
