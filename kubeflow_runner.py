"""Compiles the MSA pipeline for open-source Kubeflow Pipelines v2 or Vertex AI, and starts runs.

    python kubeflow_runner.py --image REGISTRY/msa-tfx:TAG \\
        --pipeline-root gs://BUCKET/msa --data-root gs://BUCKET/data/mosi \\
        [--target kfp|vertex] [--output FILE] \\
        [--endpoint https://KFP_HOST [--schedule CRON] | --project P --region R] \\
        [--cpu Trainer=8 --memory Trainer=16 --gpus 1 --gpu-type TYPE] \\
        [--beam-runner DataflowRunner -- --project=P --region=R --temp_location=gs://B/tmp]

It builds the same ``create_pipeline(...)`` as local_runner.py, compiles it
with TFX's KubeflowV2DagRunner and adapts it to the target
(pipeline/kubeflow/): ``kfp`` (default) is a bare PipelineSpec in YAML,
schema 2.1.0, container tasks only, for the KFP UI or ``--endpoint``;
``vertex`` is TFX's PipelineJob JSON for Vertex AI. Every task runs
``python -m pipeline.kubeflow.entrypoint`` in the image, and user code by
dotted module path. ``train_steps`` and (with ``--data-root``)
``data_root`` are runtime parameters; on kfp so are ``span`` (a data root
of ``span-1/ ... span-N/`` folders is read one span at a time, 0: the
newest when the run starts) and ``allow_drift``, and ``--schedule CRON``
with ``--endpoint`` creates a recurring run. ``--source FORMAT:PATH`` reads a
downloaded dataset file inside the pipeline instead; PATH must be visible
to the pods. Arguments after ``--`` go to the Beam runner.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

from pipeline import blessing, cli, configs
from pipeline.kubeflow import compile as compile_lib
from pipeline.kubeflow import resources, submit, targets
from trainer import keras_choice

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Where the Dockerfile puts the repository inside the image.
CONTAINER_ROOT = "/msa"
PROG = "kubeflow_runner.py"


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
                   help="Beam runner for the data-parallel components: "
                   + ", ".join(compile_lib.BEAM_RUNNERS))
    g = p.add_argument_group("submission")
    g.add_argument("--endpoint", help="kfp: KFP API URL; upload the pipeline (a new version "
                   "if it exists) and start a run")
    g.add_argument("--experiment", default="msa", help="KFP experiment for --endpoint runs")
    g.add_argument("--schedule", metavar="CRON",
                   help="kfp, with --endpoint: create a recurring run on this cron schedule "
                   "(UTC; crontab's 5 fields, e.g. '0 3 * * *', or KFP's 6 with seconds first, "
                   "or @daily, @every 6h ...) instead of one run; one run at a time, no "
                   "catch-up of missed times")
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
    s = p.add_argument_group("data spans (kfp): a data_root of span-1/ ... span-N/ folders")
    s.add_argument("--span", type=int, default=0, metavar="K",
                   help="default of the span runtime parameter: train on span K and evaluate "
                   "on its test split; 0 (default): the newest span folder when the run "
                   "starts. A data_root without span folders is read as it is")
    s.add_argument("--allow-drift", action="store_true",
                   help="default of the allow_drift runtime parameter (0 or 1): run on when the "
                   "span drifted from the one before it (by default the DriftGate task fails "
                   "the run before Transform and nothing is pushed)")
    s.add_argument("--drift-threshold", action="append", default=[], metavar="NAME=X",
                   help="override the schema's drift threshold of a feature or a modality "
                   "(text, audio, video); repeatable")
    cli.add_source_flags(p)
    cli.add_training_flags(p)
    blessing.add_evaluation_flags(p)
    return p


def _one_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ours, passthrough = compile_lib.split_beam_args(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(ours)
    target = targets.TARGETS[args.target]
    output = args.output or f"msa_pipeline{target.output_suffix}"
    try:
        if not output.endswith(targets.OUTPUT_SUFFIXES):
            raise compile_lib.UsageError(
                f"--output {output!r}: expected a .yaml, .yml or .json file "
                "(KFP reads a pipeline package by its suffix)")
        beam = compile_lib.beam_pipeline_args(args.beam_runner, passthrough, args.image)
        compiled = compile_lib.compile_pipeline(args, beam)
    except (compile_lib.UsageError, ValueError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    for warning in compiled["warnings"]:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    compile_lib.write_atomically(output, compile_lib.render(compiled, output))
    parameters = compiled["parameters"]
    print(f"compiled {args.pipeline_name} for {target.name} (schema "
          f"{target.schema_version}) -> {os.path.abspath(output)}")
    print(f"  image {args.image}; runtime parameters: "
          + ", ".join(f"{k}={v}" for k, v in sorted(parameters.items())))
    for note in compiled["notes"]:
        print(f"  {note}")

    if args.endpoint:
        try:
            run_id, url = submit.submit_kfp(args.endpoint, output, args.pipeline_name,
                                            args.experiment, parameters, args.pipeline_root,
                                            compiled["schedule"])
        except Exception as err:  # network and API errors: one line, what to check
            print(f"{PROG}: error: --endpoint {args.endpoint}: could not upload or start the "
                  f"run ({type(err).__name__}: {_one_line(err)}); check the URL, that the KFP "
                  "API is reachable from here, and your credentials", file=sys.stderr)
            return 1
        if compiled["schedule"]:
            print(f"  created recurring run {run_id} (cron '{compiled['schedule']}', UTC): {url}")
        else:
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
