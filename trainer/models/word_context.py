"""What the neighbouring words do to a word: negation, intensifiers."""

from __future__ import annotations

import tensorflow as tf

from trainer.models.blocks import zero_invalid
from trainer.models.positional import as_bool_mask


@tf.keras.utils.register_keras_serializable(package="msa")
class WordContext(tf.keras.layers.Layer):
    """A per-word multiplier read from the words around each word.

    "good" and "not good" hold the same word, so a score that sums words one
    by one cannot tell them apart; what a word contributes depends on the
    words near it (a negator flips it, an intensifier scales it). This layer
    is a small convolutional sequence model over the word embeddings, the
    n-gram view of CNN sentence models, returning for each of ``channels``
    channels::

        m_tk = 1 + r_k . gelu(conv(text)_t)

    where ``conv`` sees the ``window`` words on each side of word ``t``,
    but not ``t`` itself, each reduced to ``reduced`` numbers by one shared
    linear map (a negator or an intensifier is a direction of the text),
    through ``hidden`` units. Word ``t`` itself is left out because its
    contribution is the word-level score's; relative offsets are what a
    convolution learns directly, which the encoder's attention over learned
    absolute positions has to infer from labels. Padded words are zeroed
    before the convolution, so a segment's padding never reaches its words.

    Why these settings. Where a bag of words says nothing (the negated and
    plain uses of a word cancel), the word's score, the read-out ``r`` and
    the negator's direction must all be found together, from a start where
    each one's gradient needs the others: a saddle. Whether a run leaves it
    depends on the initialisation. With one reduced direction and ``r`` at
    0, seed 7 of 0-7 of the word-level path never did in 40 passes over
    7,706 context segments (``benchmarks/word_path_seeds.py``), so the
    defaults give the saddle more ways out: 4 directions (more random
    starts that see a negator) and ``r`` drawn from N(0, ``readout_stddev``)
    instead of 0, a multiplier within a few percent of 1, so training still
    starts near the plain bag of words. Four directions read the
    neighbours' noise too, which memorised the built-in word-aligned data
    (where context does not matter): L2 weight decay ``reduce_l2`` on the
    reduction keeps them to what the labels pay for. docs/model.md has the
    measurements. In the whole model the path must also be fitted on its
    own loss (:class:`~trainer.training.keras_model.WordPathOnItsOwnLoss`):
    fitted jointly with the sequence-level path, it stayed on the saddle on
    one seed of three with either version of this layer.

    Shapes: ``text`` ``(batch, L, text_dim)``, ``mask`` ``(batch, L)``
    (True = a valid word). Output ``(batch, L, channels)`` in float32; a
    padded word gets 1.
    """

    def __init__(self, channels: int = 1, window: int = 2, reduced: int = 4, hidden: int = 4,
                 readout_stddev: float = 0.1, reduce_l2: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        for name, value, low in (("channels", channels, 1), ("window", window, 1),
                                 ("reduced", reduced, 1), ("hidden", hidden, 1)):
            if int(value) < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
        self.channels = int(channels)
        self.window = int(window)
        self.reduced = int(reduced)
        self.hidden = int(hidden)
        if float(readout_stddev) < 0:
            raise ValueError(f"readout_stddev must be >= 0, got {readout_stddev}")
        self.readout_stddev = float(readout_stddev)
        if float(reduce_l2) < 0:
            raise ValueError(f"reduce_l2 must be >= 0, got {reduce_l2}")
        self.reduce_l2 = float(reduce_l2)
        self.reduce = tf.keras.layers.Dense(
            self.reduced, use_bias=False, name="reduce", dtype=self.dtype_policy,
            kernel_regularizer=(tf.keras.regularizers.l2(self.reduce_l2)
                                if self.reduce_l2 > 0 else None))
        readout_init = (tf.keras.initializers.RandomNormal(stddev=self.readout_stddev)
                        if self.readout_stddev > 0 else "zeros")
        self.modifier = tf.keras.layers.Dense(self.channels, kernel_initializer=readout_init,
                                              use_bias=False, dtype="float32", name="modifier")

    def build(self, input_shape):
        taps = 2 * self.window + 1
        self.kernel = self.add_weight(name="kernel", shape=(taps, self.reduced, self.hidden),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.hidden,), initializer="zeros")
        # The middle tap (the word itself) is held at zero.
        self._neighbours = tf.constant(
            [[[0.0]] if i == self.window else [[1.0]] for i in range(taps)])
        super().build(input_shape)

    def call(self, text, mask):
        mask = as_bool_mask(mask)
        # Padded steps may hold anything (inf after a float16 cast).
        text = self.reduce(zero_invalid(text, mask))
        kernel = tf.cast(self.kernel, text.dtype) * tf.cast(self._neighbours, text.dtype)
        features = tf.nn.gelu(tf.nn.conv1d(text, kernel, stride=1, padding="SAME")
                              + tf.cast(self.bias, text.dtype))
        multiplier = 1.0 + self.modifier(tf.cast(features, tf.float32))
        return tf.where(mask[..., None], multiplier, tf.ones_like(multiplier))

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels, "window": self.window,
                       "reduced": self.reduced, "hidden": self.hidden,
                       "readout_stddev": self.readout_stddev,
                       "reduce_l2": self.reduce_l2})
        return config
