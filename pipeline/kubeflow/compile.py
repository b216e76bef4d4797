"""Compiling the pipeline for a Kubeflow target: flags checked, the spec built and adapted.

``kubeflow_runner.py`` parses the flags and calls, in order:
:func:`split_beam_args` and :func:`beam_pipeline_args` (the Beam components'
arguments), :func:`compile_pipeline` (every flag checked before TFX is
imported, then ``create_pipeline`` compiled by KubeflowV2DagRunner and
adapted to the target: pipeline/kubeflow/spec.py), :func:`render` and
:func:`write_atomically` (the file), then pipeline/kubeflow/submit.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Dict, List, Optional, Sequence

from msa_data import lengths
from pipeline import blessing, cli
from pipeline.kubeflow import resources, schedule, storage, targets
from pipeline.kubeflow import spec as spec_lib

BEAM_RUNNERS = ("DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner",
                "PortableRunner", "PrismRunner")


class UsageError(ValueError):
    """A bad flag; the message says what to fix."""


def split_beam_args(argv: Sequence[str]):
    """(our flags, flags after '--' for the Beam runner)."""
    argv = list(argv)
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1:]
    return argv, []


# Beam flags that tell TFX where the workers get their Python dependencies;
# without one, every Beam task first builds an sdist of TFX for remote workers.
DEPENDENCY_FLAGS = ("--sdk_container_image", "--worker_harness_container_image",
                    "--extra_package", "--setup_file", "--requirements_file")


def beam_pipeline_args(runner: str, passthrough: List[str], image: str) -> List[str]:
    """The Beam components' arguments.

    The DirectRunner in the task's own pod needs none (Beam's defaults). Any
    other setting names the image as the workers' environment
    (``--sdk_container_image``, unless a dependency flag is given): the
    workers then import this project as the pods do, and TFX skips building
    an sdist of itself in every Beam task (~2 s and a 52 MB folder left in
    the pod's /tmp each time).
    """
    if runner not in BEAM_RUNNERS:
        raise UsageError(f"--beam-runner: unknown runner {runner!r}; expected one of "
                         f"{', '.join(BEAM_RUNNERS)}")
    if any(a.startswith("--runner") for a in passthrough):
        raise UsageError("pass the Beam runner with --beam-runner, not --runner after '--'")
    if runner == "DirectRunner" and not passthrough:
        return []
    args = [f"--runner={runner}", *passthrough]
    if not any(a.startswith(DEPENDENCY_FLAGS) for a in passthrough):
        args.append(f"--sdk_container_image={image}")
    return args


def check_submission_flags(args, target: targets.Target) -> None:
    if target.name == "kfp" and (args.project or args.region):
        raise UsageError("--project/--region submit to Vertex AI; use them with --target vertex "
                         "(for Kubeflow Pipelines give --endpoint)")
    if target.name == "vertex" and args.endpoint:
        raise UsageError("--endpoint is a Kubeflow Pipelines API; with --target vertex give "
                         "--project and --region")
    if bool(args.project) != bool(args.region):
        raise UsageError("give --project and --region together to submit to Vertex AI")
    if args.gpus < 0:
        raise UsageError(f"--gpus: expected >= 0, got {args.gpus}")
    if target.name == "vertex" and args.gpus and not args.gpu_type:
        raise UsageError("--gpus on vertex needs --gpu-type, a Vertex accelerator such as "
                         "NVIDIA_L4 or NVIDIA_TESLA_T4")
    if args.schedule and not args.endpoint:
        raise UsageError("--schedule creates a recurring run on Kubeflow Pipelines: give "
                         "--endpoint too (target kfp)")


def span_settings(args, target: targets.Target):
    """(spans on?, {name: threshold}) from the span flags; UsageError names a bad one.

    On open-source KFP every compiled pipeline reads span folders when the data
    root holds them (the span is resolved in the InputFingerprint task). Vertex
    AI compiles TFX's ExampleGen driver instead, which this project does not
    point at span folders yet.
    """
    thresholds = cli.drift_thresholds_from(args.drift_threshold)
    given = [flag for flag, on in (("--span", args.span), ("--allow-drift", args.allow_drift),
                                   ("--drift-threshold", thresholds)) if on]
    if args.span < 0:
        raise UsageError(f"--span {args.span}: expected a span number >= 1, or 0 for the "
                         "latest span folder at run time")
    if target.name != "kfp" and given:
        raise UsageError(f"{given[0]}: data spans are compiled for --target kfp only")
    if args.source and given:
        raise UsageError(f"{given[0]}: needs a --data-root of span folders, not --source")
    return target.name == "kfp" and not args.source, thresholds


def check_vertex_accelerator(gpu_type: str) -> None:
    from google.cloud.aiplatform_v1.types import AcceleratorType

    known = [t.name for t in AcceleratorType if t.value]
    if gpu_type not in known:
        raise UsageError(f"--gpu-type {gpu_type!r}: not a Vertex AI accelerator; expected one "
                         f"of {', '.join(known)}")


def compile_pipeline(args, beam_args: List[str]) -> Dict:
    """Compiles and adapts; returns {"job", "spec", "target", "warnings", "notes",
    "parameters", "serving_dir"}."""
    # Flags first: a typo is answered before TFX is imported (seconds).
    target = targets.TARGETS[args.target]
    config = cli.trainer_config_from(args)
    evaluation_settings = blessing.settings_from(args)
    tuning = cli.tuning_from(args)
    if bool(args.data_root) == bool(args.source):
        raise UsageError("give the data as exactly one of --data-root DIR or --source FORMAT:PATH")
    check_submission_flags(args, target)
    cron = schedule.kfp_cron(args.schedule) if args.schedule else None
    spans, thresholds = span_settings(args, target)
    if cron and args.span:
        raise UsageError(f"--schedule with --span {args.span}: every scheduled run would "
                         "retrain that span; leave --span at 0 so each run reads the newest")
    serving_dir = args.serving_dir or args.pipeline_root.rstrip("/") + "/serving_model"
    warnings = [w for w in (
        storage.check_uri(args.pipeline_root, target, "--pipeline-root"),
        storage.check_uri(serving_dir, target, "--serving-dir") if args.serving_dir else None,
        storage.check_uri(args.data_root, target, "--data-root") if args.data_root else None,
    ) if w]
    # The data root is a runtime parameter, read only in the cluster: unless
    # the lengths are given, a SequenceLengths task chooses them there.
    lengths_given = cli.given_lengths_source(args, config)
    notes = [lengths.describe_without_data(config.max_lens, lengths_given) if lengths_given else
             "sequence lengths: chosen when the pipeline runs, from the train split's "
             "statistics (the SequenceLengths task's log says them)"]
    cpu = resources.parse_assignments(args.cpu, "--cpu", _resource_names())
    memory = resources.parse_assignments(args.memory, "--memory", _resource_names())
    if target.name == "vertex" and args.gpus:
        check_vertex_accelerator(args.gpu_type)

    from tfx import v1 as tfx
    from tfx.orchestration import data_types

    from pipeline.pipeline import create_pipeline
    from pipeline.spans import DriftSettings

    source = options = source_bytes = None
    defaults = {"train_steps": cli.train_steps_from(args)}
    if args.source:
        # The file must be readable here too (e.g. Vertex's /gcs/BUCKET mount
        # or a copy): its structure gives the dims Transform and the model use.
        source, options, dims, _ = cli.inspect_source(
            args.source, args.source_dataset, args.source_unaligned)
        config = dataclasses.replace(config, dims=dims)
        data_root = None
        source_bytes = _size_of(source.split(":", 1)[1])
    else:
        defaults["data_root"] = args.data_root
        data_root = data_types.RuntimeParameter(
            name="data_root", ptype=str, default=args.data_root)
    train_steps = data_types.RuntimeParameter(
        name="train_steps", ptype=int, default=cli.train_steps_from(args))
    span = allow_drift = None
    if spans:
        # A recurring run leaves span at 0 and reads the newest span folder;
        # allow_drift=1 reruns a refused span once it has been looked at.
        defaults.update(span=args.span, allow_drift=int(args.allow_drift))
        span = data_types.RuntimeParameter(name="span", ptype=int, default=args.span)
        allow_drift = data_types.RuntimeParameter(
            name="allow_drift", ptype=int, default=int(args.allow_drift))
    pipeline = create_pipeline(
        pipeline_name=args.pipeline_name,
        pipeline_root=args.pipeline_root,
        data_root=data_root,
        source=source,
        source_options=options,
        schema_path=args.schema_path,
        serving_dir=serving_dir,
        trainer_config=config,
        train_steps=train_steps,
        blessing_settings=evaluation_settings,
        beam_pipeline_args=beam_args,
        baseline_from=target.baseline_from,
        fingerprint_inputs=target.fingerprint_inputs,
        tune_trials=tuning[0],
        tune_steps=tuning[1],
        tune_fixed=tuning[2],
        lengths_from_statistics=lengths_given is None,
        spans=spans,
        span=span,
        drift=DriftSettings(tuple(sorted(thresholds.items())), allow_drift or False),
    )
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=args.image, default_commands=list(targets.ENTRYPOINT_COMMAND),
            use_pipeline_spec_2_1=target.schema_version == "2.1.0"))
    job = runner.run(pipeline, parameter_values=defaults, write_out=False)
    spec = job["pipelineSpec"]
    per_task = resources.for_tasks(spec_lib.container_tasks(spec), cpu, memory, source_bytes)
    spec_lib.adapt(spec, target, defaults, per_task, args.gpus, args.gpu_type)
    spec_lib.check(spec, target)
    if spans:
        notes.append("data spans: a data_root of span-1/ ... span-N/ folders is read span by "
                     "span (runtime parameter span, 0: the newest when the run starts); a "
                     "DriftGate task stops a drifted span before Transform")
    return {"job": job, "spec": spec, "target": target, "warnings": warnings,
            "notes": notes, "parameters": defaults, "serving_dir": serving_dir,
            "schedule": cron}


def _resource_names():
    names = set(resources.DEFAULTS) | {resources.SOURCE_EXAMPLE_GEN}
    return names


def _size_of(path: str) -> Optional[int]:
    import tensorflow as tf

    try:
        return tf.io.gfile.stat(path).length if not tf.io.gfile.isdir(path) else None
    except tf.errors.OpError:
        return None


def render(compiled: Dict, path: str) -> str:
    """The file's text: the bare spec (kfp) or TFX's job (vertex), in YAML or JSON by suffix."""
    content = compiled["spec"] if compiled["target"].bare_spec else compiled["job"]
    if path.endswith((".yaml", ".yml")):
        import yaml

        header = (f"# PIPELINE DEFINITION (kubeflow_runner.py --target "
                  f"{compiled['target'].name})\n"
                  f"# Name: {compiled['spec']['pipelineInfo']['name']}\n")
        return header + yaml.safe_dump(content, sort_keys=True)
    return json.dumps(content, indent=2, sort_keys=True)


def write_atomically(path: str, text: str) -> None:
    """Writes the file in full or not at all, readable by all (0644)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".msa_pipeline_")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
