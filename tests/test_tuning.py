"""The Tuner (``--tune``) and warm start (``--warm-start``), run for real.

A tuned run (conftest ``tuned_run``: TFX Tuner -> best_hyperparameters ->
the Trainer). The warm-started run of the shared chain is tested in
tests/test_pipeline_e2e.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import numpy as np
import pytest
from ml_metadata.proto import metadata_store_pb2

import local_runner
from pipeline import cli, configs
from tests.runner_util import (
    TUNE_TRIALS,
    execution_inputs,
    open_store,
    trainer_executions,
)
from trainer.core import search_space
from trainer.core.config import TrainerConfig


def _summaries(store):
    """training_summary.json of each Trainer run, oldest first."""
    out = []
    for run in sorted(store.get_artifacts_by_type("ModelRun"), key=lambda a: a.id):
        with open(os.path.join(run.uri, "training_summary.json")) as f:
            out.append(json.load(f))
    return out


def test_tuner_runs_and_the_trainer_trains_with_its_best_hyperparameters(tuned_run):
    tuned = tuned_run
    assert tuned.returncode == 0, tuned.console
    store = open_store(tuned.output_dir)
    types = {t.id: t.name for t in store.get_execution_types()}
    tuner = [e for e in store.get_executions() if types[e.type_id].endswith(".Tuner")]
    assert len(tuner) == 1 and tuner[0].last_known_state == metadata_store_pb2.Execution.COMPLETE
    best = store.get_artifacts_by_type("HyperParameters")
    assert len(best) == 1
    with open(os.path.join(best[0].uri, "best_hyperparameters.txt")) as f:
        best_values = json.load(f)["values"]
    # the search left the flags the user set alone
    assert {"learning_rate", "dropout_rate"} <= set(best_values)
    assert not {"model_dim", "n_layers_mod", "word_fusion"} & set(best_values)
    # the Trainer consumed that artifact and trained with its values
    trainer = min(trainer_executions(store), key=lambda e: e.id)
    assert execution_inputs(store, trainer.id, "hyperparameters") == [best[0].id]
    summary = _summaries(store)[0]
    assert summary["config"]["architecture"] == "seq_level"  # the default model, end to end
    assert summary["tuned_hyperparameters"] == best_values
    for name, value in best_values.items():
        assert summary["config"][name] == value, name
    # the console shows each trial as it ends, and the trials table at the end
    trials = re.findall(r"trial (\d)/(\d)  val MAE (\d+\.\d{4})", tuned.console)
    assert [(k, n) for k, n, _ in trials] == [(str(i + 1), str(TUNE_TRIALS))
                                             for i in range(TUNE_TRIALS)], tuned.console
    assert "using the Tuner's best hyperparameters" in tuned.console
    table = tuned.console[tuned.console.index("tuning trials"):].splitlines()
    best_score, best_trial = min((float(score), k) for k, _, score in trials)
    assert table[2].split()[:2] == [best_trial, f"{best_score:.4f}"], table
    assert len(table) >= 2 + TUNE_TRIALS


def _model(tmp_path, **settings):
    from trainer.training.keras_model import build_keras_model

    config = TrainerConfig(architecture="text_only", num_heads=2, **settings) \
        .resolve_alignment(True)
    return build_keras_model(config, "float32"), config


def test_warm_start_loads_matching_weights_and_refuses_others(tmp_path):
    from trainer.training import warm_start

    base, base_config = _model(tmp_path, model_dim=16)
    serving = str(tmp_path / "model" / "Format-Serving")
    warm_start.save(base, base_config, serving)

    same, same_config = _model(tmp_path, model_dim=16, dropout_rate=0.1)
    loaded, message = warm_start.apply(same, same_config, serving)
    assert loaded and message.startswith("warm start: from the blessed model"), message
    for got, want in zip(same.get_weights(), base.get_weights()):
        np.testing.assert_array_equal(got, want)

    wider, wider_config = _model(tmp_path, model_dim=32)
    before = [w.copy() for w in wider.get_weights()]
    loaded, message = warm_start.apply(wider, wider_config, serving)
    assert not loaded and "differs from this run's" in message and "from scratch" in message
    assert "\n" not in message
    for got, want in zip(wider.get_weights(), before):
        np.testing.assert_array_equal(got, want)

    assert warm_start.apply(wider, wider_config, None) == (
        False, "warm start: no blessed model yet; training from scratch")
    loaded, message = warm_start.apply(wider, wider_config, str(tmp_path / "old" / "Format-Serving"))
    assert not loaded and "has no saved weights" in message


def test_search_space_leaves_fixed_flags_alone_and_starts_from_the_given_settings(tmp_path):
    from trainer import tuning

    start = TrainerConfig(num_heads=3, model_dim=48).to_dict()
    custom = search_space.tune_config(start, trials=4, fixed=("learning_rate", "num_heads"))
    space = custom["search_space"]
    assert "learning_rate" not in space and "dropout_rate" in space
    assert all(d % 3 == 0 for d in space["model_dim"])  # divisible by the head count
    with pytest.raises(ValueError, match="--tune-trials"):
        search_space.tune_config(start, trials=0)
    # the first trial is the starting point, the rest differ from it
    oracle = tuning._oracle(space, start, trials=4, seed=0)
    oracle._set_project_dir(str(tmp_path), "t")  # what the Tuner does with its oracle
    first = oracle.create_trial("t")
    assert first.hyperparameters.values == {k: start[k] for k in space}
    oracle.end_trial(first)
    second = oracle.create_trial("t")
    assert second.hyperparameters.values != first.hyperparameters.values
    assert search_space.best_values({"values": {"dropout_rate": 0.3}}) == {"dropout_rate": 0.3}
    with pytest.raises(ValueError, match="unknown setting"):
        search_space.best_values({"values": {"dropuot": 0.3}})


def test_make_report_writes_the_page_with_the_trials(tuned_run):
    from tests.runner_util import REPO

    tuned = tuned_run
    run_id = re.search(r"run (\S+): Evaluator", tuned.console).group(1)
    proc = subprocess.run(["make", "-s", "report", f"OUTPUT_DIR={tuned.output_dir}",
                           f"RUN={run_id}"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = re.search(r"report: (\S+\.html)", proc.stdout).group(1)
    assert page == os.path.join(tuned.output_dir, "report", "index.html")
    html = open(page, encoding="utf-8").read()
    assert "<h2>Tuning</h2>" in html
    section = html[html.index("<h2>Tuning</h2>"):html.index("<h2>Definitions</h2>")]
    assert section.count("<tr") == 1 + TUNE_TRIALS
    assert "learning_rate" in section and "dropout_rate" in section
    # the scatter plot's predictions come from the run's BulkInferrer
    assert "InferenceResult" in html and "/BulkInferrer/inference_result/" in html


def test_trials_train_for_the_runs_own_budget_unless_told_otherwise():
    def tuning(*flags):
        return cli.tuning_from(local_runner.build_parser().parse_args(list(flags)))

    assert tuning() == (0, configs.TRAIN_STEPS, ())
    assert tuning("--tune") == (configs.TUNE_TRIALS, configs.TRAIN_STEPS, ())
    assert tuning("--tune", "--train-steps", "300") == (configs.TUNE_TRIALS, 300, ())
    trials, steps, fixed = tuning("--tune", "--tune-trials", "3", "--tune-steps", "50",
                                  "--dropout", "0.2")
    assert (trials, steps, fixed) == (3, 50, ("dropout_rate",))
    with pytest.raises(ValueError, match="--tune-steps: expected >= 1"):
        tuning("--tune", "--tune-steps", "0")
