"""Datasets of transformed examples for training and validation.

Transform writes one dense example per segment; we read each split once,
keep only the model's inputs and the label, and cache the result in memory,
so every epoch after the first runs at the speed of the model, not of
TFRecord parsing. (MOSI: ~110 MB of train tensors; MOSEI: ~1.4 GB.)
"""

from __future__ import annotations

from typing import List, Tuple

import tensorflow as tf
from tfx_bsl.public import tfxio

from msa_data import contract
from trainer import preprocessing

_READ_BATCH = 256


def _select(features, label):
    return {k: features[k] for k in preprocessing.model_input_keys()}, label


def read_split(file_pattern: List[str], data_accessor, tf_transform_output) -> tf.data.Dataset:
    """Unbatched, cached (features, label) pairs of one transformed split."""
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=_READ_BATCH, label_key=contract.LABEL, num_epochs=1, shuffle=False),
        tf_transform_output.transformed_metadata.schema,
    )
    return dataset.map(_select, num_parallel_calls=tf.data.AUTOTUNE).unbatch().cache()


def count(dataset: tf.data.Dataset) -> int:
    """Counts examples; on a cached dataset this pass also fills the cache."""
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1).numpy())


def training_batches(dataset: tf.data.Dataset, size: int, batch_size: int, seed: int):
    """Reshuffled every epoch, repeated forever; the caller sets steps."""
    return (dataset.shuffle(max(size, 1), seed=seed, reshuffle_each_iteration=True)
            .repeat().batch(batch_size).prefetch(tf.data.AUTOTUNE))


def eval_batches(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def steps_plan(train_size: int, batch_size: int, train_steps: int) -> Tuple[int, int]:
    """(steps_per_epoch, epochs) covering ``train_steps`` optimizer steps.

    An epoch is one pass over the train split, capped at ``train_steps`` so
    a tiny step budget still validates (and early-stops) once.
    """
    if train_steps < 1:
        raise ValueError(f"train_steps: expected >= 1, got {train_steps}")
    per_epoch = max(1, -(-train_size // batch_size))
    per_epoch = min(per_epoch, train_steps)
    epochs = -(-train_steps // per_epoch)
    return per_epoch, epochs
