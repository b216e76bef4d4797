"""ConvertedExampleGen: a downloaded MOSI/MOSEI file straight into the pipeline.

TFX's file-based ExampleGen with a Beam executor that reads the source
through :mod:`msa_data.readers` (the readers ``msa-convert`` uses) and emits
contract ``tf.Example`` s, so a run on ``--source FORMAT:PATH`` produces the
same ``Examples`` artifact (gzipped TFRecords, train/valid/test splits) and
MLMD lineage as one on converted TFRecords.

The input config declares the three splits; the splits come from the file
(or the standard folds for ``sdk``), not from hashing. Each split's pattern
is the file(s) it is read from, relative to ``input_base`` (the source
file's folder, or the source folder), so the driver's fingerprint, and
with it the cache, follows the source file(s). The format and options
travel in ``custom_config`` (a packed ``google.protobuf.Struct``).
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

import apache_beam as beam
from google.protobuf import any_pb2, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from msa_data import contract
from msa_data.readers import make_reader, parse_source, reader_class

COMPONENT_ID = "ConvertedExampleGen"


def source_options(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """``{"format", "dataset", "unaligned"}`` from the executor's custom_config."""
    raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    config = example_gen_pb2.CustomConfig()
    if isinstance(raw, example_gen_pb2.CustomConfig):
        config.CopyFrom(raw)
    elif raw:
        proto_utils.json_to_proto(raw, config)
    options = struct_pb2.Struct()
    if not config.custom_config.Unpack(options):
        raise ValueError(f"{COMPONENT_ID}: custom_config must hold the source format "
                         "(build the component with converted_example_gen())")
    values = dict(options.items())
    return {"format": values["format"], "dataset": values.get("dataset") or None,
            "unaligned": bool(values.get("unaligned", False))}


def source_path(fmt: str, input_base: str, split_pattern: str) -> str:
    """The reader's path: the folder for folder layouts, else the one file."""
    if reader_class(fmt).input_kind == "folder":
        return input_base
    return os.path.join(input_base, split_pattern)


def serialized_examples(split, fmt, path, dataset, unaligned):
    """Beam FlatMap: one split of the source as serialized contract examples."""
    reader = make_reader(fmt, path, dataset=dataset, unaligned=unaligned)
    with reader:
        for segment in reader.iter_split(split):
            yield contract.to_example(segment, reader.dims).SerializeToString(deterministic=True)


def _split_of_pattern(exec_properties, split_pattern):
    config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], config)
    names = [s.name for s in config.splits if s.pattern == split_pattern]
    if len(names) != 1:
        raise ValueError(f"{COMPONENT_ID}: pattern {split_pattern!r} names {len(names)} splits; "
                         "pass the split name")
    return names[0]


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def SourceToExample(pipeline, exec_properties, split_pattern, split_name=None):
    """Reads one split of the source into serialized ``tf.Example`` s."""
    options = source_options(exec_properties)
    split = split_name or _split_of_pattern(exec_properties, split_pattern)
    path = source_path(options["format"],
                       exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    return (pipeline
            | "Split" >> beam.Create([split])
            | "Read" >> beam.FlatMap(serialized_examples, options["format"], path,
                                     options["dataset"], options["unaligned"]))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Beam executor: every declared input split read from the source."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return SourceToExample

    def GenerateExamplesByBeam(self, pipeline, exec_properties):
        # The split patterns of a one-file source are all the same file, so
        # each split is read by name rather than told apart by its pattern.
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
        if output_config.split_config.splits:
            raise ValueError(f"{COMPONENT_ID}: splits come from the source; "
                             "an output split_config is not supported")
        read = self.GetInputSourceToExamplePTransform()
        return {split.name: pipeline | f"InputToRecord[{split.name}]" >> read(
                    exec_properties, split.pattern, split.name)
                for split in input_config.splits}


def input_config(fmt: str, path: str) -> example_gen_pb2.Input:
    """The three splits, each with the file(s) it is read from."""
    cls = reader_class(fmt)
    return example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=s, pattern=cls.split_files(path, s))
        for s in contract.SPLITS])


def converted_example_gen(source: str, dataset: Optional[str] = None,
                          unaligned: bool = False) -> FileBasedExampleGen:
    """The ExampleGen for ``source`` = ``"FORMAT:PATH"`` (id ``ConvertedExampleGen``)."""
    fmt, path = parse_source(source)
    options = struct_pb2.Struct()
    options.update({"format": fmt, "dataset": dataset or "", "unaligned": bool(unaligned)})
    packed = any_pb2.Any()
    packed.Pack(options)
    return FileBasedExampleGen(
        input_base=reader_class(fmt).input_base(path),
        input_config=input_config(fmt, path),
        custom_config=example_gen_pb2.CustomConfig(custom_config=packed),
        custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
    ).with_id(COMPONENT_ID)
