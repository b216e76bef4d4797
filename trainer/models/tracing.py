"""Model calls traced without AutoGraph.

Inside ``fit``'s and the export's ``tf.function`` s, Keras runs every
subclassed layer's ``call`` through AutoGraph, which rewrites Python
``if``/``for`` into graph control flow where they depend on tensors. The
layers in this package branch only on Python values (configuration,
static shapes, ``None`` masks) and loop over Python ranges, so the rewrite
changes nothing in the graph but cost 40% of a small model's training time
in tracing (measured: 44 s -> 27 s for one ``task.train`` of the resume
test's model, same validation loss to the last digit).
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
