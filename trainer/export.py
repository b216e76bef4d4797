"""The exported SavedModel and its serving signatures.

* ``serving_default``: serialized raw contract ``tf.Example``s (no label
  needed) -> ``{"sentiment": float32 [batch, 1]}``. The Transform graph runs
  inside the signature, so clients send exactly what the data contract
  describes.
* ``transform_features``: serialized raw examples -> transformed features
  (used by the Evaluator for labels and slice keys).

Whatever policy the model trained under, it is exported as a float32 twin
with the same weights, so it serves on a CPU-only host.
"""

from __future__ import annotations

import tensorflow as tf

from msa_data import contract
from trainer.core import features
from trainer.core.config import TrainerConfig
from trainer.training.keras_model import build_keras_model

SERVING_OUTPUT = "sentiment"


def serving_feature_spec():
    """Raw parsing spec at serving: no label; ids optional (default '')."""
    spec = contract.raw_feature_spec(include_label=False)
    for key in (contract.SEGMENT_ID, contract.VIDEO_ID, contract.DATASET):
        spec[key] = tf.io.FixedLenFeature([], tf.string, default_value="")
    return spec


def export_serving_model(trained: tf.keras.Model, config: TrainerConfig, tf_transform_output,
                         export_dir: str) -> None:
    """Writes the float32 serving SavedModel of ``trained`` to ``export_dir``."""
    model = build_keras_model(config, policy="float32")
    model.set_weights(trained.get_weights())
    # Attached so the Transform graph's assets are tracked and saved with it.
    model.tft_layer = tf_transform_output.transform_features_layer()
    input_keys = features.model_input_keys()
    # Built here, outside the tf.functions. Both are traced without AutoGraph:
    # they hold no Python control flow on tensors, and converting Keras's and
    # tf.Transform's layer calls was half of the export's time (measured: a
    # small mixed_float16 run_fn 24 -> 19 s, tests/test_trainer.py checks the
    # served scores against the Keras model's).
    request_spec = serving_feature_spec()
    labelled_spec = contract.raw_feature_spec(include_label=True)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)
    def serve(serialized):
        raw = tf.io.parse_example(serialized, request_spec)
        transformed = model.tft_layer(raw)
        inputs = {k: transformed[k] for k in input_keys}
        return {SERVING_OUTPUT: tf.cast(model(inputs, training=False), tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)
    def transform_features(serialized):
        raw = tf.io.parse_example(serialized, labelled_spec)
        return model.tft_layer(raw)

    # save_traces=False: Keras would otherwise trace every layer's call for
    # its own reloading (27 s of a 32 s export for the default model). Every
    # consumer here (TFMA, BulkInferrer, serving) calls the signatures;
    # tf.keras.models.load_model rebuilds the model from its layers' configs.
    model.save(
        export_dir,
        save_format="tf",
        save_traces=False,
        signatures={"serving_default": serve, "transform_features": transform_features},
    )
