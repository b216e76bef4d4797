"""MsaTrainer: TFX's Trainer with the step count as its own integer parameter.

The stock Trainer keeps ``num_steps`` inside the ``train_args`` proto, and
the Kubeflow V2 compiler can only bind a runtime parameter to a whole exec
property, not to a field inside a proto. Exposing ``train_steps`` as a
scalar exec property lets a Kubeflow run change the training length
without recompiling; locally it is just an int.

Everything else is the stock Trainer's and is forwarded unchanged: the
``base_model`` (warm start) and ``hyperparameters`` (Tuner) inputs,
``module_file`` or ``run_fn``, ``train_args``/``eval_args``,
``custom_config`` and ``custom_executor_spec`` (e.g. Vertex AI training).
A custom executor sees ``train_steps`` as an exec property; when it is a
plain int it is also written into ``train_args.num_steps`` up front.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.components.util import udf_utils
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


def with_train_steps(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """``exec_properties`` with ``train_steps`` written into ``train_args.num_steps``."""
    steps = int(exec_properties[TRAIN_STEPS_KEY])
    if steps < 1:
        raise ValueError(f"train_steps: expected >= 1, got {steps}")
    train_args = trainer_pb2.TrainArgs()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.TRAIN_ARGS_KEY], train_args)
    train_args.num_steps = steps
    return {**exec_properties,
            standard_component_specs.TRAIN_ARGS_KEY: proto_utils.proto_to_json(train_args)}


class MsaTrainerExecutor(trainer_executor.GenericExecutor):
    """Writes ``train_steps`` into ``train_args.num_steps``, then trains."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        super().Do(input_dict, output_dict, with_train_steps(exec_properties))


class MsaTrainer(base_component.BaseComponent):
    """The stock Trainer's inputs and parameters, plus ``train_steps``."""

    SPEC_CLASS = MsaTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(MsaTrainerExecutor)

    def __init__(
        self,
        examples: types.BaseChannel,
        train_steps: Union[int, data_types.RuntimeParameter],
        transform_graph: Optional[types.BaseChannel] = None,
        schema: Optional[types.BaseChannel] = None,
        base_model: Optional[types.BaseChannel] = None,
        hyperparameters: Optional[types.BaseChannel] = None,
        module_file: Optional[Union[str, data_types.RuntimeParameter]] = None,
        run_fn: Optional[Union[str, data_types.RuntimeParameter]] = None,
        train_args: Optional[trainer_pb2.TrainArgs] = None,
        eval_args: Optional[trainer_pb2.EvalArgs] = None,
        custom_config: Optional[Union[Dict[str, Any], data_types.RuntimeParameter]] = None,
        custom_executor_spec: Optional[executor_spec.ExecutorSpec] = None,
    ):
        if [bool(module_file), bool(run_fn)].count(True) != 1:
            raise ValueError("MsaTrainer: expected exactly one of module_file or run_fn")
        given, train_args = train_args, trainer_pb2.TrainArgs()
        if given is not None:
            train_args.CopyFrom(given)
        if isinstance(train_steps, int):
            train_args.num_steps = train_steps
        spec = MsaTrainerSpec(
            examples=examples,
            transform_graph=transform_graph,
            schema=schema,
            base_model=base_model,
            hyperparameters=hyperparameters,
            train_args=train_args,
            eval_args=eval_args or trainer_pb2.EvalArgs(),
            module_file=module_file,
            run_fn=run_fn,
            custom_config=(custom_config if isinstance(custom_config, data_types.RuntimeParameter)
                           else json_utils.dumps(custom_config or {})),
            train_steps=train_steps,
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun),
        )
        super().__init__(spec=spec, custom_executor_spec=custom_executor_spec)
        if module_file and udf_utils.should_package_user_modules():
            udf_utils.add_user_module_dependency(
                self, standard_component_specs.MODULE_FILE_KEY,
                standard_component_specs.MODULE_PATH_KEY)
