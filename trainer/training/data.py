"""Datasets of transformed examples for training and validation.

Transform writes one dense example per segment; we read each split once,
keep only the model's inputs and the label, and cache the result in memory,
so every epoch after the first runs at the speed of the model, not of
TFRecord parsing. (MOSI: ~110 MB of train tensors; MOSEI: ~1.4 GB.)
"""

from __future__ import annotations

from typing import Iterable, Tuple, Union

import tensorflow as tf

from msa_data import contract
from trainer.core import features

_READ_BATCH = 256


def read_split(file_patterns: Union[str, Iterable[str]], tf_transform_output) -> tf.data.Dataset:
    """Unbatched, cached (features, label) pairs of one transformed split.

    Only the model's inputs and the label are parsed: the ids and counts
    Transform also writes are for the Evaluator, not for training.
    """
    patterns = [file_patterns] if isinstance(file_patterns, str) else list(file_patterns)
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise ValueError(f"Trainer: no transformed examples match {patterns}")
    full_spec = tf_transform_output.transformed_feature_spec()
    keys = features.model_input_keys() + (contract.LABEL,)
    spec = {k: full_spec[k] for k in keys}

    def parse(records):
        parsed = tf.io.parse_example(records, spec)
        label = parsed.pop(contract.LABEL)
        return parsed, label

    # TFX's Transform writes gzipped TFRecords.
    compression = "GZIP" if files[0].endswith(".gz") else ""
    return (tf.data.TFRecordDataset(files, compression_type=compression)
            .batch(_READ_BATCH)
            .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch()
            .cache())


def transformed_lengths(tf_transform_output) -> dict:
    """``{modality: frames}`` that Transform padded each modality to.

    The model is sized from these, not from the settings the run was given:
    on Kubeflow, Transform's lengths are chosen only at run time
    (components/sequence_lengths.py).
    """
    spec = tf_transform_output.transformed_feature_spec()
    return {m: int(spec[m].shape[0]) for m in contract.MODALITIES}


def read_train_and_valid(fn_args, tf_transform_output, who: str):
    """``(train, valid, train_size)`` from a Trainer's or Tuner's ``fn_args``.

    Both splits are counted once, which fills their caches; an empty train
    split stops ``who`` (the component) with one line naming the files.
    """
    train_ds = read_split(fn_args.train_files, tf_transform_output)
    valid_ds = read_split(fn_args.eval_files, tf_transform_output)
    train_size = count(train_ds)
    if train_size == 0:
        raise ValueError(f"{who}: the train split {fn_args.train_files} holds no examples")
    count(valid_ds)
    return train_ds, valid_ds, train_size


def count(dataset: tf.data.Dataset) -> int:
    """Counts examples; on a cached dataset this pass also fills the cache."""
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1).numpy())


def is_word_aligned(dataset: tf.data.Dataset) -> bool:
    """True when every example's three masks are identical (step t = word t).

    Word-aligned CMU-MOSI/MOSEI features have one frame per word in every
    modality; unaligned ones have their own frame rates, so their masks
    differ (or have different lengths).
    """
    masks = [features.mask_key(m) for m in contract.MODALITIES]
    shapes = {tuple(dataset.element_spec[0][k].shape) for k in masks}
    if len(shapes) != 1:
        return False

    def same(ok, element):
        inputs, _ = element
        text = inputs[masks[0]]
        return ok & tf.reduce_all(tf.equal(text, inputs[masks[1]])) \
            & tf.reduce_all(tf.equal(text, inputs[masks[2]]))

    return bool(dataset.batch(_READ_BATCH).reduce(tf.constant(True), lambda ok, b: same(ok, b))
                .numpy())


def training_batches(dataset: tf.data.Dataset, size: int, batch_size: int, seed: int):
    """Reshuffled every epoch, repeated forever; the caller sets steps."""
    return (dataset.shuffle(max(size, 1), seed=seed, reshuffle_each_iteration=True)
            .repeat().batch(batch_size).prefetch(tf.data.AUTOTUNE))


def eval_batches(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def steps_plan(train_size: int, batch_size: int, train_steps: int, min_epochs: int = 0
               ) -> Tuple[int, int]:
    """(steps_per_epoch, epochs) covering ``train_steps`` optimizer steps, and at least
    ``min_epochs`` passes over the train split.

    An epoch is one pass over the train split, capped at the budget so a
    tiny step budget still validates (and early-stops) once. A fixed step
    budget is a few epochs of a large dataset (2400 steps: 59 passes over
    CMU-MOSI's train split, 5 over CMU-MOSEI's), too few for what only
    appears after several passes; ``min_epochs`` raises the budget there.
    """
    if train_steps < 1:
        raise ValueError(f"train_steps: expected >= 1, got {train_steps}")
    if min_epochs < 0:
        raise ValueError(f"min_epochs: expected >= 0, got {min_epochs}")
    full_epoch = max(1, -(-train_size // batch_size))
    budget = max(train_steps, min_epochs * full_epoch)
    per_epoch = min(full_epoch, budget)
    epochs = -(-budget // per_epoch)
    return per_epoch, epochs
