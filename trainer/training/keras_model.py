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
    if (config.architecture == "seq_level" and config.word_fusion == "on"
            and config.word_path_fit == "label"):
        model = WordPathOnItsOwnLoss(inputs=inputs, outputs=output, name="msa_pipeline_model")
        model.core_name = name
        return model
    return StepsWithoutAutograph(inputs=inputs, outputs=output, name="msa_pipeline_model")


@tf.keras.utils.register_keras_serializable(package="msa")
class WordPathOnItsOwnLoss(StepsWithoutAutograph):
    """Fits the word-level path to the label, and the rest to what it leaves.

    The prediction is ``sequence_score + word_score``
    (:meth:`MSASeqLevelModel.scores`); serving and evaluation are unchanged.
    Only training differs from a plain fit of the sum: the word-level path
    gets the gradient of its own loss, ``loss(label, word_score)``, and none
    from the summed prediction's, which trains the sequence-level path
    alone (the word score held fixed in it). Why: fitted jointly, the
    sequence-level path takes the few per-word effects a bag of words
    carries within the first epochs, and where the label depends on each
    word's neighbours (negation) those effects are the word-level path's
    only way out of the saddle at its start (see WordContext). Fitted
    jointly beside a small rival (``benchmarks/word_path_seeds.py --rival``)
    it stayed a constant on 4 seeds of 4; the whole model learned the
    negation of 7,706 context segments on 2 seeds of 3 fitted jointly, on
    3 of 3 fitted this way (docs/model.md). Stagewise, like
    boosting: the word-level path is a model of the label by itself, the
    sequence-level path its correction.

    The reported ``loss`` is the summed prediction's (as with a plain fit),
    so ``val_loss``, early stopping and the metrics mean the same thing;
    validation is Keras's own.
    """

    core_name = "msa_seq_level"

    @tf.autograph.experimental.do_not_convert
    def train_step(self, data):
        x, y, sample_weight = tf.keras.utils.unpack_x_y_sample_weight(data)
        core = self.get_layer(self.core_name)
        inputs = tuple(x[k] for k in features.model_input_keys())
        with tf.GradientTape() as tape:
            sequence_score, word_score = core.scores(inputs, training=True)
            y_pred = sequence_score + tf.stop_gradient(word_score)
            # compute_loss adds the regularisation losses (WordContext's L2 among them).
            loss = self.compute_loss(x, y, y_pred, sample_weight)
            loss = loss + self.loss(y, word_score, sample_weight)
        self.optimizer.minimize(loss, self.trainable_variables, tape=tape)
        return self.compute_metrics(x, y, y_pred, sample_weight)


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
