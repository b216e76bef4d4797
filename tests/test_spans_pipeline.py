"""Continuous training on spans, end to end: one good span, then a drifted one.

One shared fixture (conftest ``span_runs``) runs local_runner.py twice into
one output folder on three built-in spans (250 segments per split, span 3's
video shifted): ``--span 2 --span-window 2`` trains on spans 1 and 2 and is
blessed on span 2's test split; the latest span, 3, is refused by the drift
gate before Transform, with exit 4.
"""

from __future__ import annotations

import dataclasses

from ml_metadata.proto import metadata_store_pb2

from pipeline import data_check, failures, span_results, spans
from tests.runner_util import open_store


def _context(store, newest=0):
    from pipeline import results

    return results.pipeline_runs(store)[newest]


def _execution_types(store, context):
    types = {t.id: t.name for t in store.get_execution_types()}
    return {types[e.type_id].rsplit(".", 1)[-1]: e
            for e in store.get_executions_by_context(context.id)}


def test_a_good_span_is_checked_trained_blessed_and_pushed(span_runs):
    _, runs = span_runs
    outcome, serving = runs["span2"]
    assert outcome.returncode == 0, outcome.console[-3000:]
    console = outcome.console
    assert "training on spans 1-2 (--span-window 2), evaluating on span 2's test split; " \
           "drift checked against span 1" in console
    assert "span 2 against span 1: no drift beyond the thresholds" in console
    assert "verdict: BLESSED" in console and len(serving) == 1
    skew = [ln for ln in console.splitlines() if "warning: serving data" in ln]
    assert len(skew) == 1 and "skewed from the training data: video:" in skew[0]


def test_the_span_is_recorded_in_ml_metadata(span_runs):
    _, runs = span_runs
    store = open_store(runs["span2"][0].output_dir)
    context = _context(store, newest=1)
    assert span_results.span_of(context) == "1-2"  # the window trained on
    examples = [a for a in store.get_artifacts_by_context(context.id)
                if a.custom_properties.get("span") is not None
                and "/ImportExampleGen/" in a.uri]
    assert [a.custom_properties["span"].int_value for a in examples] == [2]
    # the window: Transform (so the Trainer) read span 1's examples too
    ran = _execution_types(store, context)
    events = store.get_events_by_execution_ids([ran["Transform"].id])
    read = store.get_artifacts_by_id([e.artifact_id for e in events
                                      if e.type == metadata_store_pb2.Event.INPUT])
    assert sorted(a.custom_properties["span"].int_value for a in read
                  if a.custom_properties.get("span") is not None) == [1, 2]
    record = span_results.run_drift(store, context)
    assert record["span"] == 2 and record["previous_span"] == 1 and record["drifted"] == []
    assert {d["name"] for d in record["distances"]} >= {"text_len", "video", "dataset"}


def test_a_drifted_span_stops_before_transform_in_one_line(span_runs):
    _, runs = span_runs
    outcome, serving = runs["span3"]
    assert outcome.returncode == failures.EXIT_DRIFT == 4, outcome.console[-3000:]
    errors = [ln for ln in outcome.console.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, outcome.console
    assert errors[0].startswith("error: drift: span 3 against span 2: video: ")
    assert "Traceback" not in outcome.console
    assert serving == runs["span2"][1], "a drifted span pushed a model"
    store = open_store(outcome.output_dir)
    context = _context(store)
    ran = _execution_types(store, context)
    assert "DriftGate" in ran and ran["DriftGate"].last_known_state == \
        metadata_store_pb2.Execution.FAILED
    assert not {"Transform", "MsaTrainer", "Evaluator"} & set(ran)
    assert span_results.span_of(context) == "3"
    noted = context.custom_properties[span_results.SPAN_DRIFT].string_value
    assert noted == errors[0].removeprefix("error: ")


class _Console:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text


def test_a_new_span_warm_starts_from_the_blessed_model_with_its_lengths(span_runs):
    from pipeline import configs
    from trainer.core.config import TrainerConfig

    root, runs = span_runs
    out = runs["span2"][0].output_dir
    lengths_line = next(ln for ln in runs["span2"][0].console.splitlines()
                        if ln.startswith("sequence lengths"))
    args = dataclasses.make_dataclass("A", [("no_warm_start", bool, False)])()
    console = _Console()
    config = TrainerConfig.from_preset("default", max_lens={"text": 7, "audio": 7, "video": 7})
    new, given = data_check.span_config(config, spans.plan(root, span=3), args, console,
                                        configs.metadata_path(out), None)
    assert new.warm_start and "from the latest blessed model" in given
    kept = ", ".join(f"{m} {new.max_lens[m]}" for m in ("text", "audio", "video"))
    assert kept in lengths_line  # the blessed run's own lengths
    # a rerun of the trained span (after a crash, say) warm-starts the same way
    again, _ = data_check.span_config(config, spans.plan(root, span=2, window=2), args,
                                      _Console(), configs.metadata_path(out), None)
    assert again.warm_start and again.max_lens == new.max_lens
    off = dataclasses.make_dataclass("A", [("no_warm_start", bool, True)])()
    assert data_check.span_config(config, spans.plan(root, span=3), off, _Console(),
                                  configs.metadata_path(out), None)[0] == config


def test_msa_report_shows_the_span_the_drift_and_the_refused_span(span_runs):
    from reporting import report

    _, runs = span_runs
    loaded = report.load(runs["span2"][0].output_dir, predictions=False)
    lines = loaded.span_lines
    assert lines[0] == "data span: 1-2"
    assert lines[1] == "span 2 against span 1: no drift beyond the thresholds"
    assert "video 0.0" in lines[2] and "(<= 0.02)" in lines[2]
    assert not any(ln.startswith("previous span") for ln in lines)  # no run on span 1 here
    skew = [ln for ln in lines if ln.startswith("warning: serving data")]
    assert len(skew) == 1 and "video 0." in skew[0]
    refused = [ln for ln in lines if ln.startswith("warning: a newer run")]
    assert len(refused) == 1 and "span 3" in refused[0] and "video" in refused[0]
    assert "data span: 1-2" in report.summary(loaded)
