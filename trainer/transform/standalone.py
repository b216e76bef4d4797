"""Runs the pipeline's Transform code on a data root, outside a pipeline run.

The model benchmark trains many models on the same data. Running the whole
pipeline for each would repeat ExampleGen, StatisticsGen and Transform every
time, so this does what the Transform component does, once: tf.Transform's
Beam implementation with the project's ``preprocessing_fn`` and curated
schema, statistics from the train split, every split transformed. The
outputs have the Transform component's layout (``transform_graph/`` and
``transformed_examples/Split-<split>/`` gzipped TFRecords), so ``run_fn``
reads them exactly as it reads a pipeline's.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping

from msa_data import contract
from pipeline import configs


def _schema():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with open(configs.SCHEMA_PATH, encoding="utf-8") as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def transform_splits(data_root: str, work_dir: str,
                     transform_config: Mapping[str, Any]) -> Dict[str, str]:
    """Transforms ``data_root``'s splits into ``work_dir``; returns the paths.

    Returns ``{"transform_graph": DIR, "train": PATTERN, "valid": ..., "test": ...}``.
    A finished ``work_dir`` (it holds ``DONE``) is reused as it is.
    """
    graph_dir = os.path.join(work_dir, "transform_graph")
    examples_dir = os.path.join(work_dir, "transformed_examples")
    paths = {"transform_graph": graph_dir}
    for split in contract.SPLITS:
        paths[split] = os.path.join(examples_dir, f"Split-{split}", "*")
    if os.path.exists(os.path.join(work_dir, "DONE")):
        return paths

    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tfx_bsl.public import tfxio

    from trainer.transform import preprocessing

    def preprocessing_fn(inputs):
        return preprocessing.preprocessing_fn(inputs, dict(transform_config))

    schema = _schema()
    options = beam.options.pipeline_options.PipelineOptions(
        ["--direct_running_mode=in_memory", "--direct_num_workers=1"])

    def source(split):
        files = os.path.join(data_root, contract.split_pattern(split))
        return tfxio.TFExampleRecord(file_pattern=files, schema=schema,
                                     telemetry_descriptors=["msa", "benchmark"])

    with beam.Pipeline(options=options) as p:
        with tft_beam.Context(temp_dir=os.path.join(work_dir, "tmp"), force_tf_compat_v1=False):
            train = source("train")
            raw_train = p | "ReadTrain" >> train.BeamSource()
            transform_fn = ((raw_train, train.TensorAdapterConfig())
                            | tft_beam.AnalyzeDataset(preprocessing_fn))
            _ = transform_fn | tft_beam.WriteTransformFn(graph_dir)
            for split in contract.SPLITS:
                io = source(split)
                raw = p | f"Read{split}" >> io.BeamSource()
                transformed, metadata = (
                    ((raw, io.TensorAdapterConfig()), transform_fn)
                    | f"Transform{split}" >> tft_beam.TransformDataset(
                        output_record_batches=False))
                coder = tft.coders.ExampleProtoCoder(metadata.schema)
                prefix = os.path.join(examples_dir, f"Split-{split}", "data")
                _ = (transformed
                     | f"Encode{split}" >> beam.Map(coder.encode)
                     | f"Write{split}" >> beam.io.WriteToTFRecord(
                         prefix, file_name_suffix=".gz",
                         compression_type=beam.io.filesystem.CompressionTypes.GZIP))
    with open(os.path.join(work_dir, "DONE"), "w", encoding="utf-8") as f:
        f.write("ok\n")
    return paths
