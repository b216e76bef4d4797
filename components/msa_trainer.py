"""MsaTrainer: TFX's Trainer with the step count as its own integer parameter.

The stock Trainer keeps ``num_steps`` inside the ``train_args`` proto, and
the Kubeflow V2 compiler can only bind a runtime parameter to a whole exec
property, not to a field inside a proto. Exposing ``train_steps`` as a
scalar exec property lets a Kubeflow run change the training length
without recompiling; locally it is just an int. Everything else (inputs,
outputs, ``run_fn``, the GenericExecutor) is the stock Trainer's.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils, proto_utils

TRAIN_STEPS_KEY = "train_steps"


class MsaTrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = {
        **standard_component_specs.TrainerSpec.PARAMETERS,
        TRAIN_STEPS_KEY: ExecutionParameter(type=int),
    }


class MsaTrainerExecutor(trainer_executor.GenericExecutor):
    """Writes ``train_steps`` into ``train_args.num_steps``, then trains."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        steps = int(exec_properties[TRAIN_STEPS_KEY])
        if steps < 1:
            raise ValueError(f"train_steps: expected >= 1, got {steps}")
        train_args = trainer_pb2.TrainArgs()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.TRAIN_ARGS_KEY], train_args)
        train_args.num_steps = steps
        exec_properties = {
            **exec_properties,
            standard_component_specs.TRAIN_ARGS_KEY: proto_utils.proto_to_json(train_args),
        }
        super().Do(input_dict, output_dict, exec_properties)


class MsaTrainer(base_component.BaseComponent):
    """Trainer over Transform's output, trained for ``train_steps`` steps."""

    SPEC_CLASS = MsaTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(MsaTrainerExecutor)

    def __init__(
        self,
        examples: types.BaseChannel,
        transform_graph: types.BaseChannel,
        schema: types.BaseChannel,
        run_fn: str,
        train_steps: Union[int, data_types.RuntimeParameter],
        train_splits: List[str],
        eval_splits: List[str],
        custom_config: Optional[Dict[str, Any]] = None,
    ):
        spec = MsaTrainerSpec(
            examples=examples,
            transform_graph=transform_graph,
            schema=schema,
            train_args=trainer_pb2.TrainArgs(splits=train_splits),
            eval_args=trainer_pb2.EvalArgs(splits=eval_splits),
            run_fn=run_fn,
            custom_config=json_utils.dumps(custom_config or {}),
            train_steps=train_steps,
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun),
        )
        super().__init__(spec=spec)
