"""MsaTrainer forwards what the stock Trainer takes (components/msa_trainer.py)."""

from __future__ import annotations

import json

import pytest
from tfx import v1 as tfx
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import trainer_pb2
from tfx.types import channel, standard_artifacts
from tfx.utils import proto_utils

from components.msa_trainer import MsaTrainer, MsaTrainerExecutor, with_train_steps


def _train_args(value) -> trainer_pb2.TrainArgs:
    """A TrainArgs exec property, as the proto or as its JSON."""
    if isinstance(value, trainer_pb2.TrainArgs):
        return value
    return proto_utils.json_to_proto(value, trainer_pb2.TrainArgs())


def _channel(kind):
    return channel.Channel(type=kind)


def test_every_stock_trainer_input_and_parameter_is_forwarded():
    trainer = MsaTrainer(
        examples=_channel(standard_artifacts.Examples),
        transform_graph=_channel(standard_artifacts.TransformGraph),
        schema=_channel(standard_artifacts.Schema),
        base_model=_channel(standard_artifacts.Model),
        hyperparameters=_channel(standard_artifacts.HyperParameters),
        run_fn="trainer.task.run_fn",
        train_steps=123,
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["valid"], num_steps=7),
        custom_config={"seed": 3})
    stock = set(tfx.components.Trainer.SPEC_CLASS.INPUTS)
    assert stock <= set(trainer.inputs)
    assert {"base_model", "hyperparameters"} <= {k for k, v in trainer.inputs.items() if v}
    props = trainer.exec_properties
    assert props["train_steps"] == 123 and props["run_fn"] == "trainer.task.run_fn"
    assert _train_args(props["train_args"]).num_steps == 123  # for custom executors too
    assert list(_train_args(props["train_args"]).splits) == ["train"]
    assert proto_utils.json_to_proto(props["eval_args"], trainer_pb2.EvalArgs()) == \
        trainer_pb2.EvalArgs(splits=["valid"], num_steps=7)
    assert json.loads(props["custom_config"]) == {"seed": 3}
    assert trainer.executor_spec.executor_class is MsaTrainerExecutor


def test_a_custom_executor_replaces_the_default_one():
    class VertexLikeExecutor(trainer_executor.GenericExecutor):
        pass

    trainer = MsaTrainer(examples=_channel(standard_artifacts.Examples), run_fn="m.run_fn",
                         train_steps=5,
                         custom_executor_spec=executor_spec.ExecutorClassSpec(VertexLikeExecutor))
    assert trainer.executor_spec.executor_class is VertexLikeExecutor


def test_exactly_one_of_module_file_and_run_fn():
    with pytest.raises(ValueError, match="exactly one of module_file or run_fn"):
        MsaTrainer(examples=_channel(standard_artifacts.Examples), train_steps=5)


def test_train_steps_is_written_into_train_args_at_run_time():
    given = proto_utils.proto_to_json(trainer_pb2.TrainArgs(splits=["train"], num_steps=9))
    props = {"train_steps": 40, "train_args": given}
    written = _train_args(with_train_steps(props)["train_args"])
    assert written == trainer_pb2.TrainArgs(splits=["train"], num_steps=40)
    with pytest.raises(ValueError, match="train_steps: expected >= 1"):
        with_train_steps({**props, "train_steps": 0})
