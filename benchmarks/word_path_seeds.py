"""Does the word-level path learn a word's context on every seed?

Usage::

    python -m benchmarks.word_path_seeds --data-root DIR [--seeds 0 1 ...]
        [--reduced 4] [--readout-stddev 0.1] [--reduce-l2 0.1] [--epochs 40]

On ``msa-synth --function context`` data a bag of words says almost nothing
(a negator flips the next two words, and about half the sentiment words
have one), so the word's score, the context layer's read-out and the
negator's direction must be found together: training starts at a saddle,
and whether a run leaves it within its budget depends on the seed. A run of
the whole model on MOSEI-size data takes about 25 minutes on 2 cores; this
script trains only the part that must leave the saddle, the model's own
word-level path (:class:`~trainer.models.word_context.WordContext` ->
:class:`~trainer.models.word_fusion.WordLevelFusion` -> a zero-initialised
``Dense(1)``, as in ``MSASeqLevelModel``), with the Trainer's recipe (AdamW
3e-3, 5% warmup then cosine decay, Huber loss, clip 1.0, batch 32), about a
minute a seed. It is a diagnostic, not the pipeline: features are z-scored
here per dimension with train statistics, without Transform.

A seed counts as having learned the context when its test MAE is under half
the constant predictor's (the issue's bar for a useful model).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np

from trainer import keras_choice

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")

SPLITS = ("train", "valid", "test")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", required=True, help="word-aligned contract TFRecords")
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    p.add_argument("--epochs", type=int, default=40, help="passes over the train split")
    p.add_argument("--max-len", type=int, default=60, help="words kept per segment")
    p.add_argument("--reduced", type=int, default=4, help="WordContext reduced directions")
    p.add_argument("--readout-stddev", type=float, default=0.1,
                   help="WordContext read-out initial std (0: starts at 0)")
    p.add_argument("--reduce-l2", type=float, default=0.1, help="WordContext L2 on the reduction")
    p.add_argument("--json", help="also write the results here")
    return p.parse_args(argv)


def load_splits(data_root: str, max_len: int):
    """{split: (text, audio, video, mask, labels)}, padded and z-scored with train stats."""
    from msa_data import contract

    missing = contract.missing_splits(data_root, SPLITS)
    if missing:
        raise SystemExit(f"word_path_seeds: --data-root {data_root}: no {', '.join(missing)} "
                         f"split files; expected {contract.split_pattern('train')} and the others")
    splits = {}
    for split in SPLITS:
        segments = list(contract.read_split(os.path.join(data_root, contract.split_pattern(split))))
        n = len(segments)
        arrays = {m: np.zeros((n, max_len, contract.DEFAULT_DIMS[m]), np.float32)
                  for m in contract.MODALITIES}
        mask = np.zeros((n, max_len), bool)
        for i, segment in enumerate(segments):
            lengths = {len(segment.frames(m)) for m in contract.MODALITIES}
            if len(lengths) != 1:
                raise SystemExit(f"word_path_seeds: {segment.segment_id} in {data_root} is not "
                                 f"word-aligned (lengths {sorted(lengths)}); expected one length")
            for m in contract.MODALITIES:
                frames = segment.frames(m)[:max_len]
                arrays[m][i, :len(frames)] = frames
            mask[i, :min(max_len, lengths.pop())] = True
        labels = np.array([s.label for s in segments], np.float32)
        splits[split] = (arrays, mask, labels)
    train_arrays, train_mask, _ = splits["train"]
    out = {}
    for split, (arrays, mask, labels) in splits.items():
        scaled = []
        for m in contract.MODALITIES:
            values = train_arrays[m][train_mask]
            values = np.where(np.isfinite(values), values, np.nan)
            mean, std = np.nanmean(values, 0), np.nanstd(values, 0) + 1e-6
            z = np.nan_to_num((arrays[m] - mean) / std)
            scaled.append((np.clip(z, -5, 5) * mask[..., None]).astype(np.float32))
        out[split] = (*scaled, mask, labels)
    return out


def train_seed(data, seed: int, args) -> dict:
    import tensorflow as tf

    from trainer.models.word_context import WordContext
    from trainer.models.word_fusion import WordLevelFusion

    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    text, audio, video, mask = [tf.keras.Input(shape=a.shape[1:], dtype=a.dtype)
                                for a in data["train"][:4]]
    context = WordContext(1, reduced=args.reduced, readout_stddev=args.readout_stddev,
                          reduce_l2=args.reduce_l2)(text, mask)
    words = WordLevelFusion(1)(text, audio, video, mask, context=context)
    prediction = tf.keras.layers.Dense(1, kernel_initializer="zeros")(words)
    model = tf.keras.Model([text, audio, video, mask], prediction)
    n_train = len(data["train"][-1])
    steps = args.epochs * int(np.ceil(n_train / 32))
    warmup = int(0.05 * steps)
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        0.0, steps - warmup, warmup_target=3e-3, warmup_steps=warmup)
    model.compile(tf.keras.optimizers.AdamW(schedule, weight_decay=1e-4, global_clipnorm=1.0),
                  loss=tf.keras.losses.Huber())
    started = time.perf_counter()
    history = model.fit(list(data["train"][:4]), data["train"][-1], batch_size=32,
                        epochs=args.epochs, verbose=0,
                        validation_data=(list(data["valid"][:4]), data["valid"][-1]))
    scores = model.predict(list(data["test"][:4]), verbose=0)[:, 0]
    return {"seed": seed, "test_mae": float(np.mean(np.abs(scores - data["test"][-1]))),
            "val_loss_every_5": [round(v, 3) for v in history.history["val_loss"][::5]],
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv=None) -> int:
    args = parse_args(argv)
    data = load_splits(args.data_root, args.max_len)
    constant = float(np.mean(np.abs(data["test"][-1] - data["train"][-1].mean())))
    print(f"constant predictor (train mean): test MAE {constant:.4f}; "
          f"learned = under {constant / 2:.4f}", flush=True)
    runs = []
    for seed in args.seeds:
        run = train_seed(data, seed, args)
        run["learned"] = run["test_mae"] < constant / 2
        runs.append(run)
        print(f"seed {seed}: test MAE {run['test_mae']:.4f} "
              f"({'learned' if run['learned'] else 'NOT learned'}), val loss every 5 passes "
              f"{run['val_loss_every_5']}, {run['seconds']:.0f} s", flush=True)
    learned = [r for r in runs if r["learned"]]
    maes = [r["test_mae"] for r in learned]
    print(f"learned on {len(learned)} of {len(runs)} seeds"
          + (f"; their test MAE {np.mean(maes):.4f} ± {np.std(maes, ddof=1) if len(maes) > 1 else 0:.4f}"
             if maes else ""))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "constant": constant, "runs": runs}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
