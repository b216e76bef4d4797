"""Compiles the MSA pipeline for open-source Kubeflow Pipelines v2 or Vertex AI, and starts runs.

    python kubeflow_runner.py --image REGISTRY/msa-tfx:TAG \\
        --pipeline-root gs://BUCKET/msa --data-root gs://BUCKET/data/mosi \\
        [--target kfp|vertex] [--output FILE] \\
        [--endpoint https://KFP_HOST | --project P --region R] \\
        [--cpu Trainer=8 --memory Trainer=16 --gpus 1 --gpu-type TYPE] \\
        [--beam-runner DataflowRunner -- --project=P --region=R --temp_location=gs://B/tmp]

It builds the same ``create_pipeline(...)`` as local_runner.py, compiles it
with TFX's KubeflowV2DagRunner and adapts it to the target
(pipeline/kubeflow/): ``kfp`` (default) is a bare PipelineSpec in YAML,
schema 2.1.0, container tasks only, for the KFP UI or ``--endpoint``;
``vertex`` is TFX's PipelineJob JSON for Vertex AI. Every task runs
``python -m pipeline.kubeflow.entrypoint`` in the image, and user code by
dotted module path. ``train_steps`` and (with ``--data-root``)
``data_root`` are runtime parameters. ``--source FORMAT:PATH`` reads a
downloaded dataset file inside the pipeline instead; PATH must be visible
to the pods. Arguments after ``--`` go to the Beam runner.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

from pipeline import blessing, cli, configs
from pipeline.kubeflow import resources, storage, submit, targets
from pipeline.kubeflow import spec as spec_lib
from trainer import keras_choice

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BEAM_RUNNERS = ("DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner",
                "PortableRunner", "PrismRunner")
# Where the Dockerfile puts the repository inside the image.
CONTAINER_ROOT = "/msa"
PROG = "kubeflow_runner.py"


class UsageError(ValueError):
    """A bad flag; the message says what to fix."""


def build_parser():
    p = cli.OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--image", required=True,
                   help="container image with this project installed (see Dockerfile)")
    p.add_argument("--target", choices=tuple(targets.TARGETS), default="kfp",
                   help="kfp: open-source Kubeflow Pipelines v2 (default); vertex: Vertex AI")
    p.add_argument("--pipeline-root", required=True,
                   help="artifact root: gs://BUCKET/PATH (a local absolute path only serves "
                   "local conformance runs)")
    p.add_argument("--data-root",
                   help="default of the data_root runtime parameter: train/valid/test TFRecords")
    p.add_argument("--serving-dir", help="where blessed models are pushed "
                   "(default: <pipeline-root>/serving_model)")
    p.add_argument("--schema-path", default=f"{CONTAINER_ROOT}/schema/schema.pbtxt",
                   help="curated schema path inside the image")
    p.add_argument("--output", help="compiled pipeline file (default: msa_pipeline.yaml "
                   "for kfp, msa_pipeline.json for vertex)")
    p.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    p.add_argument("--beam-runner", default="DirectRunner",
                   help=f"Beam runner for the data-parallel components: {', '.join(BEAM_RUNNERS)}")
    g = p.add_argument_group("submission")
    g.add_argument("--endpoint", help="kfp: KFP API URL; upload the pipeline (a new version "
                   "if it exists) and start a run")
    g.add_argument("--experiment", default="msa", help="KFP experiment for --endpoint runs")
    g.add_argument("--project", help="vertex: Google Cloud project; with --region, submit")
    g.add_argument("--region", help="vertex: region of the PipelineJob, e.g. europe-west4")
    g.add_argument("--service-account", help="vertex: service account the job runs as")
    r = p.add_argument_group("resources (defaults sized from make bench-scale at MOSEI size)")
    r.add_argument("--cpu", action="append", metavar="COMPONENT=CORES", default=[],
                   help="CPU cores for a component, e.g. Trainer=8 (repeatable)")
    r.add_argument("--memory", action="append", metavar="COMPONENT=GB", default=[],
                   help="memory request in GB for a component (the limit is twice it)")
    r.add_argument("--gpus", type=int, default=0,
                   help="accelerators for the Trainer and the Tuner (default 0)")
    r.add_argument("--gpu-type", help=f"accelerator type: a Kubernetes resource on kfp "
                   f"(default {resources.KFP_GPU_RESOURCE}), a Vertex accelerator on vertex "
                   "(e.g. NVIDIA_L4; required there with --gpus)")
    cli.add_source_flags(p)
    cli.add_training_flags(p)
    blessing.add_evaluation_flags(p)
    return p


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


def check_vertex_accelerator(gpu_type: str) -> None:
    from google.cloud.aiplatform_v1.types import AcceleratorType

    known = [t.name for t in AcceleratorType if t.value]
    if gpu_type not in known:
        raise UsageError(f"--gpu-type {gpu_type!r}: not a Vertex AI accelerator; expected one "
                         f"of {', '.join(known)}")


def compile_pipeline(args, beam_args: List[str]) -> Dict:
    """Compiles and adapts; returns {"job", "spec", "target", "warnings", "parameters"}."""
    # Flags first: a typo is answered before TFX is imported (seconds).
    target = targets.TARGETS[args.target]
    config = cli.trainer_config_from(args)
    evaluation_settings = blessing.settings_from(args)
    tuning = cli.tuning_from(args)
    if bool(args.data_root) == bool(args.source):
        raise UsageError("give the data as exactly one of --data-root DIR or --source FORMAT:PATH")
    check_submission_flags(args, target)
    serving_dir = args.serving_dir or args.pipeline_root.rstrip("/") + "/serving_model"
    warnings = [w for w in (
        storage.check_uri(args.pipeline_root, target, "--pipeline-root"),
        storage.check_uri(serving_dir, target, "--serving-dir") if args.serving_dir else None,
        storage.check_uri(args.data_root, target, "--data-root") if args.data_root else None,
    ) if w]
    cpu = resources.parse_assignments(args.cpu, "--cpu", _resource_names())
    memory = resources.parse_assignments(args.memory, "--memory", _resource_names())
    if target.name == "vertex" and args.gpus:
        check_vertex_accelerator(args.gpu_type)

    from tfx import v1 as tfx
    from tfx.orchestration import data_types

    from pipeline.pipeline import create_pipeline

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
        mae_change_tolerance=evaluation_settings.mae_tolerance,
        corr_floor=evaluation_settings.corr_floor,
        min_slice_size=evaluation_settings.min_slice_size,
        beam_pipeline_args=beam_args,
        baseline_from=target.baseline_from,
        fingerprint_inputs=target.fingerprint_inputs,
        **dict(zip(("tune_trials", "tune_steps", "tune_fixed"), tuning)),
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
    return {"job": job, "spec": spec, "target": target, "warnings": warnings,
            "parameters": defaults, "serving_dir": serving_dir}


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


def _one_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ours, passthrough = split_beam_args(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(ours)
    target = targets.TARGETS[args.target]
    output = args.output or f"msa_pipeline{target.output_suffix}"
    try:
        if not output.endswith(targets.OUTPUT_SUFFIXES):
            raise UsageError(f"--output {output!r}: expected a .yaml, .yml or .json file "
                             "(KFP reads a pipeline package by its suffix)")
        beam = beam_pipeline_args(args.beam_runner, passthrough, args.image)
        compiled = compile_pipeline(args, beam)
    except (UsageError, ValueError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    for warning in compiled["warnings"]:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    write_atomically(output, render(compiled, output))
    parameters = compiled["parameters"]
    print(f"compiled {args.pipeline_name} for {target.name} (schema "
          f"{target.schema_version}) -> {os.path.abspath(output)}")
    print(f"  image {args.image}; runtime parameters: "
          + ", ".join(f"{k}={v}" for k, v in sorted(parameters.items())))

    if args.endpoint:
        try:
            run_id, url = submit.submit_kfp(args.endpoint, output, args.pipeline_name,
                                            args.experiment, parameters, args.pipeline_root)
        except Exception as err:  # network and API errors: one line, what to check
            print(f"{PROG}: error: --endpoint {args.endpoint}: could not upload or start the "
                  f"run ({type(err).__name__}: {_one_line(err)}); check the URL, that the KFP "
                  "API is reachable from here, and your credentials", file=sys.stderr)
            return 1
        print(f"  started run {run_id}: {url}")
    if args.project:
        try:
            name, url = submit.submit_vertex(output, args.project, args.region,
                                             args.pipeline_root, parameters,
                                             args.pipeline_name, args.service_account)
        except Exception as err:  # auth, quota and API errors: one line
            print(f"{PROG}: error: Vertex AI ({args.project}, {args.region}): could not submit "
                  f"the PipelineJob ({type(err).__name__}: {_one_line(err)}); check the "
                  "project, region and your credentials", file=sys.stderr)
            return 1
        print(f"  submitted {name}: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
