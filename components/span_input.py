"""The span an ExampleGen reads when nobody runs TFX's ExampleGen driver.

TFX resolves ``{SPAN}`` in an ExampleGen's split patterns in the component's
driver (the latest span, or the RangeConfig's). The local runner and Vertex
AI run that driver; open-source Kubeflow Pipelines ignores it (it runs
container tasks only). There the span is resolved in the
:class:`~components.input_fingerprint.InputFingerprint` task, which already
reads the data root at run time: :func:`resolve` picks the span (the
``span`` runtime parameter, 0 for the latest span folder) by the local
runner's rules (:func:`pipeline.spans.plan`) and the task hands it to the
ExampleGen, whose :class:`Executor` reads that span's folder and records its
number on the Examples, as the driver would have.

A data root holding the split files itself (no span folders) resolves to
span 0 and is read as it is, so one compiled pipeline serves both layouts.
"""

from __future__ import annotations

import posixpath
from typing import Any, Dict, List, Tuple

from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from msa_data import contract

# The ExampleGen setting that carries the resolved span (0: a plain contract folder).
DATA_SPAN_KEY = "data_span"


def for_span(input_config: example_gen_pb2.Input, span: int) -> example_gen_pb2.Input:
    """``input_config`` with each split's pattern moved into span ``span``'s folder."""
    resolved = example_gen_pb2.Input()
    resolved.CopyFrom(input_config)
    for split in resolved.splits:
        split.pattern = posixpath.join(contract.span_dir("", span), split.pattern)
    return resolved


def resolve(input_base: str, input_config: example_gen_pb2.Input, requested: int
            ) -> Tuple[int, example_gen_pb2.Input]:
    """(span, the input config reading it) for ``requested`` (0: the latest span).

    Raises :class:`pipeline.spans.SpanError` (one line naming the runtime
    parameter) for a bad layout or a span that is not there.
    """
    from pipeline import spans

    plan = spans.plan(input_base, int(requested) or None, names=spans.RUNTIME_PARAMETERS)
    if plan is None:
        return 0, input_config
    return plan.span, for_span(input_config, plan.span)


class Executor(import_executor.Executor):
    """ImportExampleGen's executor, reading the span in ``data_span`` (when > 0)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        span = int(exec_properties.get(DATA_SPAN_KEY) or 0)
        if span:
            config = example_gen_pb2.Input()
            proto_utils.json_to_proto(
                exec_properties[standard_component_specs.INPUT_CONFIG_KEY], config)
            exec_properties = {
                **exec_properties,
                standard_component_specs.INPUT_CONFIG_KEY:
                    proto_utils.proto_to_json(for_span(config, span))}
        super().Do(input_dict, output_dict, exec_properties)
        for examples in output_dict[standard_component_specs.EXAMPLES_KEY]:
            # Where TFX's driver records it: the DriftGate and msa-report read it there.
            examples.set_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME, span)
