"""Data roots of spans (pipeline/spans.py) and the built-in spans (msa-synth --spans).

Folder layouts are built for real; span data is generated for real and read
back from its TFRecords. No pipeline runs here (tests/test_spans_pipeline.py
has the one).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pytest

from msa_data import contract, synth, synth_cli, synth_spans
from msa_data.synth_plan import SynthError
from pipeline import cli, spans


def _span_root(tmp_path, numbers, skip=()):
    root = str(tmp_path / "root")
    for k in numbers:
        folder = contract.span_dir(root, k)
        os.makedirs(folder)
        for split in contract.SPLITS:
            if (k, split) not in skip:
                open(contract.split_path(folder, split), "wb").close()
    return root


def test_the_latest_span_is_trained_and_the_one_before_is_compared(tmp_path):
    root = _span_root(tmp_path, (1, 2, 3))
    assert spans.find_spans(root) == [1, 2, 3]
    plan = spans.plan(root)
    assert (plan.span, plan.window, plan.previous, plan.available) == (3, (3,), 2, 3)
    assert plan.folder(2) == os.path.join(root, "span-2")
    windowed = spans.plan(root, window=2)
    assert windowed.window == (2, 3) and windowed.previous == 2
    first = spans.plan(root, span=1)
    assert first.window == (1,) and first.previous is None
    assert "no earlier span" in first.describe()
    assert "spans 2-3 (--span-window 2)" in windowed.describe()


def test_a_plain_contract_folder_is_no_span_root(tmp_path):
    root = str(tmp_path)
    for split in contract.SPLITS:
        open(contract.split_path(root, split), "wb").close()
    assert spans.plan(root) is None and spans.find_spans(root) == []
    with pytest.raises(spans.SpanError, match="--span-window 2: only used with a data root"):
        spans.plan(root, window=2)


@pytest.mark.parametrize("numbers, skip, flags, fragment", [
    ((1, 3), (), {}, "span folder span-2 is missing"),
    ((1, 2), ((2, "test"),), {}, "span-2: no file for split(s) ['test']"),
    ((1, 2), (), {"window": 3}, "--span-window 3: expected 1..2"),
    ((1, 2), (), {"span": 3}, "--span 3: expected a span in 1..2"),
    ((1, 2, 3), (), {"span": 2, "window": 3}, "--span-window 3: expected 1..2"),
])
def test_bad_span_layouts_and_flags_are_one_line(tmp_path, numbers, skip, flags, fragment):
    root = _span_root(tmp_path, numbers, skip)
    with pytest.raises(spans.SpanError) as err:
        spans.plan(root, **flags)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_a_kubeflow_task_resolves_the_span_and_names_the_runtime_parameter(tmp_path):
    from components import span_input
    from pipeline.pipeline import example_input_config

    config = example_input_config()
    root = _span_root(tmp_path, (1, 2, 3))
    span, resolved = span_input.resolve(root, config, 0)  # 0: the newest span folder
    assert span == 3
    assert [s.pattern for s in resolved.splits] == [
        f"span-3/{contract.split_pattern(s)}" for s in contract.SPLITS]
    assert [s.pattern for s in config.splits] == [contract.split_pattern(s)
                                                  for s in contract.SPLITS]  # not changed
    assert span_input.resolve(root, config, 1)[0] == 1
    with pytest.raises(spans.SpanError) as err:
        span_input.resolve(root, config, 5)
    assert str(err.value).startswith("span=5: expected a span in 1..3")
    plain = str(tmp_path / "plain")
    os.makedirs(plain)
    for split in contract.SPLITS:
        open(contract.split_path(plain, split), "wb").close()
    assert span_input.resolve(plain, config, 0) == (0, config)  # read as it is
    with pytest.raises(spans.SpanError) as err:
        span_input.resolve(plain, config, 2)
    assert str(err.value).startswith("span=2: only used with a data root of span folders")


def test_misnamed_span_folders_and_mixed_layouts_are_refused(tmp_path):
    root = _span_root(tmp_path, (1,))
    os.makedirs(os.path.join(root, "span-02"))
    with pytest.raises(spans.SpanError, match="'span-02' is not a span folder"):
        spans.find_spans(root)
    os.rmdir(os.path.join(root, "span-02"))
    open(contract.split_path(root, "train"), "wb").close()
    with pytest.raises(spans.SpanError, match="both split files and span folders"):
        spans.find_spans(root)


def _args(**given):
    values = dict(drift_threshold=[], allow_drift=False, source=None, span=None, span_window=1,
                  warm_start=None, no_warm_start=False)
    values.update(given)
    return argparse.Namespace(**values)


def test_drift_flags_are_checked():
    settings = cli.drift_from(_args(drift_threshold=["video=0.05", "text_len=0.3"],
                                    allow_drift=True))
    assert dict(settings.thresholds) == {"video": 0.05, "text_len": 0.3} and settings.allow
    for bad in ("video=2", "colour=0.1", "video"):
        with pytest.raises(ValueError, match=f"--drift-threshold {bad}: expected NAME=X"):
            cli.drift_from(_args(drift_threshold=[bad]))
    with pytest.raises(ValueError, match="--source: the span flags"):
        cli.drift_from(_args(source="mult:x.pkl", allow_drift=True))
    with pytest.raises(ValueError, match="--warm-start and --no-warm-start"):
        cli.drift_from(_args(warm_start=True, no_warm_start=True))


def _read(root, split="train"):
    return list(contract.read_split(contract.split_path(root, split)))


def test_built_in_spans_share_the_function_and_differ_in_segments(tmp_path):
    plain = str(tmp_path / "plain")
    synth.generate(plain, seed=3, limit_per_split=5)
    root = str(tmp_path / "spans")
    results = synth.generate_spans(root, 3, shift_span=2, seed=3, limit_per_split=5)
    assert sorted(os.listdir(root)) == ["span-1", "span-2", "span-3"]
    for split in contract.SPLITS:  # span 1 is the plain data, byte for byte
        with open(contract.split_path(plain, split), "rb") as a, \
                open(contract.split_path(contract.span_dir(root, 1), split), "rb") as b:
            assert a.read() == b.read()
    one, three = _read(contract.span_dir(root, 1)), _read(contract.span_dir(root, 3))
    assert [s.label for s in one] == [s.label for s in three]  # the same plan
    assert [s.video_id for s in one] == [s.video_id for s in three]
    assert not np.array_equal(one[0].text, three[0].text)  # new segments
    assert results[2]["video_shifted"] and not results[3]["video_shifted"]


def test_the_shifted_span_changes_video_only(tmp_path):
    shifted, unshifted = str(tmp_path / "a"), str(tmp_path / "b")
    synth.generate_spans(shifted, 2, shift_span=2, limit_per_split=5)
    synth.generate_spans(unshifted, 2, limit_per_split=5)
    a = _read(contract.span_dir(shifted, 2))
    b = _read(contract.span_dir(unshifted, 2))
    for x, y in zip(a, b):
        assert x.label == y.label
        np.testing.assert_array_equal(x.text, y.text)
        np.testing.assert_array_equal(x.audio, y.audio)
        real = np.any(y.video != 0, axis=1)
        np.testing.assert_allclose(x.video[real], y.video[real] * synth_spans.SHIFT_SCALE
                                   + synth_spans.SHIFT_OFFSET, rtol=1e-6)
        np.testing.assert_array_equal(x.video[~real], 0)


@pytest.mark.parametrize("argv, fragment", [
    (["--spans", "3", "--shift-span", "4"], "--shift-span: expected a span in 1..3"),
    (["--shift-span", "1"], "--shift-span: only used with --spans"),
])
def test_msa_synth_refuses_bad_span_flags_and_writes_nothing(tmp_path, capsys, argv,
                                                            fragment):
    out = str(tmp_path / "out")
    with pytest.raises(SystemExit) as stop:
        synth_cli.main(["--output", out, "--limit-per-split", "2", *argv])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
    assert not os.path.exists(out) and os.listdir(tmp_path) == []


def test_synth_span_errors_name_the_flag():
    with pytest.raises(SynthError, match="--spans"):
        synth_spans.check_span_flags(0, None)


def test_a_window_may_not_train_on_copies_of_the_evaluated_test_split(tmp_path):
    import shutil

    from pipeline import data_check

    root = str(tmp_path / "spans")
    synth.generate_spans(root, 2, limit_per_split=6)
    # span 2's test examples, delivered again as span 1's training data (span 1's
    # test split swapped for its old train split, so that span 1 alone is clean)
    span1 = contract.span_dir(root, 1)
    shutil.move(contract.split_path(span1, "train"), contract.split_path(span1, "test"))
    shutil.copy(contract.split_path(contract.span_dir(root, 2), "test"),
                contract.split_path(span1, "train"))

    class Console:
        text = ""

        def write(self, text):
            Console.text += text

    args = _args(data_root=root, span=2, span_window=2, allow_overlap=False,
                 output_dir=str(tmp_path / "out"))
    with pytest.raises(SystemExit) as stop:
        data_check.resolve_data_root(args, Console())
    line = str(stop.value)
    assert line.startswith("error: --span-window 2: data leaks into span 2's test split: "
                           "span 1 train/span 2 test share 6 segment ids")
    assert "\n" not in line
    # one span alone is fine; with --allow-overlap the window runs and says so
    data_check.resolve_data_root(_args(data_root=root, span=2, allow_overlap=False,
                                       output_dir=str(tmp_path / "out")), Console())
    args.allow_overlap = True
    _, summary, _ = data_check.resolve_data_root(args, Console())
    assert "warning: data leaks into span 2's test split (--allow-overlap)" in Console.text
    assert any(o.first == "span 1 train" for o in summary.overlaps)
