"""Does the word-level path learn a word's context on every seed?

Usage::

    python -m benchmarks.word_path_seeds --data-root DIR [--seeds 0 1 ...]
        [--reduced 4] [--readout-stddev 0.1] [--reduce-l2 0.1] [--epochs 40]
        [--rival [--fit label|joint]]

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

With ``--rival`` a pooled MLP's score is added to the prediction, a small
stand-in for the sequence-level path: ``--fit joint`` fits the sum with one
loss (the Trainer's ``--word-path-fit joint``), ``--fit label`` trains with
the Trainer's own :class:`~trainer.training.keras_model.WordPathOnItsOwnLoss`
step (``--word-path-fit label``, the default).

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
    p.add_argument("--rival", action="store_true",
                   help="add a pooled MLP's score to the prediction, standing in for the "
                        "sequence-level path (it fits a bag of words within a few passes)")
    p.add_argument("--fit", choices=("label", "joint"), default="label",
                   help="with --rival: label: the Trainer's WordPathOnItsOwnLoss step (the word "
                        "path on its own loss); joint: one loss on the sum")
    p.add_argument("--json", help="also write the results here")
    return p.parse_args(argv)


def load_splits(data_root: str, max_len: int):
    """{split: ({modality: frames}, mask, labels)}, padded and z-scored with train stats."""
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
        scaled = {}
        for m in contract.MODALITIES:
            values = train_arrays[m][train_mask]
            values = np.where(np.isfinite(values), values, np.nan)
            mean, std = np.nanmean(values, 0), np.nanstd(values, 0) + 1e-6
            z = np.nan_to_num((arrays[m] - mean) / std)
            scaled[m] = (np.clip(z, -5, 5) * mask[..., None]).astype(np.float32)
        out[split] = (scaled, mask, labels)
    return out


def build_model(data, args):
    """The word-level path (and the rival), as a Keras model over named inputs."""
    import tensorflow as tf

    from trainer.core import features
    from trainer.models.tracing import StepsWithoutAutograph
    from trainer.models.word_context import WordContext
    from trainer.models.word_fusion import WordLevelFusion
    from trainer.training.keras_model import WordPathOnItsOwnLoss

    class WordPathAndRival(tf.keras.layers.Layer):
        """``scores`` as MSASeqLevelModel's: (rival score or 0, word-level score)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.context = WordContext(1, reduced=args.reduced,
                                       readout_stddev=args.readout_stddev,
                                       reduce_l2=args.reduce_l2)
            self.word_level = WordLevelFusion(1)
            self.word_regressor = tf.keras.layers.Dense(1, kernel_initializer="zeros")
            self.rival = [tf.keras.layers.Dropout(0.5),
                          tf.keras.layers.Dense(32, activation="gelu"),
                          tf.keras.layers.Dropout(0.5), tf.keras.layers.Dense(1)]

        def scores(self, inputs, training=False):
            text, audio, video, mask = inputs[0], inputs[1], inputs[2], inputs[3]
            mask = tf.cast(mask, tf.bool)
            words = self.word_level(text, audio, video, mask, context=self.context(text, mask))
            word_score = self.word_regressor(words)
            if not args.rival:
                return tf.zeros_like(word_score), word_score
            weights = tf.cast(mask, tf.float32)[..., None]
            count = tf.maximum(tf.reduce_sum(weights, 1), 1.0)
            pooled = tf.concat([tf.reduce_sum(x * weights, 1) / count
                                for x in (text, audio, video)], -1)
            for layer in self.rival:
                pooled = layer(pooled, training=training)
            return pooled, word_score

        def call(self, inputs, training=False):
            rival_score, word_score = self.scores(inputs, training=training)
            return rival_score + word_score

    frames, mask = data["train"][0], data["train"][1]
    inputs = {}
    for m in frames:  # the Trainer's input names: text, ..., text_mask, ...
        inputs[m] = tf.keras.Input(shape=frames[m].shape[1:], dtype=tf.float32, name=m)
        key = features.mask_key(m)
        inputs[key] = tf.keras.Input(shape=mask.shape[1:], dtype=tf.int64, name=key)
    core = WordPathAndRival(name="word_path_and_rival")
    output = core(tuple(inputs[k] for k in features.model_input_keys()))
    if args.rival and args.fit == "label":
        model = WordPathOnItsOwnLoss(inputs=inputs, outputs=output)
        model.core_name = core.name
        return model
    return StepsWithoutAutograph(inputs=inputs, outputs=output)


def model_inputs(split) -> dict:
    from trainer.core import features

    arrays, mask = split[0], split[1].astype(np.int64)
    return {k: (arrays[k] if k in arrays else mask) for k in features.model_input_keys()}


def train_seed(data, seed: int, args) -> dict:
    import tensorflow as tf

    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    model = build_model(data, args)
    n_train = len(data["train"][-1])
    steps = args.epochs * int(np.ceil(n_train / 32))
    warmup = int(0.05 * steps)
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        0.0, steps - warmup, warmup_target=3e-3, warmup_steps=warmup)
    model.compile(tf.keras.optimizers.AdamW(schedule, weight_decay=1e-4, global_clipnorm=1.0),
                  loss=tf.keras.losses.Huber())
    started = time.perf_counter()
    history = model.fit(model_inputs(data["train"]), data["train"][-1], batch_size=32,
                        epochs=args.epochs, verbose=0,
                        validation_data=(model_inputs(data["valid"]), data["valid"][-1]))
    scores = model.predict(model_inputs(data["test"]), verbose=0)[:, 0]
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
