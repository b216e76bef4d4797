"""The training recipe and settings: optimizer, schedule, presets, alignment options."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from trainer.core.config import PRESETS, SEED_EPOCHS, TrainerConfig
from trainer.training import data, optimization


def test_cosine_schedule_warms_up_then_decays_to_zero():
    config = TrainerConfig(learning_rate=2e-3, warmup_fraction=0.1, lr_schedule="cosine")
    schedule = optimization.learning_rate(config, total_steps=1000)
    values = [float(schedule(step)) for step in (0, 50, 100, 550, 1000)]
    assert values[0] == pytest.approx(0.0)
    assert values[1] == pytest.approx(1e-3, rel=1e-3)  # halfway through the warmup
    assert values[2] == pytest.approx(2e-3, rel=1e-3)  # peak
    assert values[3] == pytest.approx(1e-3, rel=1e-2)  # half of the cosine
    assert values[4] == pytest.approx(0.0, abs=1e-9)
    no_warmup = optimization.learning_rate(
        TrainerConfig(learning_rate=2e-3, warmup_fraction=0.0), 1000)
    assert float(no_warmup(0)) == pytest.approx(2e-3)


def test_adamw_decays_kernels_but_not_biases_or_layer_norms():
    config = TrainerConfig(weight_decay=0.5, learning_rate=0.1, lr_schedule="constant",
                           warmup_fraction=0.0, clip_norm=0.0)
    optimizer = optimization.build_optimizer(config, total_steps=10)
    dense = tf.keras.layers.Dense(2, bias_initializer="ones")
    norm = tf.keras.layers.LayerNormalization()
    norm(dense(tf.ones((1, 3))))
    variables = dense.trainable_variables + norm.trainable_variables
    before = [v.numpy().copy() for v in variables]
    # Zero gradients: any change is the weight decay alone.
    optimizer.apply_gradients([(tf.zeros_like(v), v) for v in variables])
    after = {v.name: (b, v.numpy()) for v, b in zip(variables, before)}
    for name, (b, a) in after.items():
        if "kernel" in name:
            np.testing.assert_allclose(a, b * (1 - 0.1 * 0.5), rtol=1e-5)
        else:  # bias, gamma, beta
            np.testing.assert_array_equal(a, b)


def test_gradient_clipping_and_adam_option():
    clipped = optimization.build_optimizer(TrainerConfig(clip_norm=0.5), 100)
    assert clipped.global_clipnorm == 0.5
    adam = optimization.build_optimizer(
        TrainerConfig(optimizer="adam", weight_decay=0.0, clip_norm=0.0), 100)
    assert isinstance(adam, tf.keras.optimizers.Adam) and adam.global_clipnorm is None
    with pytest.raises(ValueError, match="weight_decay"):
        TrainerConfig(optimizer="adam", weight_decay=0.1)


def test_plateau_schedule_warms_up_then_halves_on_plateaus():
    config = TrainerConfig(lr_schedule="plateau", learning_rate=1e-2, warmup_fraction=0.4,
                           plateau_factor=0.5, plateau_patience=1, min_learning_rate=1e-3,
                           early_stopping_patience=50, clip_norm=0.0)
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimization.build_optimizer(config, total_steps=10), loss="mae")
    seen = []
    record = tf.keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: seen.append(float(model.optimizer.learning_rate)))
    # Validation MAE of a constant output b on labels +-1 is 1 for |b| <= 1:
    # it never improves, so every epoch after the warmup is a plateau.
    x = np.zeros((4, 2), "float32")
    model.fit(x, np.ones(4), batch_size=4, epochs=10,
              validation_data=(x, np.array([1.0, -1.0, 1.0, -1.0])),
              callbacks=optimization.callbacks(config, total_steps=10) + [record], verbose=0)
    # One step per epoch: linear warmup over 4 steps, the peak, then halved
    # after every epoch without improvement (patience 1), down to the floor.
    assert seen == pytest.approx([2.5e-3, 5e-3, 7.5e-3, 1e-2, 1e-2, 1e-2, 5e-3, 2.5e-3,
                                  1.25e-3, 1e-3])


@pytest.mark.parametrize("min_delta, stops_after", [(0.01, 4), (0.001, None)])
def test_early_stopping_ignores_improvements_below_min_delta(min_delta, stops_after):
    stop = optimization.callbacks(TrainerConfig(early_stopping_min_delta=min_delta,
                                                early_stopping_patience=3), 100)[0]
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(1,))])
    stop.set_model(model)
    stop.on_train_begin()
    stopped = None
    for epoch in range(8):  # the validation loss creeps down by 0.002 an epoch
        stop.on_epoch_end(epoch, {"val_loss": 1.0 - 0.002 * epoch})
        if model.stop_training and stopped is None:
            stopped = epoch + 1
    assert stopped == stops_after
    assert stop.restore_best_weights


def test_deterministic_ops_is_scoped():
    from tensorflow.python.framework import config as tf_config

    assert not tf_config.is_op_determinism_enabled()
    with optimization.deterministic_ops():
        assert tf_config.is_op_determinism_enabled()
    assert not tf_config.is_op_determinism_enabled()


def test_jit_compile_is_off_unless_asked_for():
    """XLA was measured no faster on an idle CPU host, so it is off by default."""
    assert TrainerConfig().jit_compile == "off"
    assert TrainerConfig.from_preset("seed").jit_compile == "off"
    with pytest.raises(ValueError, match="jit_compile: expected one of"):
        TrainerConfig(jit_compile="auto")


def _small_fit(jit_compile: str, model_class=tf.keras.Model, policy: str = "float32"):
    """A few steps of a small functional model with dropout, as the Trainer fits
    (compile_model, op determinism, checkpointable dropout); returns the model."""

    from trainer.training import precision
    from trainer.training.keras_model import compile_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 8)).astype(np.float32)
    y = np.clip(x @ rng.normal(size=8), -3, 3).astype(np.float32)
    config = dataclasses.replace(TrainerConfig(), jit_compile=jit_compile)
    with optimization.deterministic_ops(), optimization.checkpointable_dropout():
        tf.keras.utils.set_random_seed(0)
        with precision.policy_scope(policy):
            inputs = tf.keras.Input((8,))
            hidden = tf.keras.layers.Dropout(0.5)(
                tf.keras.layers.Dense(16, activation="relu")(inputs))
            outputs = tf.keras.layers.Dense(1, dtype="float32")(hidden)
        model = model_class(inputs=inputs, outputs=outputs)
        compile_model(model, config, policy, total_steps=9)
        train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(96, seed=0).batch(32)
        history = model.fit(train.repeat(), steps_per_epoch=3, epochs=3,
                            validation_data=train, verbose=0)
    return model, history.history


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_steps_without_autograph_train_the_same_model(policy):
    """The Trainer's model class (Keras steps traced without AutoGraph) trains
    exactly the weights and logs of a plain functional model, loss scaling included."""
    from trainer.models.tracing import StepsWithoutAutograph
    from trainer.training.keras_model import build_keras_model

    plain, logs = _small_fit("off", tf.keras.Model, policy)
    ours, ours_logs = _small_fit("off", StepsWithoutAutograph, policy)
    assert type(ours) is StepsWithoutAutograph and not isinstance(plain, StepsWithoutAutograph)
    for a, b in zip(plain.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert ours_logs == logs
    assert ours.predict(np.ones((2, 8), np.float32), verbose=0).shape == (2, 1)
    small = TrainerConfig(model_dim=16, num_heads=2, ff_dim=32, n_layers_mod=1)
    # The default's subclass (the word-level path on its own loss) keeps these steps.
    assert isinstance(build_keras_model(small.resolve_alignment(True)), StepsWithoutAutograph)


def test_xla_training_is_deterministic_and_logs_the_metrics():
    """jit_compile on: the same seed gives the same weights and logs, run to run."""
    first, logs = _small_fit("on")
    second, again = _small_fit("on")
    assert first.jit_compile and second.jit_compile
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert logs == again
    for name in ("loss", "mae", "corr", "acc7", "val_mae", "val_f1_non0"):
        assert len(logs[name]) == 3 and np.isfinite(logs[name]).all(), name
    off, _ = _small_fit("off")
    assert not off.jit_compile


def test_seed_preset_is_the_seed_training_script():
    seed = TrainerConfig.from_preset("seed")
    assert (seed.model_dim, seed.ff_dim, seed.num_heads) == (128, 256, 4)
    assert (seed.n_layers_mod, seed.n_layers_fuse, seed.dropout_rate) == (2, 1, 0.1)
    assert seed.max_lens == {"text": 20, "audio": 20, "video": 20}
    assert (seed.batch_size, seed.optimizer, seed.learning_rate, seed.loss) == (32, "adam", 1e-4,
                                                                                  "mae")
    assert (seed.early_stopping_patience, seed.lr_schedule, seed.plateau_factor,
            seed.plateau_patience, seed.min_learning_rate) == (15, "plateau", 0.5, 7, 1e-6)
    assert (seed.word_fusion, seed.shared_positions, seed.clip_norm) == ("off", "off", 0.0)
    assert SEED_EPOCHS == 100
    assert TrainerConfig.from_preset("seed", dropout_rate=0.2).dropout_rate == 0.2
    assert TrainerConfig.from_preset("default") == TrainerConfig()
    assert set(PRESETS) == {"default", "seed"}
    with pytest.raises(ValueError, match="preset"):
        TrainerConfig.from_preset("bert")


def test_alignment_options_resolve_from_the_data():
    config = TrainerConfig(word_fusion="auto", shared_positions="auto")
    on = config.resolve_alignment(True)
    assert (on.word_fusion, on.shared_positions, on.word_alignment) == ("on", "on", "steps")
    assert on.word_context == "on"
    # Unaligned data: the word-level path stays, on segmental alignment, without word context.
    off = config.resolve_alignment(False)
    assert (off.word_fusion, off.shared_positions, off.word_alignment) == (
        "on", "off", "segmental")
    assert off.word_context == "off"
    # An explicit choice is kept either way.
    assert TrainerConfig(word_context="on").resolve_alignment(False).word_context == "on"
    # Different --max-len per modality can never be word-aligned.
    unequal = TrainerConfig(max_lens={"text": 50, "audio": 80, "video": 50})
    assert unequal.resolve_alignment(True).word_alignment == "segmental"
    assert TrainerConfig(word_fusion="on").resolve_alignment(False).word_alignment == "segmental"
    assert TrainerConfig(word_alignment="soft").resolve_alignment(False).word_alignment == "soft"
    with pytest.raises(ValueError, match="word-alignment steps: needs word-aligned data"):
        TrainerConfig(word_alignment="steps").resolve_alignment(False)
    with pytest.raises(ValueError, match="shared-positions on: needs word-aligned data"):
        TrainerConfig(shared_positions="on").resolve_alignment(False)
    with pytest.raises(ValueError, match="auto"):
        TrainerConfig().model_kwargs()  # unresolved


def _dataset(masks_per_modality):
    features = {}
    for m, mask in zip(("text", "audio", "video"), masks_per_modality):
        features[f"{m}_mask"] = np.asarray(mask, np.int64)
    n = len(masks_per_modality[0])
    return tf.data.Dataset.from_tensor_slices((features, np.zeros(n, np.float32)))


def test_is_word_aligned():
    same = [[1, 1, 0], [1, 0, 0]]
    assert data.is_word_aligned(_dataset([same, same, same]))
    assert not data.is_word_aligned(_dataset([same, [[1, 1, 0], [1, 1, 0]], same]))
    longer = [[1, 1, 0, 0], [1, 0, 0, 0]]
    assert not data.is_word_aligned(_dataset([same, longer, same]))


@pytest.mark.parametrize("name, value, fragment", [
    ("architecture", "lstm", "architecture"),
    ("optimizer", "sgd", "optimizer"),
    ("lr_schedule", "step", "lr_schedule"),
    ("word_fusion", "yes", "word_fusion"),
    ("shared_positions", True, "shared_positions"),
    ("warmup_fraction", 1.0, "warmup_fraction"),
    ("weight_decay", -0.1, "weight_decay"),
    ("clip_norm", float("nan"), "clip_norm"),
    ("early_stopping_min_delta", -1.0, "early_stopping_min_delta"),
    ("word_fusion_channels", 0, "word_fusion_channels"),
    ("plateau_factor", 1.5, "plateau_factor"),
    ("jit_compile", "yes", "jit_compile"),
    ("jit_compile", True, "jit_compile"),
    ("causal", "yes", "causal"),
    ("model_dim", 2.0, "model_dim"),
])
def test_bad_settings_name_the_setting(name, value, fragment):
    with pytest.raises(ValueError, match=fragment):
        TrainerConfig(**{name: value})
