"""The Trainer's validation metrics: the MSA metrics as one streaming Keras metric.

:class:`MSAMetrics` keeps :mod:`trainer.metrics.msa_metrics`' statistics vector in a
float64 variable; each batch adds ``msa_metrics.batch_stats`` of its labels
and predictions, and ``result()`` is ``msa_metrics.compute`` of the sum, so
``val_mae``, ``val_corr``, ``val_acc2_has0`` ... in the training logs (and
TensorBoard) are exactly the Evaluator's definitions, over the whole
validation split rather than averaged per batch.

Both run as TensorFlow ops (:mod:`trainer.metrics.msa_metrics_tf`, checked against
the numpy definitions by the tests), not ``tf.numpy_function``: Keras runs
them inside the train step, which XLA compiles under ``jit_compile``.
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from trainer.metrics import msa_metrics, msa_metrics_tf


class MSAMetrics(tf.keras.metrics.Metric):
    """Streams ``names`` (default: all but ``example_count``) as one metric.

    ``result()`` is a dict, which Keras flattens into the logs under each
    metric's own name.
    """

    def __init__(self, names: Sequence[str] = msa_metrics.TRAINING_METRIC_NAMES,
                 name: str = "msa_metrics", **kwargs):
        kwargs.pop("dtype", None)
        super().__init__(name=name, dtype=tf.float64, **kwargs)
        unknown = sorted(set(names) - set(msa_metrics.METRIC_NAMES))
        if unknown:
            raise ValueError(f"MSAMetrics: unknown metric(s) {unknown}; "
                             f"known: {list(msa_metrics.METRIC_NAMES)}")
        self.names = tuple(names)
        self.stats = self.add_weight(name="stats", shape=(msa_metrics.STATS_SIZE,),
                                     dtype=tf.float64, initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("MSAMetrics: the MSA metrics are unweighted; got sample_weight")
        return self.stats.assign_add(msa_metrics_tf.batch_stats(y_true, y_pred))

    def result(self):
        return msa_metrics_tf.compute(self.stats, self.names)

    def reset_state(self):
        self.stats.assign(tf.zeros_like(self.stats))

    def get_config(self):
        return {**super().get_config(), "names": list(self.names)}
