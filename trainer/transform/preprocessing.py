"""Transform's ``preprocessing_fn``: contract examples -> model-ready tensors.

For each modality ``m`` with width ``dim`` and maximum length ``L``:

* ``m``            float32 (batch, L, dim): z-scored frames, zero-padded or
                   truncated to ``L``;
* ``m_mask``       int64 (batch, L): 1 for a real frame, 0 for padding;
* ``m_nonfinite``  int64 (batch,): how many NaN/inf values were cleaned.

Statistics are per dimension and full-pass (a TFT analyzer), computed over
the real frames only: the raw data holds no padding, and padding is added
after normalisation, so it can never shift the mean or variance. A
non-finite value does not enter the statistics and becomes 0 after
normalisation, i.e. the feature's mean. Z-scores are clipped to
``[-Z_CLIP, Z_CLIP]``: a value that far out is a sensor or parsing fault,
not signal, and the bound keeps every finite input's score finite (in
float16 too) at serving time.

``label``, the ids and ``text_len`` pass through unchanged (the ids are the
Evaluator's slice keys); ``label_train_mean`` is the train-split label mean,
the constant predictor the Evaluator's gate compares against.

Slice keys for the Evaluator, derived here so every consumer sees the same
definition (their names are in :mod:`trainer.core.features`) (strings, one per example):

* ``polarity``: ``negative`` (label < 0), ``neutral`` (label == 0),
  ``positive`` (label > 0); only when the label is present (not at serving);
* ``text_len_bucket``: words (text frames) in ``0``, ``1-5``, ``6-10``,
  ``11-20``, ``21+`` (:data:`TEXT_LEN_BUCKETS`).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import tensorflow as tf
import tensorflow_transform as tft

from msa_data import contract
from trainer.core.features import (
    DEFAULT_MAX_LENS,
    LABEL_TRAIN_MEAN,
    PASSTHROUGH,
    POLARITY,
    POLARITY_NAMES,
    TEXT_LEN_BUCKET,
    TEXT_LEN_BUCKETS,
    mask_key,
    nonfinite_key,
)

# Below this standard deviation a dimension is treated as constant: dividing
# by ~0 would turn rounding noise into huge values.
_MIN_STD = 1e-6
# Bound on |z-score| after normalisation (see the module docstring).
Z_CLIP = 10.0


def frames_from_flat(flat: tf.SparseTensor, lengths: tf.Tensor, dim: int, modality: str,
                     segment_ids: Optional[tf.Tensor] = None) -> tf.RaggedTensor:
    """(batch, None) flattened values -> ragged (batch, [len], dim) frames.

    Fails (never reshapes silently) when a row's value count is not
    ``len * dim``; the error names the modality and the offending segments.
    """
    lengths = tf.cast(tf.reshape(lengths, [-1]), tf.int64)
    expected = lengths * dim

    def violation():
        # Only on failure: every row's real count, for the message.
        counts = tf.math.bincount(tf.cast(flat.indices[:, 0], tf.int32),
                                  minlength=tf.size(expected), maxlength=tf.size(expected),
                                  dtype=tf.int64)
        bad = tf.not_equal(counts, expected)
        data = [f"contract violation: feature {modality}: flattened length is not "
                f"{modality}_len x {dim}; segments:",
                tf.boolean_mask(segment_ids, bad) if segment_ids is not None else "?",
                "values:", tf.boolean_mask(counts, bad), "expected:",
                tf.boolean_mask(expected, bad)]
        with tf.control_dependencies([tf.debugging.Assert(False, data, summarize=5)]):
            return tf.constant(False)

    check = tf.cond(_counts_match(flat.indices, expected, tf.size(flat.values, tf.int64)),
                    lambda: tf.constant(True), violation)
    with tf.control_dependencies([check]):
        values = tf.reshape(flat.values, [-1, dim])
    return tf.RaggedTensor.from_row_lengths(values, lengths, validate=False)


def _counts_match(indices: tf.Tensor, expected: tf.Tensor, n_values: tf.Tensor) -> tf.Tensor:
    """Whether row ``r`` of a parsed VarLenFeature holds exactly ``expected[r]`` values.

    Parsing writes ``indices`` in row-major order, so the row ids are sorted:
    when the totals agree and the first and last value of each row's expected
    span both belong to that row, every value between them does too. That
    reads two indices per row instead of counting every value (the count was
    a large part of the serving signature's Transform time).
    """
    ends = tf.cumsum(expected)

    def spans_hold():
        nonempty = expected > 0
        rows = tf.boolean_mask(tf.range(tf.size(expected, out_type=tf.int64)), nonempty)
        firsts = tf.boolean_mask(ends - expected, nonempty)
        lasts = tf.boolean_mask(ends - 1, nonempty)
        column = tf.zeros_like(firsts)
        first_rows = tf.gather_nd(indices, tf.stack([firsts, column], axis=1))
        last_rows = tf.gather_nd(indices, tf.stack([lasts, column], axis=1))
        return tf.reduce_all(tf.equal(first_rows, rows) & tf.equal(last_rows, rows))

    # Only read the spans when they lie inside the values.
    return tf.cond(tf.equal(tf.reduce_sum(expected), n_values), spans_hold,
                   lambda: tf.constant(False))


def pad_and_mask(frames: tf.RaggedTensor, max_len: int):
    """Truncates/zero-pads ragged (batch, [len], dim) to (batch, max_len, dim).

    Returns ``(dense, mask)``; ``mask`` is int64 (batch, max_len).
    """
    dim = frames.values.shape[-1]
    # to_tensor pads and truncates to the shape in one step; slicing the
    # ragged tensor first would copy every kept frame once more.
    dense = frames.to_tensor(default_value=0.0, shape=[None, max_len, dim])
    kept = tf.minimum(frames.row_lengths(), max_len)
    mask = tf.sequence_mask(kept, maxlen=max_len, dtype=tf.int64)
    return dense, mask


def finite_moments(values: tf.Tensor):
    """Full-pass per-dimension mean and std of (frames, dim) over finite values."""
    finite = tf.math.is_finite(values)
    # float64 sums: MOSEI has ~10^6 frames and COVAREP values in the hundreds.
    x = tf.where(finite, tf.cast(values, tf.float64), tf.zeros_like(values, tf.float64))
    count = tft.sum(tf.cast(finite, tf.float64), reduce_instance_dims=False)
    total = tft.sum(x, reduce_instance_dims=False)
    total_sq = tft.sum(tf.square(x), reduce_instance_dims=False)
    n = tf.maximum(count, 1.0)
    mean = total / n
    var = tf.maximum(total_sq / n - tf.square(mean), 0.0)
    std = tf.sqrt(var)
    std = tf.where(std < _MIN_STD, tf.ones_like(std), std)
    return mean, std


def normalize_frames(frames: tf.RaggedTensor):
    """Z-scores ragged frames with full-pass stats; cleans non-finite values.

    Returns ``(normalized ragged frames, per-example non-finite count)``.
    """
    values = frames.values
    mean, std = finite_moments(values)
    finite = tf.math.is_finite(values)
    # The statistics are float64 sums; applying them in float32 changes a
    # z-score by about one float32 ulp and keeps the serving signature's
    # elementwise work in float32 (benchmarks/serving_benchmark.py).
    z = (values - tf.cast(mean, tf.float32)) * tf.cast(1.0 / std, tf.float32)
    z = tf.where(finite, tf.clip_by_value(z, -Z_CLIP, Z_CLIP), tf.zeros_like(z))
    normalized = frames.with_values(z)
    bad = ~finite

    def count_nonfinite():
        per_frame = tf.reduce_sum(tf.cast(bad, tf.int64), axis=1)
        return tf.reduce_sum(frames.with_values(per_frame), axis=1)

    # Counted only when there is something to count: clean data is the rule.
    nonfinite = tf.cond(tf.reduce_any(bad), count_nonfinite,
                        lambda: tf.zeros(tf.reshape(frames.nrows(), [1]), tf.int64))
    return normalized, nonfinite


def polarity(label: tf.Tensor) -> tf.Tensor:
    """negative / neutral / positive from the sign of the label."""
    label = tf.reshape(label, [-1])
    names = tf.constant(POLARITY_NAMES)
    index = tf.cast(label >= 0, tf.int32) + tf.cast(label > 0, tf.int32)
    return tf.gather(names, index)


def text_len_bucket(text_len: tf.Tensor) -> tf.Tensor:
    """The :data:`TEXT_LEN_BUCKETS` name of each word count."""
    text_len = tf.reshape(tf.cast(text_len, tf.int64), [-1])
    index = tf.zeros_like(text_len, tf.int32)
    for _, first, _ in TEXT_LEN_BUCKETS[1:]:
        index += tf.cast(text_len >= first, tf.int32)
    return tf.gather(tf.constant([name for name, _, _ in TEXT_LEN_BUCKETS]), index)


def preprocessing_fn(inputs: Mapping[str, Any], custom_config: Optional[Dict[str, Any]] = None):
    """TFX Transform entry point.

    ``custom_config`` may set ``dims`` and ``max_lens`` ({modality: int});
    defaults are the contract's dims and 50 frames per modality.
    """
    custom_config = custom_config or {}
    dims = {**contract.DEFAULT_DIMS, **(custom_config.get("dims") or {})}
    max_lens = {**DEFAULT_MAX_LENS, **(custom_config.get("max_lens") or {})}
    segment_ids = inputs.get(contract.SEGMENT_ID)

    outputs = {}
    for modality in contract.MODALITIES:
        lengths = inputs[contract.length_key(modality)]
        frames = frames_from_flat(inputs[modality], lengths, dims[modality], modality, segment_ids)
        normalized, nonfinite = normalize_frames(frames)
        dense, mask = pad_and_mask(normalized, max_lens[modality])
        outputs[modality] = dense
        outputs[mask_key(modality)] = mask
        outputs[nonfinite_key(modality)] = nonfinite
    outputs[contract.length_key("text")] = tf.reshape(
        tf.cast(inputs[contract.length_key("text")], tf.int64), [-1])
    outputs[TEXT_LEN_BUCKET] = text_len_bucket(inputs[contract.length_key("text")])

    for key in PASSTHROUGH:
        if key in inputs:
            outputs[key] = inputs[key]
    if contract.LABEL in inputs:
        # The constant predictor the Evaluator must beat: mean label of the
        # analysed (train) split, broadcast per example. Absent at serving.
        label = inputs[contract.LABEL]
        outputs[LABEL_TRAIN_MEAN] = tf.zeros_like(label) + tft.mean(label)
        outputs[POLARITY] = polarity(label)
    return outputs
