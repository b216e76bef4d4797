"""Serving overhead: ``serving_default`` against the bare Keras forward, side by side.

    python -m benchmarks.serving_benchmark [--work-dir DIR] [--pipeline-output DIR]
        [--calls 30] [--batches 64 1]

The model:

* ``--pipeline-output DIR``: the newest Trainer model of a ``local_runner.py``
  output folder (its ``Format-Serving`` SavedModel, and the weights and
  settings its ``Format-WarmStart`` folder keeps for the bare model);
* otherwise the default architecture exported by ``trainer.export`` over a
  Transform graph analysed on built-in MOSI data (seeded initial weights:
  speed does not depend on training).

Both ways give the serving SavedModel exactly as the Trainer writes it, and a
Keras model with the same settings and weights built in this process.

For each batch size (raw contract ``tf.Example``s from the test split), one
call of each of these is timed in turn, ``--calls`` rounds after warm-up
calls, so a noisy machine slows all of them alike:

* ``serving``: the ``serving_default`` signature (parse + Transform + model);
* ``bare``: the Keras model's forward pass in a ``tf.function`` on the
  already-transformed tensors (what the model itself costs);
* ``transform``: the ``transform_features`` signature alone (parse +
  Transform, every Transform output), to show where the overhead is;
* ``bare_xla``: the same forward compiled with XLA (``jit_compile=True``),
  to show what XLA would buy at serving time. ``serving_default`` itself is
  exported without XLA so that it serves on hosts whose TensorFlow has no
  XLA JIT (TensorFlow Serving builds, for one).

Reports medians, the throughput ratio bare/serving (target >= 0.9 at batch
64) and the time serving adds (target <= 2 ms at batch 1), and writes
``DIR/serving_benchmark.json``. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time

import numpy as np

from msa_data import contract, synth
from trainer import keras_choice
from trainer.core import features
from trainer.core.config import TrainerConfig
from trainer.transform.standalone import transform_splits

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TARGET_RATIO = 0.9  # bare / serving time at the large batch
TARGET_ADDED_MS = 2.0  # serving - bare at batch 1
DATA_EXAMPLES = 96  # built-in segments per split for the Transform analysis


def _config_from(warm_start_dir: str):
    from trainer.training import warm_start

    with open(os.path.join(warm_start_dir, warm_start.META_FILE), encoding="utf-8") as f:
        meta = json.load(f)
    return TrainerConfig.from_dict(meta["config"])


def pipeline_model(pipeline_output: str):
    """(serving dir, config, weights) of a pipeline folder's newest Trainer model."""
    from tfx.utils import path_utils

    from pipeline import configs, results
    from trainer.training import warm_start

    if not os.path.exists(configs.metadata_path(pipeline_output)):
        raise SystemExit(f"--pipeline-output {pipeline_output}: no ML Metadata store "
                         f"({configs.metadata_path(pipeline_output)}); expected the "
                         "--output-dir of a local_runner.py run")
    store = results.open_store(configs.metadata_path(pipeline_output))
    model = results.newest_artifact(store, "Model")
    if model is None:
        raise SystemExit(f"--pipeline-output {pipeline_output}: no trained model in its "
                         "ML Metadata store (run local_runner.py there first)")
    serving = path_utils.serving_model_path(model.uri)
    folder = warm_start.folder_for(serving)
    if not os.path.exists(os.path.join(folder, warm_start.WEIGHTS_FILE)):
        raise SystemExit(f"--pipeline-output {pipeline_output}: model {model.uri} has no "
                         f"{warm_start.FOLDER}/ (trained before weights were kept)")
    with open(os.path.join(folder, warm_start.WEIGHTS_FILE), "rb") as f:
        arrays = np.load(f)
        weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    return serving, _config_from(folder), weights


def exported_model(work_dir: str):
    """(serving dir, config, weights): the default model exported over built-in data."""
    import tensorflow as tf

    from trainer.export import export_serving_model
    from trainer.training.keras_model import build_keras_model

    data = os.path.join(work_dir, "data")
    if not os.path.exists(os.path.join(data, synth.NOISE_FLOOR_FILE)):
        synth.generate(data, size="mosi", seed=0, limit_per_split=DATA_EXAMPLES,
                       overwrite=True)
    import tensorflow_transform as tft

    config = TrainerConfig().resolve_alignment(True)
    paths = transform_splits(data, os.path.join(work_dir, "transform"), config.transform_config())
    tf.keras.utils.set_random_seed(0)
    model = build_keras_model(config, policy="float32")
    serving = os.path.join(work_dir, "serving")
    if not os.path.exists(os.path.join(serving, "saved_model.pb")):
        export_serving_model(model, config, tft.TFTransformOutput(paths["transform_graph"]),
                             serving)
    return serving, config, model.get_weights(), os.path.join(data, "test.tfrecord")


def test_records(pipeline_output, data_path, n):
    """``n`` serialized raw test examples: (without labels, as a client sends
    them; with labels, as ``transform_features`` takes them)."""

    import tensorflow as tf

    if data_path is None:
        from pipeline import configs, results

        store = results.open_store(configs.metadata_path(pipeline_output))
        examples = results.newest_artifact(store, "Examples",
                                           lambda a: "ExampleGen" in a.uri
                                           or "ConvertedExampleGen" in a.uri)
        files = sorted(glob.glob(os.path.join(examples.uri, "Split-test", "*")))
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    else:
        dataset = tf.data.TFRecordDataset([data_path])
    unlabelled, labelled = [], []
    for raw in dataset.take(n):
        labelled.append(raw.numpy())
        example = tf.train.Example.FromString(raw.numpy())
        del example.features.feature[contract.LABEL]
        unlabelled.append(example.SerializeToString())
    if len(unlabelled) < n:
        raise SystemExit(f"the test split has {len(unlabelled)} examples; {n} needed")
    return unlabelled, labelled


def interleaved_medians(fns: dict, calls: int, warmup: int = 3) -> dict:
    """Median milliseconds per function, timing one call of each in turn."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    names = list(fns)
    for i in range(calls):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - start) * 1000.0)
    return {name: float(np.median(v)) for name, v in times.items()}


def measure(serving_dir, config, weights, records, batches, calls) -> list:
    import tensorflow as tf

    from trainer.training.keras_model import build_keras_model

    loaded = tf.saved_model.load(serving_dir)
    serve = loaded.signatures["serving_default"]
    transform = loaded.signatures["transform_features"]
    model = build_keras_model(config, policy="float32")
    keys = features.model_input_keys()
    unlabelled, labelled = records
    model({k: transform(examples=tf.constant(labelled[:1]))[k] for k in keys})
    model.set_weights(weights)
    forward = tf.function(lambda inputs: model(inputs, training=False))
    forward_xla = tf.function(lambda inputs: model(inputs, training=False), jit_compile=True)

    rows = []
    for batch in batches:
        examples = tf.constant(unlabelled[:batch])
        with_labels = tf.constant(labelled[:batch])
        transformed = transform(examples=with_labels)
        inputs = {k: transformed[k] for k in keys}
        served = serve(examples=examples)["sentiment"].numpy()
        bare_scores = forward(inputs).numpy()
        # The two paths must compute the same model, or the timing means nothing.
        np.testing.assert_allclose(served, bare_scores, rtol=1e-4, atol=1e-4)
        medians = interleaved_medians({
            "serving": lambda: serve(examples=examples)["sentiment"].numpy(),
            "bare": lambda: forward(inputs).numpy(),
            "bare_xla": lambda: forward_xla(inputs).numpy(),
            "transform": lambda: [t.numpy() for t in transform(examples=with_labels).values()],
        }, calls)
        rows.append({"batch": batch, **{f"{k}_ms": v for k, v in medians.items()},
                     "ratio_bare_over_serving": medians["bare"] / medians["serving"],
                     "added_ms": medians["serving"] - medians["bare"]})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work-dir", help="work folder (default: a temp folder)")
    p.add_argument("--pipeline-output", help="use the newest model of this pipeline output dir")
    p.add_argument("--calls", type=int, default=30, help="timed calls of each function")
    p.add_argument("--batches", type=int, nargs="+", default=[64, 1])
    args = p.parse_args(argv)
    if args.calls < 1 or min(args.batches) < 1:
        p.error("--calls and --batches: expected positive integers")
    work_dir = os.path.abspath(args.work_dir or tempfile.mkdtemp(prefix="msa-servebench-"))
    os.makedirs(work_dir, exist_ok=True)

    if args.pipeline_output:
        serving, config, weights = pipeline_model(args.pipeline_output)
        data_path = None
    else:
        serving, config, weights, data_path = exported_model(work_dir)
    records = test_records(args.pipeline_output, data_path, max(args.batches))
    rows = measure(serving, config, weights, records, args.batches, args.calls)

    print(f"model {serving}\nmedian ms of {args.calls} interleaved calls each "
          f"({os.cpu_count()} CPUs)")
    print(f"{'batch':>5}  {'serving':>8}  {'bare':>8}  {'bare/serving':>12}  {'added':>7}  "
          f"{'transform':>9}  {'bare_xla':>8}")
    for r in rows:
        print(f"{r['batch']:>5}  {r['serving_ms']:8.2f}  {r['bare_ms']:8.2f}  "
              f"{r['ratio_bare_over_serving']:12.2f}  {r['added_ms']:7.2f}  "
              f"{r['transform_ms']:9.2f}  {r['bare_xla_ms']:8.2f}")
    big, small = max(rows, key=lambda r: r["batch"]), min(rows, key=lambda r: r["batch"])
    ok = big["ratio_bare_over_serving"] >= TARGET_RATIO and small["added_ms"] <= TARGET_ADDED_MS
    print(f"batch {big['batch']}: serving at {big['ratio_bare_over_serving']:.2f}x the bare "
          f"forward's throughput (target >= {TARGET_RATIO}); batch {small['batch']}: "
          f"+{small['added_ms']:.2f} ms (target <= {TARGET_ADDED_MS}) -> "
          f"{'met' if ok else 'NOT met'}")
    report = {"model": serving, "calls": args.calls, "cpus": os.cpu_count(), "rows": rows,
              "target_ratio": TARGET_RATIO, "target_added_ms": TARGET_ADDED_MS, "met": ok}
    with open(os.path.join(work_dir, "serving_benchmark.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(f"written {os.path.join(work_dir, 'serving_benchmark.json')}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
