"""ConvertedExampleGen's executor, run in-process on a small MulT pickle.

The pipeline run on ``--source`` (tests/test_convert_pipeline.py) checks the
records and the lineage; this checks what that run cannot show: the file is
loaded once for all three splits, the artifact carries the split names,
payload and file format TFX's own ExampleGen executor sets, and settings it
cannot honour are refused before anything is written.
"""

from __future__ import annotations

import glob
import os

import pytest
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components import converted_example_gen as ceg
from msa_data import contract
from msa_data.readers import pickles
from tests import convert_fixtures as fx


def _exec_properties(component) -> dict:
    """The component's exec properties as the launcher hands them over (protos as JSON)."""
    return {key: proto_utils.proto_to_json(value) if hasattr(value, "DESCRIPTOR") else value
            for key, value in component.exec_properties.items()}


@pytest.fixture
def source(tmp_path):
    path = str(tmp_path / "mosei_senti_data.pkl")
    counts = {"train": 7, "valid": 3, "test": 4}
    fx.write_mult(path, "mosei", counts=counts)
    return path, counts


def test_every_split_from_one_load_of_the_file(source, tmp_path, monkeypatch):
    path, counts = source
    loads = []
    real_load = pickles.load_pickle

    def counting_load(p, structure_only=False):
        loads.append(structure_only)
        return real_load(p, structure_only=structure_only)

    monkeypatch.setattr("msa_data.readers.mult.load_pickle", counting_load)
    component = ceg.converted_example_gen(f"mult:{path}")
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    ceg.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]},
                      _exec_properties(component))

    assert loads == [False]  # one full load for the three splits
    assert artifact_utils.decode_split_names(examples.split_names) == list(contract.SPLITS)
    assert examples_utils.get_payload_format(examples) == example_gen_pb2.FORMAT_TF_EXAMPLE
    assert examples_utils.get_file_format(examples) == "tfrecords_gzip"
    for split in contract.SPLITS:
        [shard] = glob.glob(os.path.join(examples.uri, f"Split-{split}", "*"))
        assert shard.endswith(".gz")
        records = list(tf.data.TFRecordDataset(shard, compression_type="GZIP"))
        assert len(records) == counts[split]
        example = tf.train.Example.FromString(records[0].numpy())
        assert example.features.feature[contract.DATASET].bytes_list.value == [b"mosei"]


def test_output_split_config_and_other_file_formats_are_refused(source, tmp_path):
    path, _ = source
    properties = _exec_properties(ceg.converted_example_gen(f"mult:{path}"))
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    outputs = {standard_component_specs.EXAMPLES_KEY: [examples]}
    split = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name="all", hash_buckets=1)]))
    with pytest.raises(ValueError, match="split_config is not supported"):
        ceg.Executor().Do({}, outputs, {**properties, standard_component_specs.OUTPUT_CONFIG_KEY:
                                        proto_utils.proto_to_json(split)})
    parquet = {**properties,
               standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FILE_FORMAT_PARQUET}
    with pytest.raises(ValueError, match="output_file_format: expected gzipped TFRecords"):
        ceg.Executor().Do({}, outputs, parquet)
    sequence = {**properties, standard_component_specs.OUTPUT_DATA_FORMAT_KEY:
                example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE}
    with pytest.raises(ValueError, match="output_data_format: expected tf.Example"):
        ceg.Executor().Do({}, outputs, sequence)
    assert not os.path.exists(examples.uri)  # refused before anything was written
