"""Mixed precision and XLA on an accelerator, and the float32 export on CPU.

    python -m benchmarks.gpu_check [--short] [--output FILE]
    (benchmarks/gpu_check.sh sets up the venv and CUDA libraries first)

1. Train-step throughput of the default model on MOSEI-size shapes (the
   transformed features: 50 frames of 300/74/35 dims, batch 32) under
   ``float32``, ``mixed_float16`` and ``mixed_bfloat16``, each with XLA off
   and on (``benchmarks.xla_benchmark.train_step_times``: the Trainer's own
   model, optimizer and metrics; the two XLA settings alternate). Printed as
   examples/s and as the ratio to float32 without XLA.
2. The export check: a model trained on the accelerator under
   ``mixed_float16`` (on real Transform output of built-in data) is exported
   by ``trainer.export`` as its float32 twin; a CPU-only process
   (``CUDA_VISIBLE_DEVICES=-1``) loads that SavedModel and scores raw
   examples through ``serving_default``. Its scores are compared with the
   trained model's own on the accelerator: the largest difference is what
   serving the float32 export changes (a float16 model computes in half
   precision, so ~1e-2 is expected; more means the export lost something).

``--short`` does the same with a tiny text-only model, short sequences and
few steps (about a minute on CPU): the tests run it so the script stays correct on hosts without an
accelerator. The timings of a ``--short`` run mean nothing. Exits 1 when the
export check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.exit_now import exit_now
from benchmarks.xla_benchmark import train_step_times
from msa_data import contract, synth
from trainer import keras_choice
from trainer.core import features
from trainer.core.config import TrainerConfig
from trainer.transform.standalone import transform_splits

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# Largest |export on CPU - trained model on the accelerator| accepted, per policy.
EXPORT_TOLERANCE = {"float32": 1e-3, "mixed_float16": 5e-2, "mixed_bfloat16": 2e-1}
SCORED_EXAMPLES = 64


def throughput(config, short: bool) -> list:
    """One row per (policy, XLA): median ms/step and examples/s.

    A setting the device cannot run (XLA has no bfloat16 matmul on CPU, for
    one) gets a row with ``error`` instead of times.
    """

    steps, repeats, warmup = (1, 1, 1) if short else (20, 3, 10)
    rows = []
    for i, policy in enumerate(POLICIES):
        try:
            times, first = train_step_times(config, policy, config.batch_size, steps, repeats,
                                            warmup=warmup, warm_runtime=i == 0)
            failed = {}
        except Exception as e:  # XLA's failure; measure without it
            times, first = train_step_times(config, policy, config.batch_size, steps, repeats,
                                            warmup=warmup, modes=("off",), warm_runtime=False)
            failed = {"on": str(e).strip().splitlines()[-1][:160]}
        for xla in ("off", "on"):
            if xla in failed:
                rows.append({"policy": policy, "xla": xla, "error": failed[xla]})
                continue
            ms = statistics.median(times[xla])
            rows.append({"policy": policy, "xla": xla, "ms_per_step": ms,
                         "examples_per_s": 1000.0 * config.batch_size / ms,
                         "first_step_s": first[xla]})
    base = next(r for r in rows if r["policy"] == "float32" and r["xla"] == "off")
    for r in rows:
        if "error" not in r:
            r["vs_float32"] = base["ms_per_step"] / r["ms_per_step"]
    return rows


def _train_and_export(work_dir: str, config, policy: str, steps: int):
    """Trains under ``policy`` on built-in data; exports; returns raw examples and scores."""
    import tensorflow as tf
    import tensorflow_transform as tft

    from trainer.export import export_serving_model
    from trainer.training import data
    from trainer.training.keras_model import build_keras_model, compile_model

    root = os.path.join(work_dir, "data")
    synth.generate(root, size="mosi", seed=0, limit_per_split=SCORED_EXAMPLES, overwrite=True)
    paths = transform_splits(root, os.path.join(work_dir, "transform"), config.transform_config())
    tft_output = tft.TFTransformOutput(paths["transform_graph"])
    train = data.read_split(paths["train"], tft_output)
    tf.keras.utils.set_random_seed(config.seed)
    model = build_keras_model(config, policy)
    compile_model(model, config, policy, total_steps=steps)
    model.fit(data.training_batches(train, SCORED_EXAMPLES, config.batch_size, config.seed),
              steps_per_epoch=steps, epochs=1, verbose=0)
    export_dir = os.path.join(work_dir, "export")
    export_serving_model(model, config, tft_output, export_dir)

    raw, unlabelled = [], []
    for segment in contract.read_split(contract.split_path(root, "test")):
        example = contract.to_example(segment)
        raw.append(example.SerializeToString())
        del example.features.feature[contract.LABEL]
        unlabelled.append(example.SerializeToString())
    transformed = tf.saved_model.load(export_dir).signatures["transform_features"](
        examples=tf.constant(raw))
    inputs = {k: transformed[k] for k in features.model_input_keys()}
    trained = tf.cast(model(inputs, training=False), tf.float32).numpy().reshape(-1)
    return export_dir, unlabelled, trained


def _score_on_cpu(export_dir: str, examples: list, work_dir: str) -> np.ndarray:
    """``serving_default`` scores from a process that sees no accelerator."""
    requests = os.path.join(work_dir, "requests.npy")
    scores = os.path.join(work_dir, "cpu_scores.npy")
    np.save(requests, np.array(examples, dtype=object), allow_pickle=True)
    code = (
        "import os, sys, numpy as np, tensorflow as tf\n"
        "assert not tf.config.list_physical_devices('GPU'), 'the CPU scorer sees a GPU'\n"
        "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "ex = np.load(sys.argv[2], allow_pickle=True).tolist()\n"
        "np.save(sys.argv[3], serve(examples=tf.constant(ex))['sentiment'].numpy().reshape(-1))\n")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1"}
    proc = subprocess.run([sys.executable, "-c", code, export_dir, requests, scores], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"scoring the export on CPU failed:\n{proc.stderr[-3000:]}")
    return np.load(scores)


def export_check(work_dir: str, config, policy: str, short: bool) -> dict:
    export_dir, examples, trained = _train_and_export(work_dir, config, policy,
                                                      steps=4 if short else 200)
    on_cpu = _score_on_cpu(export_dir, examples, work_dir)
    diff = float(np.max(np.abs(on_cpu - trained)))
    return {"policy": policy, "examples": len(examples), "max_abs_diff": diff,
            "tolerance": EXPORT_TOLERANCE[policy], "ok": diff <= EXPORT_TOLERANCE[policy],
            "score_std": float(np.std(trained))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--short", action="store_true", help="few steps: a correctness run")
    p.add_argument("--work-dir", help="work folder (default: a temp folder)")
    p.add_argument("--output", help="also write the results as JSON here")
    args = p.parse_args(argv)
    work_dir = os.path.abspath(args.work_dir or tempfile.mkdtemp(prefix="msa-gpucheck-"))
    os.makedirs(work_dir, exist_ok=True)

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
              if gpus else "CPU only")
    # MOSEI-size shapes: the contract's dims, 50 frames each, batch 32. The
    # short run's model (the text-only baseline, tiny) and sequences are small,
    # so a CPU traces and compiles its six train steps quickly.
    small = dict(architecture="text_only", model_dim=8, num_heads=2, ff_dim=16, batch_size=4,
                 max_lens={"text": 8, "audio": 8, "video": 8}) if args.short else {}
    config = TrainerConfig(**{"batch_size": 32, **small}).resolve_alignment(True)
    print(f"device: {device}; TensorFlow {tf.__version__}; "
          f"{'short (correctness) run' if args.short else 'full run'}", flush=True)
    started = time.perf_counter()
    rows = throughput(config, args.short)
    timed = time.perf_counter() - started
    shapes = "short sequences" if args.short else "MOSEI-size shapes"
    print(f"train step, {'small text-only' if args.short else 'default'} model, batch "
          f"{config.batch_size}, {shapes}")
    print(f"  {'policy':<15} {'XLA':<4} {'ms/step':>8} {'examples/s':>11} {'vs float32':>10}")
    for r in rows:
        if "error" in r:
            print(f"  {r['policy']:<15} {r['xla']:<4} not supported here: {r['error']}")
            continue
        print(f"  {r['policy']:<15} {r['xla']:<4} {r['ms_per_step']:8.1f} "
              f"{r['examples_per_s']:11.0f} {r['vs_float32']:9.2f}x")
    print(f"  ({timed:.0f} s)")
    started = time.perf_counter()
    check = export_check(work_dir, config, "mixed_float16", args.short)
    print(f"export check: model trained under {check['policy']} on {device}; its float32 "
          f"export served on CPU: max |difference| {check['max_abs_diff']:.2e} over "
          f"{check['examples']} examples (tolerance {check['tolerance']:.0e}; scores' std "
          f"{check['score_std']:.3f}) -> {'ok' if check['ok'] else 'FAILED'} "
          f"({time.perf_counter() - started:.0f} s)")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"device": device, "tensorflow": tf.__version__, "short": args.short,
                       "throughput": rows, "export_check": check}, f, indent=2)
    return 0 if check["ok"] else 1


if __name__ == "__main__":
    # Straight out: after XLA-compiled mixed-precision steps, TensorFlow's
    # interpreter teardown can segfault (seen on this CPU host).
    exit_now(main())
