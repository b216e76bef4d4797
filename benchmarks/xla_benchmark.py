"""Train-step time with and without XLA (``--jit-compile``), side by side.

    python -m benchmarks.xla_benchmark [--preset default] [--architecture A]
        [--batch-size 32] [--steps 20] [--repeats 5] [--policy float32] [--output FILE]

Builds the preset's model twice with the Trainer's own code
(``build_keras_model`` + ``compile_model``, under the Trainer's op
determinism and checkpointable dropout), once with ``jit_compile`` off and
once on, on synthetic arrays shaped like Transform's output (the built-in
data's shapes: word-aligned, so ``auto`` options resolve as on that data).
After a warm-up (tracing, XLA compilation) it times ``--steps`` train steps
per repeat, alternating the two models ``--repeats`` times, and prints the
median ms/step of each and the ratio off / on (> 1: XLA is faster), and
the first step's time of each (tracing; plus XLA's compilation when on),
from which the steps XLA needs to repay its compilation. The steps are
Keras' own ``train_function`` (what ``fit`` runs), MSA metrics included.

The ratio depends on the host's load: on 2 CPU cores XLA was about as fast
as the graph executor when idle, and 1.36-1.59x faster while another process
kept a core busy (docs/benchmarks.md). Measure on an otherwise idle host.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time

import numpy as np

from msa_data import contract
from trainer import keras_choice
from trainer.core.config import TrainerConfig

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def synthetic_arrays(config, n: int, seed: int = 0):
    """Transformed-feature arrays of ``n`` examples (random lengths) and labels."""
    from trainer.core import features

    rng = np.random.default_rng(seed)
    arrays = {}
    for m in contract.MODALITIES:
        length, dim = int(config.max_lens[m]), int(config.dims[m])
        lengths = rng.integers(1, length + 1, n)
        mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int64)
        arrays[m] = (rng.normal(size=(n, length, dim)) * mask[..., None]).astype(np.float32)
        arrays[features.mask_key(m)] = mask
    labels = rng.uniform(-3, 3, n).astype(np.float32)
    return arrays, labels


def _warm_up_the_runtime():
    """One step of a tiny model, with and without XLA: the process's one-off start-up
    costs (runtime, XLA service) then count against neither model's first step."""
    import tensorflow as tf

    x = np.zeros((4, 2), np.float32)
    for jit in (False, True):
        model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", jit_compile=jit)
        model.fit(tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4), verbose=0)


def train_step_times(config, policy: str, batch_size: int, steps: int, repeats: int,
                     warmup: int = 10, modes=("off", "on"), warm_runtime: bool = True):
    """``({"off": [ms/step per repeat], "on": [...]}, {"off": first step s, "on": ...})``.

    The first step (tracing, and XLA's compilation when on) is timed alone;
    the timed repeats alternate the models (``modes``: the XLA settings).
    ``warm_runtime=False`` skips the process's one-off warm-up (done already).
    """
    import tensorflow as tf

    from trainer.training import optimization
    from trainer.training.keras_model import build_keras_model, compile_model

    if warm_runtime:
        _warm_up_the_runtime()
    features, labels = synthetic_arrays(config, 8 * batch_size)
    data = (tf.data.Dataset.from_tensor_slices((features, labels))
            .batch(batch_size, drop_remainder=True).cache().repeat().prefetch(2))
    runs = {}
    with optimization.deterministic_ops(), optimization.checkpointable_dropout():
        for jit in modes:
            tf.keras.utils.set_random_seed(config.seed)
            model = build_keras_model(config, policy)
            compile_model(model, dataclasses.replace(config, jit_compile=jit), policy,
                          total_steps=(warmup + steps * repeats) * 2)
            assert bool(model.jit_compile) == (jit == "on"), "Keras refused jit_compile"
            runs[jit] = (model.make_train_function(), iter(data))
        first = {}
        for jit, (step, iterator) in runs.items():  # tracing, XLA compilation, the data cache
            start = time.perf_counter()
            float(step(iterator)["loss"])
            first[jit] = time.perf_counter() - start
            for _ in range(warmup - 1):
                float(step(iterator)["loss"])
        times = {jit: [] for jit in modes}
        for _ in range(repeats):
            for jit, (step, iterator) in runs.items():
                start = time.perf_counter()
                for _ in range(steps):
                    logs = step(iterator)
                float(logs["loss"])  # wait for the last step
                times[jit].append(1000 * (time.perf_counter() - start) / steps)
    return times, first


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=("default", "seed"))
    parser.add_argument("--architecture", default=None,
                        choices=("seq_level", "pooled", "text_only"),
                        help="(default: the preset's)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--policy", default="float32",
                        choices=("float32", "mixed_float16", "mixed_bfloat16"))
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)

    import tensorflow as tf

    overrides = {"architecture": args.architecture} if args.architecture else {}
    config = TrainerConfig.from_preset(args.preset, batch_size=args.batch_size, **overrides)
    config = config.resolve_alignment(True)  # the built-in data is word-aligned
    started = time.perf_counter()
    times, first = train_step_times(config, args.policy, args.batch_size, args.steps,
                                    args.repeats)
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    extra = first["on"] - first["off"]  # XLA's compilation of the train step
    if extra <= 0:
        break_even = 0.0
    else:
        break_even = extra / ((off - on) / 1000) if off > on else float("inf")
    result = {
        "preset": args.preset, "architecture": config.architecture,
        "batch_size": args.batch_size, "policy": args.policy,
        "devices": [d.device_type for d in tf.config.list_physical_devices()],
        "steps_per_repeat": args.steps, "repeats": args.repeats,
        "ms_per_step_off": times["off"], "ms_per_step_on": times["on"],
        "median_ms_off": off, "median_ms_on": on, "speedup": off / on,
        "first_step_s_off": first["off"], "first_step_s_on": first["on"],
        "train_step_break_even_steps": break_even,
        "seconds": time.perf_counter() - started,
    }
    print(f"train step, {args.preset} preset, {config.architecture}, batch {args.batch_size}, "
          f"{args.policy}, {'/'.join(result['devices'])}: median of {args.repeats} x "
          f"{args.steps} steps")
    print(f"  jit_compile off  {off:7.1f} ms/step   (" +
          ", ".join(f"{t:.1f}" for t in times["off"]) + ")")
    print(f"  jit_compile on   {on:7.1f} ms/step   (" +
          ", ".join(f"{t:.1f}" for t in times["on"]) + ")")
    print(f"  off / on = {off / on:.2f}x")
    repaid = ("XLA never repays that" if break_even == float("inf")
              else f"XLA repays that after {break_even:.0f} steps")
    print(f"  first step (tracing, + XLA compilation when on): off {first['off']:.1f} s, "
          f"on {first['on']:.1f} s: {repaid} (the validation steps' compilation not counted)")
    print(f"  ({result['seconds']:.0f} s in all)")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
