"""Compiles the MSA pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines.

    python kubeflow_runner.py --image REGISTRY/msa-tfx:TAG \\
        --pipeline-root gs://BUCKET/msa --data-root gs://BUCKET/data/mosi \\
        --output msa_pipeline.json [--endpoint https://KFP_HOST] \\
        [--beam-runner DataflowRunner -- --project=P --region=R --temp_location=gs://B/tmp]

It builds the same ``create_pipeline(...)`` as local_runner.py and compiles
it with TFX's KubeflowV2DagRunner. User code runs from the image by dotted
module path (``trainer.task.run_fn``, ...). ``train_steps`` and (with
``--data-root``) ``data_root`` are runtime parameters: a run can set them
without recompiling. ``--source FORMAT:PATH`` reads a downloaded dataset file
inside the pipeline instead; PATH must be visible to the pods (e.g. Vertex's
``/gcs/BUCKET/...`` mount). Arguments after ``--`` go to the Beam runner.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from typing import Dict, List, Optional, Sequence  # noqa: E402

from pipeline import blessing, cli, configs  # noqa: E402

BEAM_RUNNERS = ("DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner",
                "PortableRunner", "PrismRunner")
# Where the Dockerfile puts the repository inside the image.
CONTAINER_ROOT = "/msa"


class UsageError(ValueError):
    """A bad flag; the message says what to fix."""


def build_parser():
    p = cli.OneLineArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", required=True,
                   help="container image with this project installed (see Dockerfile)")
    p.add_argument("--pipeline-root", required=True,
                   help="artifact root: gs://..., s3://... or a path the cluster can reach")
    p.add_argument("--data-root",
                   help="default of the data_root runtime parameter: train/valid/test TFRecords")
    p.add_argument("--serving-dir", help="where blessed models are pushed "
                   "(default: <pipeline-root>/serving_model)")
    p.add_argument("--schema-path", default=f"{CONTAINER_ROOT}/schema/schema.pbtxt",
                   help="curated schema path inside the image")
    p.add_argument("--output", default="msa_pipeline.json", help="compiled pipeline file (.json)")
    p.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    p.add_argument("--beam-runner", default="DirectRunner",
                   help=f"Beam runner for the data-parallel components: {', '.join(BEAM_RUNNERS)}")
    p.add_argument("--endpoint", help="KFP API URL: also upload the pipeline and start a run")
    p.add_argument("--experiment", default="msa", help="KFP experiment for --endpoint runs")
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


def beam_pipeline_args(runner: str, passthrough: List[str]) -> List[str]:
    if runner not in BEAM_RUNNERS:
        raise UsageError(f"--beam-runner: unknown runner {runner!r}; expected one of "
                         f"{', '.join(BEAM_RUNNERS)}")
    if any(a.startswith("--runner") for a in passthrough):
        raise UsageError("pass the Beam runner with --beam-runner, not --runner after '--'")
    return [f"--runner={runner}", *passthrough]


def compile_pipeline(args, beam_args: List[str]) -> Dict:
    """Compiles to a PipelineJob dict; raises on any compilation problem."""
    # Flags first: a typo is answered before TFX is imported (seconds).
    config = cli.trainer_config_from(args)
    evaluation_settings = blessing.settings_from(args)
    tuning = cli.tuning_from(args)
    if bool(args.data_root) == bool(args.source):
        raise UsageError("give the data as exactly one of --data-root DIR or --source FORMAT:PATH")
    from tfx import v1 as tfx
    from tfx.orchestration import data_types

    from pipeline.pipeline import create_pipeline

    source = options = None
    defaults = {"train_steps": cli.train_steps_from(args)}
    if args.source:
        # The file must be readable here too (e.g. Vertex's /gcs/BUCKET mount
        # or a copy): its structure gives the dims Transform and the model use.
        source, options, dims, _ = cli.inspect_source(
            args.source, args.source_dataset, args.source_unaligned)
        config = dataclasses.replace(config, dims=dims)
        data_root = None
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
        serving_dir=args.serving_dir or args.pipeline_root.rstrip("/") + "/serving_model",
        trainer_config=config,
        train_steps=train_steps,
        mae_change_tolerance=evaluation_settings.mae_tolerance,
        corr_floor=evaluation_settings.corr_floor,
        min_slice_size=evaluation_settings.min_slice_size,
        beam_pipeline_args=beam_args,
        **dict(zip(("tune_trials", "tune_steps", "tune_fixed"), tuning)),
    )
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=args.image))
    job = runner.run(pipeline, parameter_values=defaults, write_out=False)
    add_parameter_defaults(job["pipelineSpec"], defaults)
    validate_pipeline_spec(job["pipelineSpec"])
    return job


def add_parameter_defaults(pipeline_spec: Dict, defaults: Dict) -> None:
    """Records runtime-parameter defaults in the spec itself.

    TFX puts them only in the job's runtimeConfig; KFP's UI and clients that
    submit the bare spec read ``defaultValue`` from the root inputs.
    """
    params = pipeline_spec["root"]["inputDefinitions"]["parameters"]
    for name, value in defaults.items():
        params[name]["defaultValue"] = value
        params[name]["isOptional"] = True


def validate_pipeline_spec(pipeline_spec: Dict):
    """Parses the spec into KFP's PipelineSpec proto (fails on unknown fields)."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    return json_format.ParseDict(pipeline_spec, pipeline_spec_pb2.PipelineSpec())


def runtime_defaults(job: Dict) -> Dict:
    """Typed runtime-parameter defaults from the job's runtimeConfig."""
    cast = {"intValue": int, "doubleValue": float, "stringValue": str}
    return {name: cast[kind](raw) for name, value in job["runtimeConfig"]["parameters"].items()
            for kind, raw in value.items()}


def write_atomically(path: str, job: Dict) -> None:
    """Writes the file in full or not at all."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".msa_pipeline_", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(job, f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def submit(endpoint: str, job: Dict, experiment: str, parameters: Dict) -> str:
    """Uploads the compiled spec and starts a run through kfp.Client; returns the run id."""
    import kfp

    client = kfp.Client(host=endpoint)
    with tempfile.TemporaryDirectory() as tmp:
        # kfp.Client takes a bare PipelineSpec (not TFX's PipelineJob wrapper)
        # in a .yaml file; JSON is valid YAML.
        spec_path = os.path.join(tmp, "pipeline.yaml")
        with open(spec_path, "w") as f:
            json.dump(job["pipelineSpec"], f)
        name = job["pipelineSpec"]["pipelineInfo"]["name"]
        client.upload_pipeline(spec_path, pipeline_name=name)
        run = client.create_run_from_pipeline_package(
            spec_path, arguments=parameters, experiment_name=experiment,
            run_name=f"{name}-run", enable_caching=True)
    return run.run_id


def main(argv: Optional[Sequence[str]] = None) -> int:
    ours, passthrough = split_beam_args(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(ours)
    prog = "kubeflow_runner.py"
    try:
        beam = beam_pipeline_args(args.beam_runner, passthrough)
        job = compile_pipeline(args, beam)
    except (UsageError, ValueError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    write_atomically(args.output, job)
    print(f"compiled {args.pipeline_name} -> {os.path.abspath(args.output)}")
    parameters = runtime_defaults(job)
    print(f"  image {args.image}; runtime parameters: "
          + ", ".join(f"{k}={v}" for k, v in sorted(parameters.items())))
    if args.endpoint:
        try:
            run_id = submit(args.endpoint, job, args.experiment, parameters)
        except Exception as err:  # network and API errors: one line, what to check
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            print(f"{prog}: error: --endpoint {args.endpoint}: could not upload or start the "
                  f"run ({type(err).__name__}: {reason[:200]}); check the URL, that the KFP API "
                  "is reachable from here, and your credentials", file=sys.stderr)
            return 1
        print(f"  started run {run_id} at {args.endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
