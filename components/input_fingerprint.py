"""InputFingerprint: the data's fingerprint as a task output, so a cache key follows the data.

On open-source Kubeflow Pipelines a task is reused from the cache when its
command, image, input parameters and input artifact ids are unchanged. An
ExampleGen's only inputs are its settings and the ``data_root`` string, so a
rerun on new files under the same ``data_root`` would reuse the old examples.
Vertex AI avoids that by running TFX's ExampleGen driver before its cache
check (the container's ``lifecycle.preCacheCheck``); open-source KFP ignores
that hook.

This component is the same computation as an ordinary task: it fingerprints
the files each split pattern matches (TFX's own fingerprint: file count,
bytes and modification times) and returns it as a ``String``. The pipeline
passes that value to :class:`FingerprintedExampleGen` as the exec property
``input_fingerprint``, the one TFX's driver would have set, so the
ExampleGen's cache key changes exactly when the files do. The fingerprint
task itself must never be cached (the Kubeflow compilation turns caching
off for it).

Given ``requested_span`` (the ``span`` runtime parameter), it also resolves
which span folder the ExampleGen reads (components/span_input.py), since no
ExampleGen driver does that on open-source KFP: it fingerprints that span's
files and returns the span as its ``span`` output, which becomes the
ExampleGen's ``data_span`` setting.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from tfx import types
from tfx.components.example_gen import input_processor
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import (
    base_beam_component,
    base_component,
    base_executor,
    executor_spec,
)
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter
from tfx.utils import proto_utils

from components import span_input

COMPONENT_ID = "InputFingerprint"
FINGERPRINT_KEY = "fingerprint"
SPAN_KEY = "span"
REQUESTED_SPAN_KEY = "requested_span"
# The ExampleGen exec property that carries the fingerprint into its cache key:
# the one TFX's ExampleGen driver sets, with the same value, where it runs.
INPUT_FINGERPRINT_KEY = example_gen_utils.FINGERPRINT_PROPERTY_NAME


def fingerprint_of(input_base: str, input_config: example_gen_pb2.Input) -> str:
    """TFX's fingerprint of the newest span of every split's files under ``input_base``."""
    processor = input_processor.FileBasedInputProcessor(input_base, input_config.splits, None)
    span, version = processor.resolve_span_and_version()
    return processor.get_input_fingerprint(span, version)


class InputFingerprintSpec(ComponentSpec):
    PARAMETERS = {
        standard_component_specs.INPUT_BASE_KEY: ExecutionParameter(type=str),
        standard_component_specs.INPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Input),
        # Absent: no span resolution (the data root is read as it is).
        REQUESTED_SPAN_KEY: ExecutionParameter(type=int, optional=True),
    }
    INPUTS = {}
    OUTPUTS = {FINGERPRINT_KEY: ChannelParameter(type=standard_artifacts.String),
               SPAN_KEY: ChannelParameter(type=standard_artifacts.Integer)}


class Executor(base_executor.BaseExecutor):
    """Writes :func:`fingerprint_of` the input files into the ``fingerprint`` String,
    and the span they are in (0: none resolved) into ``span``."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        span = 0
        if exec_properties.get(REQUESTED_SPAN_KEY) is not None:
            span, input_config = span_input.resolve(
                input_base, input_config, exec_properties[REQUESTED_SPAN_KEY])
            print(f"InputFingerprint: {input_base}: "
                  + (f"reading span {span}" if span else "a contract folder (no span folders)"),
                  flush=True)
        value = fingerprint_of(input_base, input_config)
        artifact_utils.get_single_instance(output_dict[FINGERPRINT_KEY]).write(value)
        artifact_utils.get_single_instance(output_dict[SPAN_KEY]).write(span)


class InputFingerprint(base_component.BaseComponent):
    """Fingerprints the files an ExampleGen with the same settings would read."""

    SPEC_CLASS = InputFingerprintSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, input_base: Union[str, data_types.RuntimeParameter],
                 input_config: example_gen_pb2.Input,
                 requested_span: Union[None, int, data_types.RuntimeParameter] = None):
        super().__init__(spec=InputFingerprintSpec(
            input_base=input_base, input_config=input_config, requested_span=requested_span,
            fingerprint=types.Channel(type=standard_artifacts.String),
            span=types.Channel(type=standard_artifacts.Integer)))


class FingerprintedExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        INPUT_FINGERPRINT_KEY: ExecutionParameter(type=str),
        span_input.DATA_SPAN_KEY: ExecutionParameter(type=int, optional=True),
    }


class FingerprintedExampleGen(FileBasedExampleGen):
    """A file-based ExampleGen whose settings include its input's fingerprint.

    The executor ignores ``input_fingerprint``; it is there for the cache
    key. ``data_span`` is the span to read, for :class:`span_input.Executor`.
    The default output settings are the stock ExampleGen's.
    """

    SPEC_CLASS = FingerprintedExampleGenSpec

    def __init__(self, input_fingerprint: Any,
                 input_base: Union[str, data_types.RuntimeParameter],
                 input_config: example_gen_pb2.Input,
                 executor: executor_spec.ExecutorSpec,
                 custom_config: Optional[example_gen_pb2.CustomConfig] = None,
                 data_span: Any = None):
        spec = FingerprintedExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=example_gen_utils.make_default_output_config(input_config),
            custom_config=custom_config,
            range_config=None,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            input_fingerprint=input_fingerprint,
            data_span=data_span,
            examples=types.Channel(type=standard_artifacts.Examples))
        # FileBasedExampleGen.__init__ builds the stock spec, which has no
        # room for the fingerprint; the component base takes ours as it is.
        base_beam_component.BaseBeamComponent.__init__(
            self, spec=spec, custom_executor_spec=executor)


def fingerprinted(input_base: Union[str, data_types.RuntimeParameter],
                  input_config: example_gen_pb2.Input, executor: executor_spec.ExecutorSpec,
                  custom_config: Optional[example_gen_pb2.CustomConfig] = None,
                  span: Union[None, int, data_types.RuntimeParameter] = None):
    """(InputFingerprint, FingerprintedExampleGen) reading the same files.

    With ``span`` (0: the latest), the data root may hold span folders: the
    span is resolved in the fingerprint task and read by :mod:`span_input`'s
    executor, which replaces ``executor``.
    """
    fingerprint = InputFingerprint(input_base=input_base, input_config=input_config,
                                   requested_span=span)
    data_span = None
    if span is not None:
        executor = executor_spec.BeamExecutorSpec(span_input.Executor)
        data_span = fingerprint.outputs[SPAN_KEY].future()[0].value
    example_gen = FingerprintedExampleGen(
        input_fingerprint=fingerprint.outputs[FINGERPRINT_KEY].future()[0].value,
        input_base=input_base, input_config=input_config, executor=executor,
        custom_config=custom_config, data_span=data_span)
    return fingerprint, example_gen
