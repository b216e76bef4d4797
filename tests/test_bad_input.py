"""Bad input stops the run with one readable line, and nothing is pushed."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest
import tensorflow as tf

import local_runner
from msa_data import contract
from pipeline import cli
from tests.runner_util import TINY_MODEL_FLAGS, run_local_runner
from trainer.core.config import TrainerConfig


def _copy_with_broken_first_train_example(src, dst, breaker):
    """Copies the tiny dataset, passing the first train example through ``breaker``."""
    os.makedirs(dst)
    for split in contract.SPLITS:
        path = contract.split_path(src, split)
        if split != "train":
            shutil.copy(path, contract.split_path(dst, split))
            continue
        with tf.io.TFRecordWriter(contract.split_path(dst, split)) as writer:
            for i, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
                example = tf.train.Example.FromString(record)
                if i == 0:
                    breaker(example)
                writer.write(example.SerializeToString())
    first = tf.train.Example.FromString(
        next(tf.data.TFRecordDataset(contract.split_path(dst, "train")).as_numpy_iterator()))
    return first.features.feature[contract.SEGMENT_ID].bytes_list.value[0].decode()


def _assert_stopped_cleanly(outcome, *expected):
    assert outcome.returncode != 0
    error_lines = [ln for ln in outcome.console.splitlines() if ln.startswith("error:")]
    assert len(error_lines) == 1, outcome.console
    for fragment in expected:
        assert fragment in error_lines[0], error_lines[0]
    assert "Traceback" not in outcome.console
    assert outcome.pushed == []
    # the run stopped before Transform: no transformed data, no model
    root = os.path.join(outcome.output_dir, "pipeline_root")
    assert not os.path.exists(os.path.join(root, "Trainer"))
    assert not os.path.exists(os.path.join(root, "Transform", "transformed_examples"))


def test_missing_data_root(tmp_path):
    missing = str(tmp_path / "nope")
    outcome = run_local_runner(["--data-root", missing, "--output-dir", str(tmp_path / "out")])
    assert outcome.returncode == 2
    lines = [ln for ln in outcome.console.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--data-root" in lines[0] and missing in lines[0], outcome.console


def test_data_root_without_splits(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.tfrecord").write_bytes(b"")
    outcome = run_local_runner(["--data-root", str(tmp_path / "data"),
                                "--output-dir", str(tmp_path / "out")])
    assert outcome.returncode == 2
    assert "['valid', 'test']" in outcome.console


@pytest.mark.slow  # starts the runner in a subprocess
def test_dimension_mismatch_names_the_segment(tiny_data, tmp_path):
    def drop_one_audio_value(example):
        del example.features.feature["audio"].float_list.value[-1]

    segment = _copy_with_broken_first_train_example(
        tiny_data, str(tmp_path / "data"), drop_one_audio_value)
    outcome = run_local_runner(["--data-root", str(tmp_path / "data"),
                                "--output-dir", str(tmp_path / "out"), *TINY_MODEL_FLAGS])
    _assert_stopped_cleanly(outcome, segment, "'audio'", "audio_len x dim")


@pytest.mark.slow  # starts the runner in a subprocess
def test_out_of_domain_label_names_the_feature(tiny_data, tmp_path):
    def label_out_of_range(example):
        example.features.feature[contract.LABEL].float_list.value[0] = 4.5

    _copy_with_broken_first_train_example(tiny_data, str(tmp_path / "data"), label_out_of_range)
    outcome = run_local_runner(["--data-root", str(tmp_path / "data"),
                                "--output-dir", str(tmp_path / "out"), *TINY_MODEL_FLAGS])
    _assert_stopped_cleanly(outcome, "feature 'label'", "split 'train'")


@pytest.mark.parametrize("flags, fragment", [
    (["--beam-workers", "0"], "--beam-workers"),
    (["--train-steps", "0"], "--train-steps"),
    (["--mixed-precision", "float64"], "--mixed-precision"),
    (["--architecture", "lstm"], "--architecture"),
    (["--weight-decay", "-0.1"], "--weight-decay"),
])
def test_bad_flags(tmp_path, tiny_data, flags, fragment):
    out = tmp_path / "out"
    outcome = run_local_runner(["--data-root", tiny_data, "--output-dir", str(out), *flags])
    assert outcome.returncode == 2
    assert not out.exists()  # checked before the output folder is created
    assert fragment in outcome.console
    lines = [line for line in outcome.console.strip().splitlines() if "error" in line]
    assert len(lines) == 1, outcome.console  # one line, no traceback
    assert "Traceback" not in outcome.console


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
