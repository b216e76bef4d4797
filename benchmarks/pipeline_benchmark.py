"""Benchmarks of a default local run, measured side by side in one invocation.

    python -m benchmarks.pipeline_benchmark [--output-dir DIR] [--plain-epochs N]

1. ``make run``'s work on default settings (built-in MOSI-size data, default
   model) from an empty output folder: total and per-component wall time.
2. Training throughput (examples/s, steady-state median over epochs) of the
   Trainer inside the pipeline versus a plain Keras ``fit`` on numpy arrays
   of the same transformed data with the same model and batch size, outside
   TFX. Target: ratio >= 0.8.
3. The pushed model's test MAE next to the data's noise floor.

Writes ``DIR/benchmark.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import warnings

import numpy as np

from benchmarks import pipeline_run
from pipeline import configs
from trainer import keras_choice
from trainer.core.config import TrainerConfig

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The figures are the output; library deprecation chatter is not.
warnings.filterwarnings("ignore")

def plain_keras_throughput(output_dir: str, summary: dict, epochs: int) -> dict:
    """Same model, same transformed train split, plain Keras fit on numpy arrays."""
    import tensorflow as tf
    import tensorflow_transform as tft

    tf.get_logger().setLevel("ERROR")

    from pipeline import results
    from trainer.training import data, loop
    from trainer.training.keras_model import build_keras_model, compile_model

    store = results.open_store(configs.metadata_path(output_dir))
    graph = results.newest_artifact(store, "TransformGraph").uri
    examples = results.newest_artifact(store, "Examples", lambda a: "/Transform/" in a.uri).uri
    ds = data.read_split(os.path.join(examples, "Split-train", "*"), tft.TFTransformOutput(graph))
    features, labels = {}, []
    for x, y in ds.batch(1024):
        for k, v in x.items():
            features.setdefault(k, []).append(v.numpy())
        labels.append(y.numpy())
    features = {k: np.concatenate(v) for k, v in features.items()}
    labels = np.concatenate(labels)

    config = TrainerConfig.from_dict(summary["config"])
    tf.keras.utils.set_random_seed(config.seed)
    model = build_keras_model(config, summary["policy"])
    steps = -(-len(labels) // config.batch_size)
    compile_model(model, config, summary["policy"], total_steps=steps * epochs)
    meter = loop.ThroughputMeter(config.batch_size)
    model.fit(features, labels, batch_size=config.batch_size, epochs=epochs, shuffle=True,
              callbacks=[meter], verbose=0)
    # fit() on arrays ends each epoch with a partial batch; count real examples.
    scale = len(labels) / (steps * config.batch_size)
    rates = [r * scale for r in meter.per_epoch]
    return {"examples": int(len(labels)), "per_epoch": rates,
            "median": float(np.median(rates[1:] or rates))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output-dir", help="fresh folder for the run (default: a temp folder)")
    p.add_argument("--plain-epochs", type=int, default=8)
    p.add_argument("runner_args", nargs="*", help="extra local_runner.py flags (after --)")
    args = p.parse_args(argv)
    output_dir = os.path.abspath(args.output_dir or tempfile.mkdtemp(prefix="msa-bench-"))
    if glob.glob(os.path.join(output_dir, "*")):
        raise SystemExit(f"error: --output-dir {output_dir} is not empty; the benchmark "
                         "measures a run from scratch")

    run = pipeline_run.launch(args.runner_args, output_dir)
    summary = json.load(open(glob.glob(os.path.join(
        configs.pipeline_root(output_dir), "Trainer", "model_run", "*", "training_summary.json"))[0]))
    plain = plain_keras_throughput(output_dir, summary, args.plain_epochs)

    from pipeline import results

    result = results.latest(configs.metadata_path(output_dir))
    floor_path = os.path.join(configs.DEFAULT_DATA_ROOT, "noise_floor.json")
    floor = json.load(open(floor_path)) if os.path.exists(floor_path) else {}

    report = {
        "make_run_wall_seconds": run.wall_seconds,
        "components_seconds": run.component_seconds(),
        "trainer_examples_per_sec_pipeline": summary["train_examples_per_sec"],
        "trainer_examples_per_sec_pipeline_by_epoch": summary["train_examples_per_sec_by_epoch"],
        "trainer_examples_per_sec_plain_keras": plain["median"],
        "plain_keras_by_epoch": plain["per_epoch"],
        "throughput_ratio": summary["train_examples_per_sec"] / plain["median"],
        "test_mae": result.metrics.get("mae"),
        "constant_predictor_mae": result.metrics.get("constant_mae"),
        "noise_floor_test_mae": floor.get("test_mae_noise_floor"),
        "blessed": result.blessed,
        "epochs_run": summary["epochs_run"],
    }
    with open(os.path.join(output_dir, "benchmark.json"), "w") as f:
        json.dump(report, f, indent=2)

    print(f"output: {output_dir}")
    print(f"make run (default settings, from scratch): {run.wall_seconds:.0f} s")
    for name, seconds in run.component_seconds().items():
        print(f"  {name:<32} {seconds:7.1f} s")
    print(f"Trainer throughput, median examples/s: pipeline {report['trainer_examples_per_sec_pipeline']:.0f}"
          f" vs plain Keras {plain['median']:.0f} -> ratio {report['throughput_ratio']:.2f}"
          " (target >= 0.8)")
    print(f"test MAE {report['test_mae']:.4f} | constant predictor {report['constant_predictor_mae']:.4f}"
          f" | noise floor {report['noise_floor_test_mae']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
