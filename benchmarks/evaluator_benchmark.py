"""Evaluator cost of the full MSA evaluation vs MAE alone, side by side.

    python -m benchmarks.evaluator_benchmark [--output-dir DIR] [--repeats 3]
        [--pipeline-output DIR] [--train-steps N] [--eval-size mosei|mosi]

1. A trained model from a pipeline run: ``--pipeline-output`` (an existing
   ``local_runner.py --output-dir``; its newest Trainer model), or else a
   fresh run of ``local_runner.py`` with the default model on a small
   built-in training set (``--train-examples`` per split, ``--train-steps``).
2. MOSEI-size evaluation data: the test split of ``msa-synth --size mosei``
   (4659 segments), written directly (the other splits are not generated).
3. TFMA's ``run_model_analysis`` (what the TFX Evaluator executor runs) on
   that split with both configurations, alternating, ``--repeats`` times
   each after one untimed warm-up each, on the DirectRunner as the local
   runner sets it up (in_memory, one worker):
   * **full**: ``pipeline.evaluation.build_eval_config()``: every metric of
     ``trainer.metrics.tfma_metrics``, the six slicing specs, the thresholds, and the
     ``transform_features`` call that supplies slice keys and the constant
     predictor (no baseline model, as on a first run);
   * **mae-only**: ``pipeline.evaluation.mae_only_eval_config()``: TFMA's
     ``MeanAbsoluteError``, overall slice, no Transform call.

Reports per-configuration wall times, medians and the ratio full / mae-only
(target <= 1.5), and writes ``DIR/evaluator_benchmark.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import pipeline_run
from msa_data import contract, synth
from pipeline import configs
from trainer import keras_choice

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TARGET_RATIO = 1.5


def trained_model(output_dir: str, pipeline_output, train_examples: int, train_steps: int) -> str:
    """Serving model dir of the newest Trainer model (running the pipeline if needed)."""
    from pipeline import results

    if pipeline_output is None:
        from msa_data import synth

        pipeline_output = os.path.join(output_dir, "pipeline")
        data = os.path.join(output_dir, "train-data")
        if not os.path.exists(os.path.join(data, synth.NOISE_FLOOR_FILE)):
            synth.generate(data, size="mosi", seed=0, limit_per_split=train_examples,
                           overwrite=True)
        pipeline_run.launch(["--data-root", data, "--train-steps", str(train_steps)],
                            pipeline_output)
    store = results.open_store(configs.metadata_path(pipeline_output))
    model = results.newest_artifact(store, "Model")
    if model is None:
        raise SystemExit(f"no trained model in {pipeline_output}")
    from tfx.utils import path_utils

    return path_utils.serving_model_path(model.uri)


def eval_data(output_dir: str, size: str) -> tuple:
    """The test split of the built-in ``size`` data; returns (path, examples)."""

    path = os.path.join(output_dir, f"{size}-test", "test.tfrecord")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        planned = synth.plan_splits(size, seed=0)["test"]
        segments = (s.segment for s in synth.iter_split("test", planned, seed=0))
        contract.write_split(path + ".tmp", segments)
        os.replace(path + ".tmp", path)
    import tensorflow as tf

    n = sum(1 for _ in tf.data.TFRecordDataset(path))
    return path, n


def run_once(model_dir: str, data: str, eval_config, out: str, beam_args) -> float:
    """Wall seconds of one run_model_analysis, model loading included."""
    import apache_beam as beam
    import tensorflow_model_analysis as tfma

    start = time.perf_counter()
    shared = tfma.default_eval_shared_model(eval_saved_model_path=model_dir,
                                            eval_config=eval_config)
    tfma.run_model_analysis(
        eval_shared_model=shared, eval_config=eval_config, data_location=data,
        file_format="tfrecords", output_path=out,
        pipeline_options=beam.options.pipeline_options.PipelineOptions(beam_args))
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output-dir", help="work folder (default: a temp folder)")
    p.add_argument("--pipeline-output", help="use the newest model of this pipeline output dir")
    p.add_argument("--train-examples", type=int, default=200,
                   help="built-in examples per split for the model's training run")
    p.add_argument("--train-steps", type=int, default=60)
    p.add_argument("--eval-size", choices=("mosei", "mosi"), default="mosei")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    output_dir = os.path.abspath(args.output_dir or tempfile.mkdtemp(prefix="msa-evalbench-"))
    os.makedirs(output_dir, exist_ok=True)

    import tensorflow_model_analysis as tfma

    from pipeline import evaluation
    from pipeline.cli import beam_args

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    model_dir = trained_model(output_dir, args.pipeline_output, args.train_examples,
                              args.train_steps)
    data, n = eval_data(output_dir, args.eval_size)
    # As TFX's Evaluator does on a first run: no baseline, change thresholds dropped.
    full = tfma.utils.update_eval_config_with_defaults(
        evaluation.build_eval_config(), has_baseline=False, rubber_stamp=True)
    configs_ = {"full": full, "mae-only": evaluation.mae_only_eval_config()}
    beam = beam_args(1)
    print(f"model {model_dir}\neval data {data} ({n} examples)\nbeam {' '.join(beam)}")

    times = {name: [] for name in configs_}
    warmup = {}
    for rep in range(args.repeats + 1):
        order = list(configs_) if rep % 2 == 0 else list(reversed(list(configs_)))
        for name in order:
            out = os.path.join(output_dir, "tfma", f"{name}-{rep}")
            seconds = run_once(model_dir, data, configs_[name], out, beam)
            if rep == 0:
                warmup[name] = seconds
            else:
                times[name].append(seconds)
            print(f"  {'warm-up' if rep == 0 else f'rep {rep}':<8} {name:<9} {seconds:7.1f} s",
                  flush=True)

    medians = {name: float(np.median(v)) for name, v in times.items()}
    ratio = medians["full"] / medians["mae-only"]
    report = {"examples": n, "model": model_dir, "beam_args": beam, "seconds": times,
              "warmup_seconds": warmup, "median_seconds": medians, "ratio_full_over_mae_only":
              ratio, "target_ratio": TARGET_RATIO, "cpus": os.cpu_count()}
    with open(os.path.join(output_dir, "evaluator_benchmark.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(f"median wall time on {n} examples: full {medians['full']:.1f} s, "
          f"mae-only {medians['mae-only']:.1f} s -> ratio {ratio:.2f} (target <= {TARGET_RATIO})")
    print(f"written {os.path.join(output_dir, 'evaluator_benchmark.json')}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
