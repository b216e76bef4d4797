"""What the word aligners cost a training step, side by side.

Usage::

    python -m benchmarks.aligner_speed [--repeats 15] [--batch 32]

Times one audio and one video aligner (``SoftWordAlignment`` and
``SegmentalWordAlignment``) on batches shaped like the built-in unaligned
data: 50 words, 120 audio frames of 74 features and 180 video frames of
47, each segment's length drawn as ``msa-synth --unaligned`` draws them
(about 2 audio and 3 video frames a word). A *training* step is the
forward pass, the segmental layer's likelihood loss and the gradient of
everything; an *inference* step is the forward pass alone. The two layers
alternate within each repeat, so a busy machine slows both alike; the
medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from trainer import keras_choice

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from msa_data.synth_cli import _positive_int  # noqa: E402
from msa_data.synth_features import LENGTH_LOG_SD, LENGTH_MEDIAN  # noqa: E402
from msa_data.synth_unaligned import frame_words  # noqa: E402
from trainer.models.alignment import SoftWordAlignment  # noqa: E402
from trainer.models.segmental_alignment import SegmentalWordAlignment  # noqa: E402

WORDS, TEXT_DIM = 50, 300
FRAMES = {"audio": (120, 74), "video": (180, 47)}


def make_batch(rng, batch):
    """``(words, word_mask, {modality: (frames, frame_mask)})`` as tensors."""
    n_words = np.clip(np.round(rng.lognormal(np.log(LENGTH_MEDIAN), LENGTH_LOG_SD, batch)),
                      1, WORDS).astype(int)
    word_mask = np.arange(WORDS)[None] < n_words[:, None]
    frames = {}
    counts = [frame_words(rng, int(n)) for n in n_words]
    for modality, (length, dim) in FRAMES.items():
        n_frames = np.array([min(len(c[modality]), length) for c in counts])
        mask = np.arange(length)[None] < n_frames[:, None]
        values = rng.normal(size=(batch, length, dim)).astype("float32") * mask[..., None]
        frames[modality] = (tf.constant(values), tf.constant(mask))
    words = rng.normal(size=(batch, WORDS, TEXT_DIM)).astype("float32")
    return tf.constant(words), tf.constant(word_mask), frames


def step_functions(name, words, word_mask, frames):
    """``(train_step, inference_step)`` for one kind of aligner, audio and video."""
    if name == "soft":
        layers = {m: SoftWordAlignment(16, name=m) for m in FRAMES}
    else:
        layers = {m: SegmentalWordAlignment(FRAMES[m][1], name=m) for m in FRAMES}

    def forward(training):
        outputs = [layers[m](words, frames[m][0], word_mask, frames[m][1], training=training)
                   for m in FRAMES]
        losses = [loss for m in FRAMES for loss in layers[m].losses]
        return tf.add_n([tf.reduce_mean(tf.square(o)) for o in outputs] + losses)

    @tf.function
    def train():
        with tf.GradientTape() as tape:
            loss = forward(True)
        variables = [v for m in FRAMES for v in layers[m].trainable_variables]
        # The loss too: the outputs carry no gradient to the segmental
        # layer's own weights, and an unused output would not be computed.
        return loss, tape.gradient(loss, variables)

    @tf.function
    def infer():
        return forward(False)

    return train, infer


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=_positive_int, default=15)
    p.add_argument("--batch", type=_positive_int, default=32)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    words, word_mask, frames = make_batch(rng, args.batch)
    steps = {name: step_functions(name, words, word_mask, frames)
             for name in ("soft", "segmental")}
    for train, infer in steps.values():  # trace once before timing
        train()
        infer()
    times = {(name, kind): [] for name in steps for kind in ("train", "inference")}
    for _ in range(args.repeats):
        for name, (train, infer) in steps.items():
            for kind, fn in (("train", train), ("inference", infer)):
                start = time.perf_counter()
                fn()
                times[(name, kind)].append(time.perf_counter() - start)
    print(f"batch {args.batch}, {WORDS} words, audio {FRAMES['audio']}, video "
          f"{FRAMES['video']}; median of {args.repeats} (ms, audio + video aligners):")
    for kind in ("train", "inference"):
        soft = float(np.median(times[("soft", kind)])) * 1e3
        segmental = float(np.median(times[("segmental", kind)])) * 1e3
        print(f"  {kind:9s}  soft {soft:7.1f}   segmental {segmental:7.1f}   "
              f"ratio {segmental / soft:5.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
