"""Tiny models and batches shared by the model tests (test_models, test_models_options)."""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf

from trainer.models import MSASeqLevelModel

BATCH = 4


DIMS = (5, 4, 3)  # text, audio, video feature sizes


D_MODEL, HEADS, FF = 16, 2, 32


JUNK = 1e3


def make_model(seq_len=(10, 6, 8), dropout_rate=0.0, **kwargs):
    return MSASeqLevelModel(seq_len, *DIMS, model_dim=D_MODEL, num_heads=HEADS,
                            ff_dim=FF, dropout_rate=dropout_rate, **kwargs)


def random_batch(rng, lengths=(10, 6, 8), dims=DIMS, batch=BATCH,
                 empty=((1, 1), (2, 0), (3, 0), (3, 1), (3, 2))):
    """Sequences zero-padded to ``lengths`` plus bool masks.

    Each example gets a random true length per modality (>= 1) except the
    (example, modality) pairs in ``empty``, which get length 0; with the
    default, example 3 has no valid frame in any modality.
    """
    sequences, masks = [], []
    for m, (max_len, dim) in enumerate(zip(lengths, dims)):
        true_len = rng.integers(1, max_len + 1, size=batch)
        for example, modality in empty:
            if modality == m:
                true_len[example] = 0
        mask = np.arange(max_len)[None, :] < true_len[:, None]
        seq = rng.normal(size=(batch, max_len, dim)).astype("float32")
        # Keep valid frames away from the all-zero padding pattern.
        seq[..., 0] += np.where(seq[..., 0] >= 0, 0.1, -0.1)
        sequences.append(seq * mask[..., None])
        masks.append(mask)
    return sequences, masks


def with_junk(sequences, masks, rng, scale=JUNK):
    """Copies of ``sequences`` with large random values in padded frames."""
    return [np.where(mask[..., None], seq,
                     scale * rng.normal(size=seq.shape)).astype(seq.dtype)
            for seq, mask in zip(sequences, masks)]


@contextlib.contextmanager
def global_policy(name):
    tf.keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
