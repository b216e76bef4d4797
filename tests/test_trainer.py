"""run_fn on real Transform output: the pipeline's preprocessing_fn run by
tf.Transform's Beam implementation on the tiny built-in data
(``trainer.transform.standalone``, the Transform component's output layout),
outside a pipeline run so these tests need none.

Covers what a pipeline run on a CPU host cannot show by itself: a model
trained under a mixed-precision policy is exported as a float32 model that
serves on a CPU-only host.
"""

from __future__ import annotations

import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf

from msa_data import contract
from trainer import task
from trainer.core.config import TrainerConfig
from trainer.training import data, loop
from trainer.transform.standalone import transform_splits

pytestmark = [pytest.mark.slow, pytest.mark.one_worker]

_HALF_TYPES = {tf.float16.as_datatype_enum, tf.bfloat16.as_datatype_enum}


@pytest.fixture(scope="module")
def transform_output(tiny_data, tmp_path_factory):
    work = str(tmp_path_factory.mktemp("tiny_transform"))
    paths = transform_splits(tiny_data, work, TrainerConfig().transform_config())
    return paths["transform_graph"], os.path.dirname(os.path.dirname(paths["train"]))


# The default architecture at a size that traces quickly.
SMALL_MODEL = dict(model_dim=16, num_heads=2, ff_dim=32, n_layers_mod=1, batch_size=16,
                   min_epochs=0)


def _fn_args(transform_output, tmp_path, policy, steps=6):
    graph, examples = transform_output
    config = TrainerConfig(**SMALL_MODEL, mixed_precision=policy)
    return types.SimpleNamespace(
        train_files=[os.path.join(examples, "Split-train", "*")],
        eval_files=[os.path.join(examples, "Split-valid", "*")],
        transform_output=graph,
        serving_model_dir=str(tmp_path / "serving"),
        model_run_dir=str(tmp_path / "run"),
        train_steps=steps,
        custom_config=config.to_dict(),
        base_model=None,
        hyperparameters=None,
    )


def _half_ops(concrete_function):
    """Names of graph nodes that compute in float16/bfloat16 (incl. nested functions)."""
    graph_def = concrete_function.graph.as_graph_def()
    nodes = list(graph_def.node)
    for fn in graph_def.library.function:
        nodes.extend(fn.node_def)
    return [n.name for n in nodes
            if any(attr.type in _HALF_TYPES for attr in n.attr.values())]


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_training_exports_float32(transform_output, tmp_path, policy):
    fn_args = _fn_args(transform_output, tmp_path, policy)
    task.run_fn(fn_args)

    summary = json.load(open(os.path.join(fn_args.model_run_dir, task.SUMMARY_FILE)))
    assert summary["policy"] == policy  # it really trained under the mixed policy

    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    serve = loaded.signatures["serving_default"]
    assert _half_ops(serve) == []
    assert serve.variables and all(v.dtype == tf.float32 for v in serve.variables)

    requests = []
    segment = contract.Segment("x_1", "x", "synthetic", 0.0,
                               np.random.rand(7, 300), np.random.rand(7, 74), np.random.rand(7, 47))
    example = contract.to_example(segment)
    del example.features.feature[contract.LABEL]
    requests.append(example.SerializeToString())
    with tf.device("/CPU:0"):
        scores = serve(examples=tf.constant(requests))["sentiment"]
    assert scores.dtype == tf.float32 and scores.shape == (1, 1)
    assert np.isfinite(scores.numpy()).all()


def test_read_split_keeps_only_model_inputs(transform_output):
    import tensorflow_transform as tft

    graph, examples = transform_output
    ds = data.read_split(os.path.join(examples, "Split-valid", "*"), tft.TFTransformOutput(graph))
    features, label = next(iter(ds))
    assert set(features) == {"text", "audio", "video", "text_mask", "audio_mask", "video_mask"}
    assert features["text"].shape == (50, 300) and features["text_mask"].dtype == tf.int64
    assert label.dtype == tf.float32
    assert data.count(ds) == 60


def test_steps_plan():
    assert data.steps_plan(train_size=100, batch_size=32, train_steps=1) == (1, 1)
    assert data.steps_plan(train_size=100, batch_size=32, train_steps=8) == (4, 2)
    assert data.steps_plan(train_size=100, batch_size=32, train_steps=9) == (4, 3)
    with pytest.raises(ValueError, match="train_steps"):
        data.steps_plan(100, 32, 0)
    # a budget of fewer passes than min_epochs grows to min_epochs passes
    assert data.steps_plan(train_size=100, batch_size=32, train_steps=8, min_epochs=5) == (4, 5)
    assert data.steps_plan(train_size=100, batch_size=32, train_steps=40, min_epochs=5) == (4, 10)
    # CMU-MOSEI's 16326 train segments: 2400 steps are under 5 passes; the default asks 40
    assert data.steps_plan(16326, 32, 2400, min_epochs=40) == (511, 40)
    assert data.steps_plan(1284, 32, 2400, min_epochs=40) == (41, 59)  # MOSI: unchanged
    with pytest.raises(ValueError, match="min_epochs"):
        data.steps_plan(100, 32, 8, min_epochs=-1)


def test_trainer_config_rejects_bad_values():
    with pytest.raises(ValueError, match="loss"):
        TrainerConfig(loss="hinge")
    with pytest.raises(ValueError, match="model_dim"):
        TrainerConfig(model_dim=30, num_heads=4)
    with pytest.raises(ValueError, match="unknown setting"):
        TrainerConfig.from_dict({"modeldim": 3})
    config = TrainerConfig(max_lens={"text": 20, "audio": 30, "video": 40})
    assert TrainerConfig.from_dict(config.to_dict()) == config
    assert config.resolve_alignment(True).model_kwargs()["seq_len"] == (20, 30, 40)


def _score_raw_test(serving_dir, tiny_data):
    """{segment_id: score} of the exported serving_default on the raw test split."""
    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]
    ids, requests = [], []
    for segment in contract.read_split(contract.split_path(tiny_data, "test")):
        example = contract.to_example(segment)
        del example.features.feature[contract.LABEL]
        requests.append(example.SerializeToString())
        ids.append(segment.segment_id)
    scores = serve(examples=tf.constant(requests))["sentiment"].numpy()[:, 0]
    return dict(zip(ids, scores.tolist()))


def _default_fn_args(transform_output, tmp_path, name, steps=20, **overrides):
    graph, examples = transform_output
    config = TrainerConfig(**{"min_epochs": 0, **overrides})
    return types.SimpleNamespace(
        train_files=[os.path.join(examples, "Split-train", "*")],
        eval_files=[os.path.join(examples, "Split-valid", "*")],
        transform_output=graph,
        serving_model_dir=str(tmp_path / name / "serving"),
        model_run_dir=str(tmp_path / name / "run"),
        train_steps=steps,
        custom_config=config.to_dict(),
        base_model=None,
        hyperparameters=None,
    )


@pytest.fixture(scope="module")
def seeded_runs(transform_output, tmp_path_factory):
    """run_fn twice on the same data with the same seed (20 steps of a small
    default-architecture model; the export test trains the full-size one).

    Returns ``{"first": fn_args, "second": fn_args}``; shared by the
    determinism and the serving tests, so the model is trained once for both.
    """
    work = tmp_path_factory.mktemp("seeded_runs")
    runs = {}
    for name in ("first", "second"):
        runs[name] = _default_fn_args(transform_output, work, name, **SMALL_MODEL)
        task.run_fn(runs[name])
    return runs


def test_same_seed_and_data_give_the_same_model(seeded_runs, tiny_data):
    runs = [_score_raw_test(seeded_runs[name].serving_model_dir, tiny_data)
            for name in ("first", "second")]
    labels = {s.segment_id: s.label
              for s in contract.read_split(contract.split_path(tiny_data, "test"))}
    maes = [np.mean([abs(run[k] - labels[k]) for k in labels]) for run in runs]
    assert abs(maes[0] - maes[1]) < 1e-4
    assert max(abs(runs[0][k] - runs[1][k]) for k in labels) < 1e-5
    summary = json.load(open(os.path.join(seeded_runs["first"].model_run_dir,
                                          task.SUMMARY_FILE)))
    # The built-in data is word-aligned: 'auto' turned the word-level path on.
    assert summary["word_aligned_data"] is True
    assert summary["config"]["word_fusion"] == "on"


def test_export_scores_raw_examples_as_the_model_scores_transformed_ones(
        transform_output, tiny_data, tmp_path):
    import tensorflow_transform as tft

    from trainer.core import features
    from trainer.export import export_serving_model

    graph, examples = transform_output
    tf_transform_output = tft.TFTransformOutput(graph)
    config = TrainerConfig().resolve_alignment(True)
    train_ds = data.read_split(os.path.join(examples, "Split-train", "*"), tf_transform_output)
    valid_ds = data.read_split(os.path.join(examples, "Split-valid", "*"), tf_transform_output)
    model = loop.train(config, train_ds, valid_ds, data.count(train_ds), 20, "").model
    export_dir = str(tmp_path / "serving")
    export_serving_model(model, config, tf_transform_output, export_dir)

    spec = tf_transform_output.transformed_feature_spec()
    keys = features.model_input_keys() + (contract.SEGMENT_ID,)
    records = tf.data.TFRecordDataset(
        tf.io.gfile.glob(os.path.join(examples, "Split-test", "*")), compression_type="GZIP")
    batch = tf.io.parse_example(next(iter(records.batch(1000))), {k: spec[k] for k in keys})
    ids = [i.decode() for i in batch.pop(contract.SEGMENT_ID).numpy()]
    trained = dict(zip(ids, model(batch, training=False).numpy()[:, 0].tolist()))
    served = _score_raw_test(export_dir, tiny_data)
    assert sorted(trained) == sorted(served)
    assert max(abs(trained[k] - served[k]) for k in ids) < 1e-4


def test_serving_is_finite_for_huge_and_empty_inputs(seeded_runs):
    """Any finite input gets a finite score in the exported serving_default:
    z-scores are clipped to preprocessing.Z_CLIP, and an example with no
    frames at all gets the model's score for all-padding input."""
    serving_dir = seeded_runs["first"].serving_model_dir
    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]
    rng = np.random.default_rng(0)
    big = np.finfo(np.float32).max

    def request(text, audio, video):
        example = contract.to_example(contract.Segment("x_1", "x", "synthetic", 0.0,
                                                       text, audio, video))
        del example.features.feature[contract.LABEL]
        return example.SerializeToString()

    def frames(n, dim, value=None):
        return np.full((n, dim), value) if value is not None else rng.normal(size=(n, dim))

    huge = [request(frames(5, 300, v), frames(5, 74, v), frames(5, 47, v))
            for v in (big, -big, 1e30)]
    mixed = request(frames(5, 300) * np.array([big, 1.0] * 150), frames(5, 74), frames(5, 47))
    empty = request(frames(0, 300), frames(0, 74), frames(0, 47))
    scores = serve(examples=tf.constant(huge + [mixed, empty]))["sentiment"].numpy()[:, 0]
    assert np.isfinite(scores).all(), scores
    # huge values clip to the bound, so +max and 1e30 both read as +Z_CLIP
    assert scores[0] == pytest.approx(scores[2], abs=1e-5)
    # the score of an empty example depends on nothing but the model
    again = serve(examples=tf.constant([empty, empty]))["sentiment"].numpy()[:, 0]
    assert again == pytest.approx([scores[-1]] * 2, abs=1e-6)
