"""Wraps the chosen architecture as a Keras model over Transform's outputs.

Inputs are the transformed features by name: ``text`` (batch, L_text,
dim_text) ... and ``text_mask`` (batch, L_text) int64 ...; output is the
float32 sentiment score (batch, 1). Masks always come from Transform and
are passed explicitly: real FACET/COVAREP data has genuine all-zero frames,
so inferring padding from zeros would drop real frames.
"""

from __future__ import annotations

import tensorflow as tf

from msa_data import contract
from trainer.core import features
from trainer.core.config import TrainerConfig
from trainer.metrics.keras_metrics import MSAMetrics
from trainer.models import MSASeqLevelModel, PooledFusionModel, TextOnlyModel
from trainer.models.tracing import StepsWithoutAutograph
from trainer.training import optimization, precision

# --architecture -> (model class, name of the core layer)
ARCHITECTURES = {
    "seq_level": (MSASeqLevelModel, "msa_seq_level"),
    "pooled": (PooledFusionModel, "pooled_fusion"),
    "text_only": (TextOnlyModel, "text_only"),
}


def build_keras_model(config: TrainerConfig, policy: str = "float32") -> tf.keras.Model:
    """A functional model whose layers compute under dtype ``policy``.

    ``config`` must have its alignment options resolved
    (:meth:`TrainerConfig.resolve_alignment`).
    """
    with precision.policy_scope(policy):
        inputs = {}
        for m in contract.MODALITIES:
            inputs[m] = tf.keras.Input(
                shape=(config.max_lens[m], config.dims[m]), dtype=tf.float32, name=m)
            key = features.mask_key(m)
            inputs[key] = tf.keras.Input(shape=(config.max_lens[m],), dtype=tf.int64, name=key)
        model_class, name = ARCHITECTURES[config.architecture]
        core = model_class(**config.model_kwargs(), name=name)
        ordered = [inputs[k] for k in features.model_input_keys()]
        output = core(tuple(ordered))
    return StepsWithoutAutograph(inputs=inputs, outputs=output, name="msa_pipeline_model")


def compile_model(model: tf.keras.Model, config: TrainerConfig, policy: str,
                  total_steps: int) -> None:
    """Loss, optimizer (trainer.training.optimization), the streamed MSA metrics, and XLA.

    With ``config.jit_compile`` on, Keras compiles the train, validation and
    predict steps with XLA (``model.jit_compile`` says which it is); training
    under it is deterministic too, but gives other weights than without it
    (other fusions and rounding). Only training is affected: the
    serving model is a fresh float32 twin (trainer/export.py), never compiled.
    """
    losses = {
        "mae": tf.keras.losses.MeanAbsoluteError(),
        "mse": tf.keras.losses.MeanSquaredError(),
        "huber": tf.keras.losses.Huber(delta=1.0),
    }
    optimizer = precision.wrap_optimizer(
        optimization.build_optimizer(config, total_steps), policy)
    model.compile(
        optimizer=optimizer,
        loss=losses[config.loss],
        # mae, corr, acc2_has0/non0, f1_has0/non0, acc7, acc5: the Evaluator's
        # definitions (trainer.metrics.msa_metrics), streamed over the whole split.
        metrics=[MSAMetrics()],
        jit_compile=config.jit_compile == "on",
    )
    # Its slots exist before fit's first trace: a tf.function that creates
    # variables while tracing is traced a second time, and the train step is
    # the most expensive trace of a run.
    optimizer.build(model.trainable_variables)
