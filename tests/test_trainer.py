"""run_fn on the real Transform output of the shared pipeline run.

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
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from msa_data import contract
from pipeline import configs
from trainer import data, task
from trainer.config import TrainerConfig

_HALF_TYPES = {tf.float16.as_datatype_enum, tf.bfloat16.as_datatype_enum}


@pytest.fixture(scope="module")
def transform_output(pipeline_runs):
    first, _ = pipeline_runs
    assert first.returncode == 0, first.console
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = configs.metadata_path(first.output_dir)
    store = metadata_store.MetadataStore(config)
    graph = store.get_artifacts_by_type("TransformGraph")[-1].uri
    examples = [a for a in store.get_artifacts_by_type("Examples")
                if "/Transform/" in a.uri][-1].uri
    return graph, examples


def _fn_args(transform_output, tmp_path, policy, steps=6):
    graph, examples = transform_output
    config = TrainerConfig(model_dim=16, num_heads=2, ff_dim=32, n_layers_mod=1,
                           batch_size=16, mixed_precision=policy)
    return types.SimpleNamespace(
        train_files=[os.path.join(examples, "Split-train", "*")],
        eval_files=[os.path.join(examples, "Split-valid", "*")],
        transform_output=graph,
        serving_model_dir=str(tmp_path / "serving"),
        model_run_dir=str(tmp_path / "run"),
        train_steps=steps,
        custom_config=config.to_dict(),
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
    assert all(v.dtype == tf.float32 for v in loaded.variables)

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


def test_trainer_config_rejects_bad_values():
    with pytest.raises(ValueError, match="loss"):
        TrainerConfig(loss="hinge")
    with pytest.raises(ValueError, match="model_dim"):
        TrainerConfig(model_dim=30, num_heads=4)
    with pytest.raises(ValueError, match="unknown setting"):
        TrainerConfig.from_dict({"modeldim": 3})
    config = TrainerConfig(max_lens={"text": 20, "audio": 30, "video": 40})
    assert TrainerConfig.from_dict(config.to_dict()) == config
    assert config.model_kwargs()["seq_len"] == (20, 30, 40)
