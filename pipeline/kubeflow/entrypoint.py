"""The command of every Kubeflow task: TFX's executor runner, fed what it expects.

Each compiled task runs ``python -m pipeline.kubeflow.entrypoint`` with
TFX's own arguments (``--executor_class_path``,
``--json_serialized_invocation_args {{$}}``, optionally
``--json_serialized_inputs_spec_args``, then Beam's). The executor input in
those arguments comes from the backend's driver and launcher. Open-source
Kubeflow Pipelines (``backend/src/v2``) hands TFX one it does not expect;
this module adapts it, runs TFX's runner
(``tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor``)
in-process, and tidies after it:

1. **executor-logs.** With log publishing on (KFP 2.5+), the driver adds an
   output ``executor-logs`` typed ``system.Artifact``; TFX imports every
   output's type by its title and fails. It is taken out of what TFX sees
   and written back into the executor output as it was provisioned (the
   launcher tees the task's output into it).
2. **Untyped inputs.** The driver passes upstream artifacts with an empty
   type (``metadata/client.go`` leaves the schema empty); TFX fails reading
   it. Each such input gets the type of the component's input spec.
3. **No resolved model.** A :class:`LatestPushedModel` output marked
   ``msa_resolved = 0`` is removed from the inputs, as after an empty
   Resolver.
4. **gs:// folder markers.** TensorFlow writes a zero-byte ``name/`` object
   for each folder it creates on GCS; the launcher downloads a later task's
   inputs object by object and turns such a marker into a file where a
   folder must be (kubeflow/pipelines#13476). Under the open-source
   launcher they are deleted from every gs:// output after the executor.

A task that fails ends its log with one line saying why (``entrypoint:
error: ...``, e.g. the DriftGate's drift line) and exits 4 when the drift
gate refused the span, as the local runner does, else 1.

Under Vertex AI none of this occurs (typed inputs, no executor-logs, no
LatestPushedModel, no KFP launcher), and TFX's runner gets the executor
input unchanged. Under both backends the runner's own program path is kept
out of the Beam arguments (:func:`run_tfx`).
"""

from __future__ import annotations

import json
import os
import sys
from typing import List, Optional, Sequence, Tuple

from components.latest_pushed_model import RESOLVED_KEY

EXECUTOR_INPUT_FLAG = "--json_serialized_invocation_args"
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"
EXECUTOR_LOGS = "executor-logs"
# Set in every pod of the open-source launcher (argocompiler/container.go).
KFP_LAUNCHER_ENV = "KFP_POD_NAME"


class EntrypointError(RuntimeError):
    """A task's arguments that cannot be adapted; the message says which."""


def flag_value(argv: Sequence[str], flag: str) -> Tuple[Optional[int], Optional[str]]:
    """(index of the flag's value, value) for ``--flag value`` or ``--flag=value``."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return i + 1, argv[i + 1]
        if arg.startswith(flag + "="):
            return i, arg[len(flag) + 1:]
    return None, None


def field(message: Optional[dict], camel: str):
    """A protobuf JSON field by its camelCase or snake_case name (both parse)."""
    if not message:
        return None
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return message.get(camel, message.get(snake))


def _type_is_empty(artifact_type: Optional[dict]) -> bool:
    if not artifact_type:
        return True
    return not any(field(artifact_type, k) for k in ("schemaTitle", "instanceSchema", "schemaUri"))


def _unresolved(artifact: dict) -> bool:
    value = (artifact.get("metadata") or {}).get(RESOLVED_KEY)
    return value is not None and float(value) == 0.0


def adapt_executor_input(executor_input: dict, inputs_spec: Optional[dict]
                         ) -> Tuple[dict, Optional[dict], List[str]]:
    """(what TFX gets, the executor-logs artifact list or None, one line per change)."""
    adapted = json.loads(json.dumps(executor_input))
    changes = []
    outputs = adapted.setdefault("outputs", {}).setdefault("artifacts", {})
    logs = outputs.pop(EXECUTOR_LOGS, None)
    if logs is not None:
        changes.append(f"output {EXECUTOR_LOGS!r} kept from TFX (the launcher writes it)")
    spec_types = {name: field(spec, "artifactType")
                  for name, spec in ((inputs_spec or {}).get("artifacts") or {}).items()}
    inputs = adapted.setdefault("inputs", {}).setdefault("artifacts", {})
    for name in list(inputs):
        artifacts = inputs[name].get("artifacts") or []
        kept = [a for a in artifacts if not _unresolved(a)]
        if len(kept) != len(artifacts):
            changes.append(f"input {name!r}: no model resolved, handed on as none")
        for artifact in kept:
            if _type_is_empty(artifact.get("type")):
                if _type_is_empty(spec_types.get(name)):
                    raise EntrypointError(
                        f"input artifact {name!r} has no type, and the component's input spec "
                        f"({INPUTS_SPEC_FLAG}) gives none; compile with kubeflow_runner.py "
                        "--target kfp")
                artifact["type"] = spec_types[name]
                changes.append(f"input {name!r}: type taken from the component spec")
        if kept:
            inputs[name]["artifacts"] = kept
        else:
            del inputs[name]
    return adapted, logs, changes


def add_executor_logs(output_file: str, logs: dict) -> None:
    """Writes the provisioned executor-logs artifact back into TFX's executor output."""
    from tfx.dsl.io import fileio

    output = {}
    if fileio.exists(output_file):
        with fileio.open(output_file, "r") as f:
            output = json.loads(f.read() or "{}")
    output.setdefault("artifacts", {})[EXECUTOR_LOGS] = logs
    with fileio.open(output_file, "w") as f:
        f.write(json.dumps(output))


def split_gcs_uri(uri: str) -> Tuple[str, str]:
    bucket, _, key = uri[len("gs://"):].partition("/")
    return bucket, key


def delete_folder_markers(uri: str, client=None) -> List[str]:
    """Deletes the zero-byte ``name/`` objects at and under a gs:// ``uri``; returns them."""
    if not uri.startswith("gs://"):
        return []
    if client is None:
        from google.cloud import storage

        client = storage.Client()
    bucket_name, key = split_gcs_uri(uri.rstrip("/"))
    removed = []
    for blob in client.list_blobs(bucket_name, prefix=key):
        under = blob.name == key + "/" or blob.name.startswith(key + "/")
        if under and blob.name.endswith("/") and (blob.size or 0) == 0:
            blob.delete()
            removed.append(f"gs://{bucket_name}/{blob.name}")
    return removed


def output_uris(executor_input: dict) -> List[str]:
    return [a.get("uri", "") for lst in executor_input.get("outputs", {}).get(
        "artifacts", {}).values() for a in lst.get("artifacts") or []]


def run_tfx(argv: Sequence[str]) -> None:
    """TFX's runner as ``python -m`` runs it, but for its Beam arguments; returns on success.

    TFX's ``__main__`` hands absl's whole argv, program path included, to its
    flag parser, so the path comes back as an unknown argument and becomes a
    Beam argument: every Beam task then sees non-empty Beam arguments that
    name no worker dependencies and builds an sdist of TFX first (~2 s and
    a 52 MB folder left in /tmp). The parser here drops the program path.
    """
    from absl import app
    from tfx.orchestration.kubeflow.v2.container import (
        kubeflow_v2_run_executor as runner,
    )

    saved = sys.argv
    sys.argv = [runner.__file__, *argv]
    try:
        app.run(runner.main, flags_parser=lambda args: runner._parse_flags(args[1:]))
    except SystemExit as done:  # absl's app.run exits, 0 on success
        if done.code not in (None, 0):
            raise
    finally:
        sys.argv = saved


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    at, raw = flag_value(argv, EXECUTOR_INPUT_FLAG)
    if raw is None:
        print(f"entrypoint: error: {EXECUTOR_INPUT_FLAG} is missing; this is TFX's executor "
              "runner and expects its arguments", file=sys.stderr)
        return 2
    _, raw_spec = flag_value(argv, INPUTS_SPEC_FLAG)
    try:
        executor_input = json.loads(raw)
        inputs_spec = json.loads(raw_spec) if raw_spec else None
        adapted, logs, changes = adapt_executor_input(executor_input, inputs_spec)
    except (ValueError, EntrypointError) as err:
        print(f"entrypoint: error: {EXECUTOR_INPUT_FLAG}: {err}", file=sys.stderr)
        return 2
    for change in changes:
        print(f"entrypoint: {change}", file=sys.stderr)
    argv[at] = (json.dumps(adapted) if argv[at] == raw
                else f"{EXECUTOR_INPUT_FLAG}={json.dumps(adapted)}")
    try:
        run_tfx(argv)
    except Exception as err:  # the traceback, then why in one line: the log's last line
        import traceback

        from pipeline import failures

        traceback.print_exc()
        print(f"entrypoint: error: {failures.failure_reason(err)}", file=sys.stderr)
        return failures.exit_code(err)
    if logs is not None:
        add_executor_logs(field(adapted["outputs"], "outputFile"), logs)
    if os.environ.get(KFP_LAUNCHER_ENV):
        for uri in output_uris(adapted):
            for marker in delete_folder_markers(uri):
                print(f"entrypoint: removed folder marker {marker}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
