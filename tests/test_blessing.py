"""The blessing gate holds, in real pipeline runs (LocalDagRunner, DirectRunner, MLMD).

The shared chain of runs (``pipeline_chain`` in conftest.py), one output
folder on small built-in data:

1. ``good`` (the small test model, ``GOOD_STEPS`` steps): no baseline yet,
   so the change threshold is skipped; blessed and pushed;
2. ``rerun``, the same run again on unchanged inputs: the Evaluator reruns
   (its baseline is now the good model itself) but nothing is pushed; the
   console names the version still served;
3. ``worse`` (``WORSE_STEPS`` = 1 training step): its MAE is worse than the
   first model's beyond the tolerance: not blessed, nothing pushed, the
   serving folder still holds exactly the first model;
4. ``better`` (``BETTER_STEPS``): blessed against the first model (the last
   blessed one) and pushed beside it.

The margins are checked, so a pass is not a coincidence of rounding.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from components import msa_pusher
from pipeline import blessing, configs, results
from reporting import report
from tests.metric_reference import assert_matches, reference
from tests.runner_util import REPO, file_digest

TOL = blessing.MAE_CHANGE_TOLERANCE
# A verdict must not hinge on less than this much MAE either side of the bound.
MARGIN = 0.01
FAMILIES = {"overall", "polarity", "dataset", "text_len_bucket", "video_id",
            "dataset x polarity"}


def _evaluation(run):
    outcome, run_id, _ = run
    assert outcome.returncode == 0, outcome.console
    return results.run_evaluation(configs.metadata_path(outcome.output_dir), run_id)


def _overall(run_eval) -> report.SliceRow:
    return next(r for r in report.read_slices(run_eval.evaluation_uri) if not r.key)


def _serving_path(run_eval) -> str:
    from tfx.utils import path_utils

    return path_utils.serving_model_path(run_eval.model_uri)


def _model_digest(run_eval) -> str:
    return file_digest(_serving_path(run_eval))


def test_good_first_model_is_blessed_and_pushed(pipeline_chain):
    good = pipeline_chain["good"]
    outcome, _, serving = good
    ev = _evaluation(good)
    assert ev.blessed is True
    assert ev.baseline_model_uri is None  # first run: nothing blessed before
    assert len(serving) == 1
    version, digest = next(iter(serving.items()))
    assert digest == _model_digest(ev)  # the pushed files are this run's model
    assert ev.pushed_destination == os.path.join(configs.serving_dir(outcome.output_dir), version)
    overall = _overall(ev)
    assert overall.candidate["mae_gain_over_constant"] > MARGIN
    # significantly and usefully better than the constant predictor
    assert overall.candidate["gain_over_constant_p"] < blessing.ALPHA / 10
    assert overall.candidate["relative_gain_over_constant"] > blessing.MIN_RELATIVE_GAIN + MARGIN
    assert overall.candidate["corr"] > blessing.CORR_FLOOR + MARGIN
    assert "verdict: BLESSED" in outcome.console
    # the sequence lengths came from the train split, and the console says so
    assert "sequence lengths (the train split's 99th percentile, rounded up to 10): text " \
        in outcome.console
    # the runner's summary says the comparison with a baseline was skipped, and why
    assert re.search(r"skipped\s+worse_than_baseline_p .*no blessed baseline yet",
                     outcome.console)
    assert "baseline: none" in outcome.console


def test_first_run_report_says_the_baseline_check_was_skipped(pipeline_chain):
    outcome, run_id, _ = pipeline_chain["good"]
    proc = subprocess.run(
        [sys.executable, "-m", "reporting.report", "--output-dir", outcome.output_dir,
         "--run", run_id, "--no-predictions", "--html", os.path.join(outcome.output_dir,
                                                                     "first.html")],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"run {run_id}" in proc.stdout
    assert re.search(r"skipped\s+worse_than_baseline_p", proc.stdout)
    assert "no blessed baseline yet" in proc.stdout
    assert re.search(r"passed\s+corr\s", proc.stdout)
    assert re.search(r"passed\s+gain_over_constant_p .*paired t-test", proc.stdout)
    assert re.search(r"passed\s+relative_gain_over_constant\s", proc.stdout)
    page = open(os.path.join(outcome.output_dir, "first.html"), encoding="utf-8").read()
    assert "skipped" in page and "No baseline" in page


def test_worse_model_is_not_blessed_and_serving_keeps_the_first(pipeline_chain):
    good, worse = pipeline_chain["good"], pipeline_chain["worse"]
    ev1, ev2 = _evaluation(good), _evaluation(worse)
    assert ev2.blessed is False
    assert ev2.baseline_model_id == ev1.model_id  # compared with the blessed first model
    mae1, mae2 = _overall(ev1).candidate["mae"], _overall(ev2).candidate["mae"]
    assert mae2 - (mae1 + TOL) > MARGIN, (mae1, mae2)
    # and the paired test is sure of it
    assert _overall(ev2).candidate["worse_than_baseline_p"] < blessing.ALPHA / 10
    # nothing pushed: the serving folder holds exactly the first model, untouched
    assert worse[2] == good[2]
    assert ev2.pushed_destination is None
    console = worse[0].console
    assert "verdict: NOT BLESSED" in console
    assert re.search(r"FAILED\s+worse_than_baseline_p .*baseline", console), console
    assert "pushed model: none" in console


def test_better_model_is_pushed_beside_the_first(pipeline_chain):
    good, better = pipeline_chain["good"], pipeline_chain["better"]
    ev1, ev3 = _evaluation(good), _evaluation(better)
    assert ev3.blessed is True
    # the baseline is the last *blessed* model, i.e. the first one, not the rejected second
    assert ev3.baseline_model_id == ev1.model_id
    mae1, mae3 = _overall(ev1).candidate["mae"], _overall(ev3).candidate["mae"]
    assert (mae1 + TOL) - mae3 > MARGIN, (mae1, mae3)
    serving1, serving3 = good[2], better[2]
    assert len(serving3) == 2
    old = set(serving1)
    (new,) = set(serving3) - old
    assert {v: serving3[v] for v in old} == serving1  # the first model is still there, as it was
    assert serving3[new] == _model_digest(ev3)
    assert ev3.pushed_destination.endswith(new)
    assert int(new) > int(next(iter(old)))  # versions only grow
    assert re.search(r"passed\s+worse_than_baseline_p", better[0].console)
    # the pushed folder carries the digest of the model it holds
    manifest = msa_pusher.read_manifest(os.path.join(configs.serving_dir(better[0].output_dir),
                                                     new))
    assert manifest["digest"] == msa_pusher.model_digest(_serving_path(ev3))


def test_unchanged_rerun_pushes_nothing_and_names_the_served_version(pipeline_chain):
    good, rerun = pipeline_chain["good"], pipeline_chain["rerun"]
    ev1, ev2 = _evaluation(good), _evaluation(rerun)
    assert ev2.model_id == ev1.model_id  # the Trainer was cached
    # the candidate is itself the last blessed model: TFX's Evaluator gets no
    # baseline then (README, Blessing), and blesses on the absolute checks
    assert ev2.baseline_model_id is None and ev2.blessed is True
    assert rerun[2] == good[2]  # serving folder exactly as it was, no temporaries
    assert ev2.pushed_destination is None
    assert ev2.push_outcome == "unchanged" and ev2.served_version in good[2]
    assert (f"pushed model: none (nothing changed: version {ev2.served_version} already "
            "serves this model)") in rerun[0].console


def test_evaluator_slices_including_transformed_features(pipeline_chain):
    ev = _evaluation(pipeline_chain["better"])
    rows = report.read_slices(ev.evaluation_uri)
    assert {r.family for r in rows} == FAMILIES
    overall = next(r for r in rows if not r.key)
    for family in FAMILIES - {"overall"}:
        members = [r for r in rows if r.family == family]
        # every family partitions the evaluated examples
        assert sum(r.count for r in members) == overall.count, family
    assert {r.value for r in rows if r.family == "polarity"} <= {"negative", "neutral", "positive"}
    assert {r.value for r in rows if r.family == "text_len_bucket"} <= {
        "0", "1-5", "6-10", "11-20", "21+"}
    # small slices are present and marked, and the gate ignored everything but overall
    small = [r for r in rows if r.small]
    assert small and all(r.count < blessing.MIN_SLICE_SIZE for r in small)
    assert all(not r.small for r in rows if r.count >= blessing.MIN_SLICE_SIZE)
    weak = [r for r in rows if r.key and (math.isnan(r.candidate["corr"])
                                          or r.candidate["corr"] < blessing.CORR_FLOOR)]
    assert weak and ev.blessed  # slices below the floor do not block blessing


def test_evaluator_numbers_match_the_reference_on_the_model_predictions(pipeline_chain):
    ev = _evaluation(pipeline_chain["better"])
    rows = report.read_slices(ev.evaluation_uri)
    overall = next(r for r in rows if not r.key)
    pred = report.read_predictions(ev)  # the BulkInferrer's InferenceResult
    assert len(pred.labels) == overall.count
    want = reference(pred.labels, pred.predictions)
    assert_matches(overall.candidate, want, tol=1e-5)
    expected = np.zeros((7, 7), np.int64)
    for t, p in zip(np.round(np.clip(pred.labels, -3, 3)), np.round(np.clip(pred.predictions, -3, 3))):
        expected[int(t) + 3, int(p) + 3] += 1
    np.testing.assert_array_equal(overall.confusion, expected)
    # the polarity slice agrees with the label signs
    by_name = {r.name: r.count for r in rows}
    assert by_name.get("polarity=negative", 0) == int(np.sum(pred.labels < 0))
    assert by_name.get("polarity=positive", 0) == int(np.sum(pred.labels > 0))


@pytest.mark.slow  # starts the runner in a subprocess
@pytest.mark.parametrize("flag,value", [("--corr-floor", "1.5"), ("--min-slice-size", "0"),
                                        ("--mae-tolerance", "-0.1")])
def test_bad_blessing_flags_stop_with_one_line(tmp_path, flag, value):
    from tests.runner_util import run_local_runner

    outcome = run_local_runner(["--data-root", str(tmp_path), "--output-dir",
                                str(tmp_path / "out"), flag, value])
    assert outcome.returncode == 2
    lines = [ln for ln in outcome.console.splitlines() if ln.strip()]
    assert len(lines) == 1 and flag in lines[0], outcome.console
