"""Bad input stops the run with one readable line, and nothing is pushed."""

from __future__ import annotations

import dataclasses
import os

import pytest
import tensorflow as tf

import local_runner
from msa_data import contract
from pipeline import cli
from trainer.core.config import TrainerConfig

# The runner-level refusals (flags, data files, output folder, leakage) are rows
# of tests/test_bad_input_table.py; the data preflight stops them before TFX.
# DataGate checks the same rules again inside the pipeline (Kubeflow and
# --source runs have no preflight); its two refusals, on real artifacts:


def _examples_artifact(tmp_path, records):
    from tfx.types import standard_artifacts

    artifact = standard_artifacts.Examples()
    artifact.uri = str(tmp_path / "examples")
    artifact.split_names = '["train"]'
    os.makedirs(os.path.join(artifact.uri, "Split-train"))
    with tf.io.TFRecordWriter(os.path.join(artifact.uri, "Split-train", "data.gz"),
                              options="GZIP") as writer:
        for record in records:
            writer.write(record)
    return artifact


def test_data_gate_names_the_segment_of_a_len_times_dim_violation(tiny_data, tmp_path):
    from components import data_gate

    records = [bytes(r) for r in tf.data.TFRecordDataset(
        contract.split_path(tiny_data, "train")).as_numpy_iterator()][:3]
    example = tf.train.Example.FromString(records[1])
    del example.features.feature["audio"].float_list.value[-1]
    records[1] = example.SerializeToString()
    segment = example.features.feature[contract.SEGMENT_ID].bytes_list.value[0].decode()
    artifact = _examples_artifact(tmp_path, records)
    with pytest.raises(data_gate.DataGateError) as err:
        data_gate.check_lengths(artifact, contract.DEFAULT_DIMS)
    assert segment in str(err.value) and "audio_len x dim" in str(err.value)
    assert data_gate.check_lengths(_examples_artifact(tmp_path / "ok", records[:1]),
                                   contract.DEFAULT_DIMS) == 1


def test_data_gate_names_split_and_feature_of_an_anomaly(tmp_path):
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    from tfx.types import standard_artifacts

    from components import data_gate

    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path / "anomalies")
    artifact.split_names = '["train"]'
    os.makedirs(os.path.join(artifact.uri, "Split-train"))
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["label"]
    info.short_description = "Out-of-range values"
    info.reason.add(description="Unexpectedly large value: 4.5.")
    with open(os.path.join(artifact.uri, "Split-train", "SchemaDiff.pb"), "wb") as f:
        f.write(anomalies.SerializeToString())
    reason = data_gate.first_anomaly(artifact)
    assert "split 'train'" in reason and "feature 'label'" in reason and "4.5" in reason


def test_beam_workers_choose_the_direct_runner_mode():
    """One worker: no Beam arguments at all (Beam's defaults run in this process,
    and TFX builds no package of itself); more: multi_processing with that many."""
    from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

    assert cli.beam_args(1) == []
    defaults = PipelineOptions([]).view_as(DirectOptions)
    assert (defaults.direct_running_mode, defaults.direct_num_workers) == ("in_memory", 1)
    options = PipelineOptions(cli.beam_args(3))
    direct = options.view_as(DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == ("multi_processing", 3)
    # a worker-dependency flag that exists, so TFX does not package itself
    requirements = options.get_all_options()["requirements_file"]
    assert requirements and os.path.isfile(requirements)


@pytest.mark.parametrize("flags, fragment", [
    (["--architecture", "lstm"], "--architecture"),
    (["--preset", "bert"], "--preset"),
    (["--optimizer", "sgd"], "--optimizer"),
    (["--lr-schedule", "step"], "--lr-schedule"),
    (["--word-fusion", "yes"], "--word-fusion"),
    (["--shared-positions", "1"], "--shared-positions"),
    (["--loss", "hinge"], "--loss"),
    (["--warmup-fraction", "1.5"], "--warmup-fraction"),
    (["--clip-norm", "-1"], "--clip-norm"),
    (["--min-delta", "nan"], "--min-delta"),
    (["--patience", "0"], "--patience"),
    (["--dropout", "1"], "--dropout"),
    (["--dropout-rate", "1"], "--dropout-rate"),
    (["--layers", "0"], "--layers"),
    (["--n-layers-mod", "0"], "--n-layers-mod"),
    (["--plateau-factor", "1"], "--plateau-factor"),
    (["--max-len", "0", "5", "5"], "--max-len"),
    (["--jit-compile", "auto"], "--jit-compile"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--word-fusion-channels", "0"], "--word-fusion-channels"),
    (["--jit-compile", "yes"], "--jit-compile"),
    (["--optimizer", "adam", "--weight-decay", "0.1"], "--weight-decay"),
    (["--preset", "seed", "--model-dim", "30"], "--model-dim"),
    (["--train-steps", "-5"], "--train-steps"),
])
def test_every_training_flag_is_validated(flags, fragment, capsys):
    """In-process: argparse choices exit 2 with one line; values raise naming the flag."""

    parser = local_runner.build_parser()
    try:
        args = parser.parse_args(flags)
    except SystemExit as err:
        assert err.code == 2
        message = capsys.readouterr().err.strip()
        assert fragment in message and len(message.splitlines()) == 1, message
        return
    with pytest.raises(ValueError) as err:
        cli.trainer_config_from(args)
    assert str(err.value).startswith(fragment), str(err.value)


def test_training_flags_override_the_preset():
    args = local_runner.build_parser().parse_args(["--preset", "seed", "--dropout", "0.3",
                                                   "--jit-compile", "off"])
    config = cli.trainer_config_from(args)
    assert config.preset == "seed" and config.model_dim == 128 and config.dropout_rate == 0.3
    assert config.jit_compile == "off"
    assert cli.train_steps_from(args) == 4100
    default = cli.trainer_config_from(local_runner.build_parser().parse_args([]))

    assert default == TrainerConfig()


def test_every_trainer_setting_has_one_flag_with_its_name():
    """The flags are generated from TrainerConfig's fields: a new field is a new flag."""

    parser = local_runner.build_parser()
    options = {o for action in parser._actions for o in action.option_strings}
    for field in dataclasses.fields(TrainerConfig):
        flag = {"preset": "--preset", "dims": "--text-dim"}.get(
            field.name, "--" + field.name.replace("_", "-"))
        assert flag in options, f"TrainerConfig.{field.name} has no flag {flag}"
    # old names still work, as aliases of the same setting
    args = parser.parse_args(["--layers", "2", "--fusion-layers", "2", "--pooling", "attention",
                              "--patience", "5", "--min-delta", "0.01", "--bidirectional",
                              "--max-len", "20", "20", "20"])
    config = cli.trainer_config_from(args)
    assert (config.n_layers_mod, config.n_layers_fuse, config.pooling_method) == \
        (2, 2, "attention")
    assert (config.early_stopping_patience, config.early_stopping_min_delta) == (5, 0.01)
    assert config.bidirectional_fusion and config.max_lens == {"text": 20, "audio": 20,
                                                               "video": 20}
    assert cli.given_fields(args) == ("n_layers_mod", "n_layers_fuse", "bidirectional_fusion",
                                      "pooling_method", "max_lens", "early_stopping_patience",
                                      "early_stopping_min_delta")
