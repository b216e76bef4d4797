"""The MSA statistics and metrics in TensorFlow ops, for the Trainer's Keras metric.

Why a second implementation: Keras runs ``update_state`` *and* ``result()``
of every compiled metric inside the train step, and a train step compiled
with XLA (``jit_compile``, trainer/training/keras_model.py) cannot contain
``tf.numpy_function`` (PyFunc has no XLA kernel). So the Keras metric computes
the statistics vector and the metrics from it with plain TF ops here.

:mod:`trainer.metrics.msa_metrics` (numpy) stays the one reference definition; these
functions reproduce it (tests/test_msa_metrics.py checks them against it,
eagerly and under ``tf.function(jit_compile=True)``):

* :func:`batch_stats` is ``msa_metrics.batch_stats(labels, predictions)``
  (no constant predictor: ``CONST_N`` and ``CONST_ABS_ERR`` stay 0), laid out
  at the same indices. Counts are exact; the sums of errors and moments
  agree to float64 rounding (numpy sums pairwise, TF in its own order).
* :func:`compute` is ``msa_metrics.compute`` for the named metrics.

One difference, outside numpy's domain: a NaN label or prediction makes
numpy's ``rounded_class`` fail (NaN has no integer class); here that example
is left out of the 7- and 5-class confusion counts (its sums, and so ``mae``
and ``corr``, are NaN, and it still counts in the 2-class matrices as numpy
counts it: ``NaN >= 0`` is false).
"""

from __future__ import annotations

from typing import Dict, Sequence

import tensorflow as tf

from trainer.metrics import msa_metrics as M

# batch_stats writes these as consecutive runs.
assert (M.SUM_P, M.SUM_YY, M.SUM_PP, M.SUM_YP) == tuple(M.SUM_Y + i for i in range(1, 5))
assert M.CONST_ABS_ERR == M.CONST_N + 1


def _confusion(true_idx, pred_idx, k: int, keep=None):
    """Flattened k x k counts (true row, predicted column) of the kept examples."""
    flat = true_idx * k + pred_idx
    if keep is not None:
        flat = tf.where(keep, flat, -1)  # one_hot of -1 is a row of zeros
    return tf.reduce_sum(tf.one_hot(flat, k * k, dtype=tf.float64), axis=0)


def _rounded_class(values, bound: int):
    """``msa_metrics.rounded_class``: round half to even of the clipped value."""
    clipped = tf.clip_by_value(values, tf.constant(-bound, values.dtype),
                               tf.constant(bound, values.dtype))
    return tf.cast(tf.round(clipped), tf.int32)  # tf.round: half to even, like np.round


def batch_stats(labels, predictions):
    """The float64 statistics vector (length ``STATS_SIZE``) of one batch."""
    y = tf.reshape(tf.cast(labels, tf.float64), [-1])
    p = tf.reshape(tf.cast(predictions, tf.float64), [-1])
    if None not in (y.shape[0], p.shape[0]) and y.shape[0] != p.shape[0]:
        raise ValueError(f"msa metrics: {y.shape[0]} labels but {p.shape[0]} predictions")
    n = tf.cast(tf.size(y), tf.float64)
    both_numbers = tf.logical_not(tf.logical_or(tf.math.is_nan(y), tf.math.is_nan(p)))

    def as_int(condition):
        return tf.cast(condition, tf.int32)

    pieces = [  # (first index in the vector, values), in index order
        (M.N, tf.reshape(n, [1])),
        (M.ABS_ERR, tf.reshape(tf.reduce_sum(tf.abs(p - y)), [1])),
        (M.SUM_Y, tf.stack([tf.reduce_sum(y), tf.reduce_sum(p),  # SUM_Y, SUM_P,
                            tf.reduce_sum(y * y), tf.reduce_sum(p * p),  # SUM_YY, SUM_PP,
                            tf.reduce_sum(y * p)])),  # SUM_YP
        (M.CONST_N, tf.zeros([2], tf.float64)),  # CONST_N, CONST_ABS_ERR: no constant here
        (M.HAS0.start, _confusion(as_int(y >= 0), as_int(p >= 0), 2)),
        (M.NON0.start, _confusion(as_int(y > 0), as_int(p > 0), 2, keep=tf.not_equal(y, 0))),
        (M.C7.start, _confusion(_rounded_class(y, 3) + 3, _rounded_class(p, 3) + 3, 7,
                                keep=both_numbers)),
        (M.C5.start, _confusion(_rounded_class(y, 2) + 2, _rounded_class(p, 2) + 2, 5,
                                keep=both_numbers)),
    ]
    offset = 0
    for start, values in pieces:  # the pieces tile msa_metrics' layout exactly
        assert start == offset, f"msa_metrics layout changed at index {start}"
        offset += int(values.shape[0])
    assert offset == M.STATS_SIZE, "msa_metrics layout changed"
    return tf.concat([values for _, values in pieces], axis=0)


def _nan():
    return tf.constant(float("nan"), tf.float64)


def _ratio(num, den):
    """``num / den`` where ``den > 0``, else NaN."""
    return tf.where(den > 0, tf.math.divide_no_nan(num, den), _nan())


def _accuracy(confusion):
    return _ratio(tf.linalg.trace(confusion), tf.reduce_sum(confusion))


def _weighted_f1(confusion):
    """``msa_metrics.weighted_f1``."""
    support = tf.reduce_sum(confusion, axis=1)
    total = tf.reduce_sum(support)
    tp = tf.linalg.diag_part(confusion)
    fp = tf.reduce_sum(confusion, axis=0) - tp
    fn = support - tp
    denom = 2 * tp + fp + fn
    f1 = tf.where(denom > 0, tf.math.divide_no_nan(2 * tp, denom), tf.zeros_like(tp))
    return _ratio(tf.reduce_sum(f1 * support), total)


def _pearson(stats):
    """``msa_metrics.pearson``: NaN for fewer than two examples or a constant variable."""
    n = stats[M.N]
    safe_n = tf.maximum(n, 1.0)
    my, mp = stats[M.SUM_Y] / safe_n, stats[M.SUM_P] / safe_n
    eyy, epp = stats[M.SUM_YY] / safe_n, stats[M.SUM_PP] / safe_n
    var_y, var_p = eyy - my * my, epp - mp * mp
    cov = stats[M.SUM_YP] / safe_n - my * mp
    tol = M.CONSTANT_REL_STD ** 2
    undefined = ((n < 2) | (var_y <= tol * eyy) | (var_p <= tol * epp)
                 | (var_y <= 0) | (var_p <= 0))
    product = tf.where(undefined, tf.ones_like(var_y), var_y * var_p)
    r = tf.clip_by_value(cov / tf.sqrt(product), -1.0, 1.0)
    return tf.where(undefined, _nan(), r)


def compute(stats, names: Sequence[str] = M.TRAINING_METRIC_NAMES) -> Dict[str, tf.Tensor]:
    """``msa_metrics.compute(stats)[name]`` for each of ``names`` (float64 scalars)."""
    stats = tf.cast(stats, tf.float64)
    has0 = tf.reshape(stats[M.HAS0], [2, 2])
    non0 = tf.reshape(stats[M.NON0], [2, 2])
    metrics = {
        "mae": lambda: _ratio(stats[M.ABS_ERR], stats[M.N]),
        "corr": lambda: _pearson(stats),
        "acc2_has0": lambda: _accuracy(has0),
        "f1_has0": lambda: _weighted_f1(has0),
        "acc2_non0": lambda: _accuracy(non0),
        "f1_non0": lambda: _weighted_f1(non0),
        "acc7": lambda: _accuracy(tf.reshape(stats[M.C7], [7, 7])),
        "acc5": lambda: _accuracy(tf.reshape(stats[M.C5], [5, 5])),
        "example_count": lambda: stats[M.N],
        "constant_mae": lambda: _ratio(stats[M.CONST_ABS_ERR], stats[M.CONST_N]),
    }
    unknown = sorted(set(names) - set(metrics))
    if unknown:
        raise ValueError(f"msa metrics: unknown metric(s) {unknown}; known: {sorted(metrics)}")
    return {name: metrics[name]() for name in names}
