"""The MSA pipeline definition, shared by the local and Kubeflow runners.

ImportExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator
-> DataGate -> Transform -> [Tuner] -> Trainer -> Resolver (latest blessed
model) -> Evaluator -> Pusher (blessed, changed models only; atomic), and
BulkInferrer (the trained model's predictions for the evaluated split).

Optional: the Tuner (``tune_trials`` > 0) feeds its best hyperparameters to
the Trainer; ``trainer_config.warm_start`` hands the latest blessed model to
the Trainer as ``base_model``.

Two settings exist for open-source Kubeflow Pipelines, which runs only
container tasks and keys its cache on task inputs (docs/kubeflow.md):
``baseline_from="serving_dir"`` finds the latest blessed model with a
container task reading the Pusher's versions instead of TFX's Resolver, and
``fingerprint_inputs`` gives the ExampleGen its input files' fingerprint as
a setting, so its cache key changes with the data.

``lengths_from_statistics`` (a compiled pipeline, which cannot read the
data before it runs) adds :class:`SequenceLengths` between StatisticsGen
and Transform: it chooses each modality's length from the train split's
statistics at run time, and Transform takes its settings from it.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Union

from tfx import v1 as tfx
from tfx.components.example_gen.import_example_gen import (
    executor as import_example_executor,
)
from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2, range_config_pb2, transform_pb2
from tfx.types import standard_component_specs

from components import input_fingerprint
from components.data_gate import DataGate
from components.drift_gate import DriftGate
from components.latest_pushed_model import LatestPushedModel
from components.msa_pusher import MsaPusher
from components.msa_trainer import MsaTrainer
from components.sequence_lengths import QUANTILE_BUCKETS, SequenceLengths
from msa_data import contract
from pipeline import blessing, configs, drift_reference, evaluation
from pipeline.spans import DriftSettings
from trainer.core import search_space
from trainer.core.config import TrainerConfig

# Where the latest blessed model comes from (create_pipeline's baseline_from).
BASELINE_SOURCES = ("metadata", "serving_dir")


def example_input_config(spans: bool = False) -> example_gen_pb2.Input:
    """Keeps the data's own train/valid/test files as the three splits (of one span's
    folder, ``span-{SPAN}/``, when ``spans``)."""
    pattern = contract.span_split_pattern if spans else contract.split_pattern
    return example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=s, pattern=pattern(s)) for s in contract.SPLITS])


def span_range(span: Optional[int]):
    """ExampleGen's RangeConfig for one span (None: ExampleGen takes the latest at run time)."""
    if span is None:
        return None
    return range_config_pb2.RangeConfig(static_range=range_config_pb2.StaticRange(
        start_span_number=span, end_span_number=span))


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: Union[str, Any],
    schema_path: str,
    serving_dir: str,
    trainer_config: TrainerConfig,
    train_steps: Union[int, Any],
    blessing_settings: blessing.BlessingSettings = blessing.BlessingSettings(),
    eval_split: str = configs.EVAL_SPLIT,
    metadata_connection_config=None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
    source: Optional[str] = None,
    source_options: Optional[Dict[str, Any]] = None,
    tune_trials: int = 0,
    tune_steps: int = configs.TRAIN_STEPS,
    tune_fixed: Sequence[str] = (),
    transform_statistics: bool = False,
    baseline_from: str = "metadata",
    fingerprint_inputs: bool = False,
    lengths_from_statistics: bool = False,
    spans: bool = False,
    span: Optional[int] = None,
    span_window: int = 1,
    drift: DriftSettings = DriftSettings(),
    serving_data: Optional[str] = None,
) -> tfx.dsl.Pipeline:
    """Builds the pipeline. ``data_root`` and ``train_steps`` may be runtime parameters.

    With ``source`` (``"FORMAT:PATH"``, a downloaded MulT/MMSA/SDK/msa-tf2
    file) a ConvertedExampleGen reads it instead of ImportExampleGen reading
    ``data_root``; ``source_options`` may set ``dataset`` and ``unaligned``.

    ``transform_statistics`` has Transform also profile its input and output
    (TFDV statistics). Off by default: StatisticsGen already profiles the
    raw data, nothing downstream reads Transform's copies, and on the padded
    dense output they cost half of Transform's time and, at MOSEI size,
    5.6 GiB more peak memory (docs/benchmarks.md).

    ``baseline_from``: ``"metadata"`` resolves the latest blessed model with
    TFX's Resolver over ML Metadata (local runs, Vertex AI);
    ``"serving_dir"`` with :class:`LatestPushedModel`, a container task that
    reads ``serving_dir`` (open-source Kubeflow Pipelines). The resolved
    model is the Evaluator's baseline and, with ``warm_start``, the
    Trainer's ``base_model``.

    ``fingerprint_inputs`` adds an :class:`InputFingerprint` task whose
    output becomes the ExampleGen's ``input_fingerprint`` setting.

    ``spans``: ``data_root`` holds ``span-1/ ... span-N/`` (pipeline/spans.py).
    ImportExampleGen reads span ``span`` (None: the latest, resolved at run
    time) and records it on its Examples; with ``span_window`` W > 1, one
    more ImportExampleGen per earlier span of the window feeds Transform (and
    so the Trainer) too, while the Evaluator reads ``span`` only. A
    :class:`DriftGate` compares the span with the newest earlier one it
    accepted (pipeline/drift_reference.py), with ``drift``'s thresholds,
    before Transform. With ``fingerprint_inputs``
    (open-source KFP) ``span`` may be a runtime parameter, 0 for the latest:
    the InputFingerprint task resolves it, and a data root without span
    folders is read as a contract folder.

    ``serving_data``: a folder of served ``tf.Example`` requests; a
    :class:`SkewCheck` compares them with the trained span (never stops the run).
    """
    if baseline_from not in BASELINE_SOURCES:
        raise ValueError(f"baseline_from: expected one of {', '.join(BASELINE_SOURCES)}, "
                         f"got {baseline_from!r}")
    fingerprint = None
    if source:
        from components import converted_example_gen as converted

        if fingerprint_inputs:
            fingerprint, example_gen = input_fingerprint.fingerprinted(
                **converted.example_gen_settings(source, **(source_options or {})))
            example_gen = example_gen.with_id(converted.COMPONENT_ID)
        else:
            example_gen = converted.converted_example_gen(source, **(source_options or {}))
    elif fingerprint_inputs:
        # With spans, the fingerprint task resolves the span (no ExampleGen
        # driver runs on open-source KFP; components/span_input.py).
        fingerprint, example_gen = input_fingerprint.fingerprinted(
            input_base=data_root, input_config=example_input_config(),
            executor=executor_spec.BeamExecutorSpec(import_example_executor.Executor),
            span=(span or 0) if spans else None)
        example_gen = example_gen.with_id("ImportExampleGen")
    else:
        example_gen = tfx.components.ImportExampleGen(
            input_base=data_root, input_config=example_input_config(spans),
            range_config=span_range(span) if spans else None)
    if span_window > 1 and (not spans or span is None or span_window > span):
        raise ValueError(f"span_window {span_window}: needs spans and a span >= it, got "
                         f"span {span}")
    window_gens = [tfx.components.ImportExampleGen(
        input_base=data_root, input_config=example_input_config(True),
        range_config=span_range(span - back)).with_id(f"ImportExampleGen_previous_{back}")
        for back in range(span_window - 1, 0, -1)]
    stats_options = None
    if lengths_from_statistics:
        import tensorflow_data_validation as tfdv

        stats_options = tfdv.StatsOptions(num_quantiles_histogram_buckets=QUANTILE_BUCKETS)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"], stats_options=stats_options)
    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    data_gate = DataGate(
        examples=example_gen.outputs["examples"],
        anomalies=example_validator.outputs["anomalies"],
        dims_json=json.dumps(trainer_config.dims, sort_keys=True))

    drift_gate = None
    if spans:
        drift_gate = DriftGate(
            examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
            data_root=data_root, thresholds_json=json.dumps(dict(drift.thresholds)),
            dims_json=json.dumps(trainer_config.dims, sort_keys=True),
            allow_drift=drift.allow if isinstance(drift.allow, data_types.RuntimeParameter)
            else int(drift.allow),
            # The spans it accepted, so a refused span is never the reference.
            state_file=drift_reference.state_file(pipeline_root))
    skew_check = None
    if serving_data:
        from components.skew_check import SkewCheck

        skew_check = SkewCheck(
            examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
            serving_data=serving_data, thresholds_json=json.dumps(dict(drift.thresholds)),
            dims_json=json.dumps(trainer_config.dims, sort_keys=True))
    training_examples = example_gen.outputs["examples"]
    if window_gens:
        from tfx.types import channel_utils

        training_examples = channel_utils.union(
            [g.outputs["examples"] for g in window_gens] + [training_examples])
    transform = tfx.components.Transform(
        examples=training_examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=configs.PREPROCESSING_FN,
        custom_config=trainer_config.transform_config(),
        disable_statistics=not transform_statistics,
        # Statistics come from the train split only; every split is transformed.
        splits_config=transform_pb2.SplitsConfig(
            analyze=["train"], transform=list(contract.SPLITS)))
    transform.add_upstream_node(data_gate)
    if drift_gate:
        transform.add_upstream_node(drift_gate)
    sequence_lengths = None
    if lengths_from_statistics:
        sequence_lengths = SequenceLengths(
            statistics=statistics_gen.outputs["statistics"],
            dims_json=json.dumps(trainer_config.dims, sort_keys=True))
        # Transform's settings are this task's output, known only at run time
        # (a dynamic execution property: its stock constructor takes a dict).
        transform.exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY] = (
            sequence_lengths.outputs["transform_config"].future()[0].value)
        transform.add_upstream_node(sequence_lengths)

    if baseline_from == "metadata":
        model_resolver = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model_resolver")
    else:
        model_resolver = LatestPushedModel(serving_dir=serving_dir).with_id(
            "latest_pushed_model")

    tuner = None
    if tune_trials:
        tuner = tfx.components.Tuner(
            tuner_fn=configs.TUNER_FN,
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            train_args=tfx.proto.TrainArgs(splits=["train"], num_steps=tune_steps),
            eval_args=tfx.proto.EvalArgs(splits=["valid"]),
            custom_config=search_space.tune_config(trainer_config.to_dict(), tune_trials, tune_fixed))

    trainer = MsaTrainer(
        run_fn=configs.RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=model_resolver.outputs["model"] if trainer_config.warm_start else None,
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
        train_steps=train_steps,
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["valid"]),
        custom_config=trainer_config.to_dict()).with_id("Trainer")

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        example_splits=[eval_split],
        eval_config=evaluation.build_eval_config(blessing_settings))

    # The stock Pusher with an idempotent, atomic push (components/msa_pusher.py).
    pusher = MsaPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir))
    ).with_id("Pusher")

    # The trained model's scores for the evaluated split, blessed or not: the
    # report shows them for every evaluated model, as a tracked artifact.
    bulk_inferrer = tfx.components.BulkInferrer(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        data_spec=tfx.proto.DataSpec(example_splits=[eval_split]),
        model_spec=tfx.proto.ModelSpec(model_signature_name=["serving_default"]))

    components = [*([fingerprint] if fingerprint else []), *window_gens, example_gen,
                  statistics_gen, schema_gen, example_validator, data_gate,
                  *([drift_gate] if drift_gate else []), *([skew_check] if skew_check else []),
                  *([sequence_lengths] if sequence_lengths else []), transform,
                  *([tuner] if tuner else []), model_resolver, trainer, evaluator,
                  bulk_inferrer, pusher]
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )
