"""Model calls traced without AutoGraph.

Inside ``fit``'s and the export's ``tf.function`` s, Keras runs every
subclassed layer's ``call`` through AutoGraph, which rewrites Python
``if``/``for`` into graph control flow where they depend on tensors. The
layers in this package branch only on Python values (configuration,
static shapes, ``None`` masks) and loop over Python ranges, so the rewrite
changes nothing in the graph but cost 40% of a small model's training time
in tracing (measured: 44 s -> 27 s for one ``trainer.training.loop.train`` of the resume
test's model, same validation loss to the last digit). Keras's own train,
validation and predict steps, which wrap the model, are traced without it
too (:class:`StepsWithoutAutograph`, the functional model the Trainer fits).
"""

from __future__ import annotations

import functools

import tensorflow as tf


def traced_without_autograph(call):
    """Decorates a top-level model's ``call(self, inputs, training=False)``.

    Its body, and every layer it calls, run unconverted (AutoGraph stays
    off for the layers nested below). The wrapper keeps ``call`` 's
    signature, from which Keras decides whether to pass ``training``.
    """
    plain = tf.autograph.experimental.do_not_convert(call)

    @functools.wraps(call)
    def wrapper(self, inputs, training=False):
        return plain(self, inputs, training=training)

    return wrapper


@tf.keras.utils.register_keras_serializable(package="msa")
class StepsWithoutAutograph(tf.keras.Model):
    """A functional ``tf.keras.Model`` whose fit/evaluate/predict steps skip AutoGraph.

    Built like any functional model (``StepsWithoutAutograph(inputs=...,
    outputs=...)``) and saved and reloaded as one. Keras's ``train_step``
    calls the loss, the metrics and the optimizer's update of every
    trainable variable, and AutoGraph converted each of those Python calls
    while tracing: most of a small model's training time. They branch on
    Python values only (the loss scale's finite-gradient check is an
    explicit ``tf.cond``), so the graph is the same without the rewrite:
    measured bit-identical weights after training, for seq_level (float32,
    mixed_float16, XLA), pooled (mixed_bfloat16) and text_only, with
    ``trainer.training.loop.train`` 25 -> 13 s, 16 -> 5 s and 13 -> 2 s for the resume
    test's small models. A condition on a tensor added to that path later
    would fail at trace time, not build a different graph.
    """

    @tf.autograph.experimental.do_not_convert
    def train_step(self, data):
        return super().train_step(data)

    @tf.autograph.experimental.do_not_convert
    def test_step(self, data):
        return super().test_step(data)

    @tf.autograph.experimental.do_not_convert
    def predict_step(self, data):
        return super().predict_step(data)
