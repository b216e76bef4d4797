"""Tests of the built-in synthetic data generator (``msa-synth``)."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from msa_data import contract, synth, synth_features, synth_plan, synth_unaligned

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV_PATH = os.path.join(REPO, "msa_data", "mosi_opinion_labels.csv")
FOLDS_PATH = os.path.join(REPO, "msa_data", "standard_folds.json")


def _real_mosi():
    """``{split: [(segment_id, video_id, label)]}`` straight from the package files."""
    with open(FOLDS_PATH) as fh:
        folds = json.load(fh)["mosi"]
    split_of = {v: s for s in contract.SPLITS for v in folds[s]}
    out = {s: [] for s in contract.SPLITS}
    with open(CSV_PATH) as fh:
        for _a, _b, vid, idx, label in csv.reader(fh):
            out[split_of[vid]].append((f"{vid}_{idx}", vid, float(label)))
    return out


def _records(path):
    import tensorflow as tf

    return [bytes(r) for r in tf.data.TFRecordDataset(path).as_numpy_iterator()]


def _files(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as fh:
            out[name] = fh.read()
    return out


@pytest.fixture(scope="module")
def full_mosi(tmp_path_factory):
    out = tmp_path_factory.mktemp("mosi") / "data"
    result = synth.generate(str(out), size="mosi", seed=0)
    segments = {
        s: list(contract.read_split(contract.split_path(str(out), s))) for s in contract.SPLITS
    }
    return str(out), result, segments


# ---------------------------------------------------------------- splits


def test_mosi_plan_follows_real_folds_and_labels():
    plan = synth.plan_splits("mosi")
    real = _real_mosi()
    assert {s: len(v) for s, v in plan.items()} == {"train": 1284, "valid": 229, "test": 686}
    videos = {s: {p.video_id for p in v} for s, v in plan.items()}
    assert {s: len(v) for s, v in videos.items()} == {"train": 52, "valid": 10, "test": 31}
    assert not (videos["train"] & videos["valid"] or videos["train"] & videos["test"]
                or videos["valid"] & videos["test"])
    for split in contract.SPLITS:
        assert [(p.segment_id, p.video_id, p.label) for p in plan[split]] == real[split]


def test_mosi_written_data_matches_real_csv(full_mosi):
    out, result, segments = full_mosi
    real = _real_mosi()
    assert result["counts"] == {"train": 1284, "valid": 229, "test": 686}
    assert result["videos"] == {"train": 52, "valid": 10, "test": 31}
    seen_videos = {}
    for split in contract.SPLITS:
        segs = segments[split]
        assert [(s.segment_id, s.video_id) for s in segs] == [r[:2] for r in real[split]]
        np.testing.assert_array_equal(
            np.array([s.label for s in segs], np.float32),
            np.array([r[2] for r in real[split]], np.float32),
        )
        assert {s.dataset for s in segs} == {"synthetic"}
        for s in segs:
            assert seen_videos.setdefault(s.video_id, split) == split
    frac = result["label_fraction"]
    assert frac["positive"] == pytest.approx(0.491, abs=0.01)
    assert frac["negative"] == pytest.approx(0.465, abs=0.01)
    assert frac["zero"] == pytest.approx(0.044, abs=0.01)


def test_assign_segment_counts():
    rng = np.random.default_rng(3)
    counts = synth_plan.assign_segment_counts(300, 1871, rng)
    assert counts.shape == (300,) and counts.sum() == 1871 and counts.min() >= 1
    assert synth_plan.assign_segment_counts(5, 5, rng).tolist() == [1] * 5
    with pytest.raises(ValueError):
        synth_plan.assign_segment_counts(10, 9, rng)


def test_mosei_plan_counts_and_labels():
    plan = synth.plan_splits("mosei", seed=0)
    assert {s: len(v) for s, v in plan.items()} == {"train": 16326, "valid": 1871, "test": 4659}
    with open(FOLDS_PATH) as fh:
        folds = json.load(fh)["mosei"]
    videos = {s: {p.video_id for p in v} for s, v in plan.items()}
    for split in contract.SPLITS:
        assert videos[split] == set(folds[split])  # every fold video has >= 1 segment
    assert {s: len(v) for s, v in videos.items()} == {"train": 2249, "valid": 300, "test": 678}
    assert not (videos["train"] & videos["valid"] or videos["train"] & videos["test"]
                or videos["valid"] & videos["test"])
    ids = [p.segment_id for v in plan.values() for p in v]
    assert len(set(ids)) == len(ids) == 22856
    labels = np.array([p.label for v in plan.values() for p in v])
    assert labels.min() >= -3 and labels.max() <= 3
    np.testing.assert_allclose(labels * 3, np.rint(labels * 3), atol=1e-9)
    assert 0.15 < np.mean(labels == 0) < 0.25
    assert np.mean(labels > 0) > np.mean(labels < 0) + 0.15  # skewed positive
    # The plan is seeded: same seed same plan, other seed another split of counts.
    again = synth.plan_splits("mosei", seed=0)
    assert [p.segment_id for p in again["valid"]] == [p.segment_id for p in plan["valid"]]
    other = synth.plan_splits("mosei", seed=1)
    assert [p.segment_id for p in other["valid"]] != [p.segment_id for p in plan["valid"]]


# ---------------------------------------------------------------- determinism


def test_same_seed_same_bytes_other_seed_differs(tmp_path, full_mosi):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    synth.generate(str(a), size="mosi", seed=0, limit_per_split=20)
    synth.generate(str(b), size="mosi", seed=0, limit_per_split=20)
    synth.generate(str(c), size="mosi", seed=1, limit_per_split=20)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert sorted(fa) == ["noise_floor.json", "test.tfrecord", "train.tfrecord", "valid.tfrecord"]
    assert fa == fb
    for split in contract.SPLITS:
        assert fa[f"{split}.tfrecord"] != fc[f"{split}.tfrecord"]
    # A limited run is exactly the full run's records at evenly spread
    # positions, so it reaches across the split's videos, not just its first.
    full_dir = full_mosi[0]
    for split in contract.SPLITS:
        tiny = _records(contract.split_path(str(a), split))
        full = _records(contract.split_path(full_dir, split))
        assert len(tiny) == 20
        positions = [full.index(r) for r in tiny]
        assert positions == sorted(positions) and positions[0] == 0
        assert positions[-1] == len(full) - 1
        assert len({s.video_id for s in contract.read_split(
            contract.split_path(str(a), split))}) > 5


# ---------------------------------------------------------------- shapes


def test_shapes_lengths_and_nuisances(full_mosi):
    _, _, segments = full_mosi
    segs = [s for split in contract.SPLITS for s in segments[split]]
    dims = contract.DEFAULT_DIMS
    lengths = []
    for s in segs:  # read_split already enforced len x dim per modality
        n = s.text.shape[0]
        assert s.text.shape == (n, dims["text"])
        assert s.audio.shape == (n, dims["audio"])
        assert s.video.shape == (n, dims["video"])
        lengths.append(n)
    lengths = np.array(lengths)
    assert lengths.min() >= 1 and lengths.max() <= 70
    assert lengths.max() > 50
    assert 0.002 < np.mean(lengths > 50) < 0.03
    assert 8 <= np.median(lengths) <= 12

    audio = np.concatenate([s.audio for s in segs])
    assert np.isneginf(audio).any() and np.isnan(audio).any()
    bad = ~np.isfinite(audio)
    undefined = list(synth_features.AUDIO_UNDEFINED_DIMS)
    assert not bad[:, [d for d in range(audio.shape[1]) if d not in undefined]].any()
    assert np.isfinite(audio[:, list(synth.AUDIO_CUE_DIMS)]).all()
    assert 0.003 < bad.any(axis=1).mean() < 0.03  # ~1% of frames

    zero_frac = np.mean(np.concatenate([np.all(s.video == 0, axis=1) for s in segs]))
    assert 0.03 < zero_frac < 0.07
    interior = sum(
        int(np.all(s.video[1:-1] == 0, axis=1).sum()) for s in segs if s.video.shape[0] > 2
    )
    assert interior > 100


# ---------------------------------------------------------------- sentiment


def test_sentiment_function_reproduces_generator_targets():
    plan = synth.plan_splits("mosi")
    for split in contract.SPLITS:
        for syn in synth.iter_split(split, plan[split][:150], seed=0):
            s = syn.segment
            f = synth_features.sentiment_function(s.text, s.audio, s.video, seed=0)
            assert f == pytest.approx(syn.target, abs=1e-4)
            assert s.label - syn.target == pytest.approx(syn.eps, abs=1e-9)
            # Non-cue words project to ~0 and 1-3 words carry the sentiment.
            c = s.text.astype(np.float64) @ synth.cue_direction(0)
            assert 1 <= np.sum(np.abs(c) > 1e-4) <= 3


def test_noise_floor_matches_sigma_and_written_features(full_mosi):
    out, result, segments = full_mosi
    with open(os.path.join(out, "noise_floor.json")) as fh:
        assert json.load(fh) == result
    assert result["sigma"] == 0.25 and result["seed"] == 0 and result["size"] == "mosi"
    expected = 0.25 * math.sqrt(2 / math.pi)
    all_err = []
    for split in contract.SPLITS:
        err = np.array([
            s.label - synth_features.sentiment_function(s.text, s.audio, s.video, seed=0)
            for s in segments[split]
        ])
        assert result[f"{split}_mae_noise_floor"] == pytest.approx(np.abs(err).mean(), abs=1e-6)
        all_err.append(err)
    err = np.concatenate(all_err)
    assert np.abs(err).mean() == pytest.approx(expected, abs=0.015)
    assert err.std() == pytest.approx(0.25, abs=0.02)
    assert abs(err.mean()) < 0.03
    assert result["test_mae_noise_floor"] == pytest.approx(expected, abs=0.03)


def test_learned_word_direction_row_costs_little_with_exact_gates(full_mosi):
    _, result, _ = full_mosi
    refs, floor = result["reference_test_mae"], result["test_mae_noise_floor"]
    # aligned data: the gates are each word's own cues, so learning the 300
    # weights of the word direction from 1,284 segments is all that is left
    assert floor < refs["learned_word_direction"] < 1.25 * floor


def test_ridge_reference_picks_its_penalty_on_the_valid_split():
    from msa_data.synth_reference import reference_maes

    rng = np.random.default_rng(0)
    beta = rng.normal(size=50)

    def rows(n, noise):
        x = rng.normal(size=(n, 50))
        y = x @ beta + rng.normal(0.0, noise, n)
        return [{"label": float(yi), "text_part": 0.0, "audio_rate": 0.0, "video_rate": 0.0,
                 "weighted_words": xi} for xi, yi in zip(x, y)]

    many = reference_maes({"train": rows(2000, 0.1), "valid": rows(200, 0.1),
                           "test": rows(500, 0.1)})
    # plenty of data: ridge finds beta, the error is the noise's (0.1 * 0.80)
    assert many["learned_word_direction"] == pytest.approx(0.08, rel=0.15)
    few = reference_maes({"train": rows(40, 0.1), "valid": rows(200, 0.1),
                          "test": rows(500, 0.1)})
    # fewer segments than weights: worse, but the valid split keeps it below a constant
    assert many["learned_word_direction"] < few["learned_word_direction"] < few["constant"]


def test_cross_part_depends_on_alignment(full_mosi):
    _, _, segments = full_mosi
    rng = np.random.default_rng(7)
    segs = segments["train"]
    changed = 0
    cross = []
    for s in segs:
        f = synth_features.sentiment_function(s.text, s.audio, s.video)
        perm = rng.permutation(s.audio.shape[0])  # same multiset of audio frames
        f_perm = synth_features.sentiment_function(s.text, s.audio[perm], s.video)
        changed += abs(f_perm - f) > 1e-3
        cross.append(synth.sentiment_parts(s.text, s.audio, s.video)[1])
    assert changed / len(segs) > 0.4
    assert np.mean(np.abs(cross) > 1e-3) > 0.5  # the cross part is not a corner case


# ---------------------------------------------------------------- API / CLI


def _cli(*args):
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-m", "msa_data.synth_cli", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )


def test_cli_writes_then_refuses_non_empty_output(tmp_path):
    out = tmp_path / "d"
    run = _cli("--output", str(out), "--size", "mosi", "--limit-per-split", "5")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 4
    for split, line in zip(contract.SPLITS, lines):
        assert line.startswith(f"{split}: 5 segments")
    assert "noise floor" in lines[3]
    before = _files(out)
    assert sorted(before) == ["noise_floor.json", "test.tfrecord", "train.tfrecord", "valid.tfrecord"]

    again = _cli("--output", str(out), "--size", "mosi", "--limit-per-split", "5")
    assert again.returncode == 2
    err = again.stderr.strip().splitlines()
    assert len(err) == 1 and "--output" in err[0] and "--overwrite" in err[0]
    assert _files(out) == before
    assert sorted(os.listdir(tmp_path)) == ["d"]  # no temp siblings left behind


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--size", "huge"], "--size"),
        (["--limit-per-split", "-1"], "--limit-per-split"),
        (["--seed", "x"], "--seed"),
        (["--fraction", "0"], "--fraction"),
        (["--fraction", "1.5"], "--fraction"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path, args, flag):
    run = _cli("--output", str(tmp_path / "d"), *args)
    assert run.returncode == 2
    assert flag in run.stderr.strip().splitlines()[-1]
    assert not os.path.exists(tmp_path / "d")


def test_api_validation_and_overwrite(tmp_path):
    out = tmp_path / "d"
    with pytest.raises(synth.SynthError, match="--size"):
        synth.generate(str(out), size="tiny")
    with pytest.raises(synth.SynthError, match="--limit-per-split"):
        synth.generate(str(out), limit_per_split=-1)
    out.mkdir()  # an existing empty folder is fine
    first = synth.generate(str(out), limit_per_split=3, seed=2)
    assert first["counts"] == {"train": 3, "valid": 3, "test": 3}
    with pytest.raises(synth.SynthError, match="--output"):
        synth.generate(str(out), limit_per_split=4)
    second = synth.generate(str(out), limit_per_split=4, overwrite=True)
    assert second["counts"] == {"train": 4, "valid": 4, "test": 4}
    assert sorted(os.listdir(tmp_path)) == ["d"]


def test_fraction_keeps_that_share_of_each_split():
    picked = synth.spread_subset(100, None, 0.25)
    assert len(picked) == 25 and picked[0] == 0 and picked[-1] == 99  # spread, not a prefix
    assert synth.spread_subset(100, 10, 0.5) == synth.spread_subset(100, 10)  # smaller wins
    assert synth.spread_subset(100, None, 1.0) == list(range(100))
    assert synth.spread_subset(3, None, 0.01) == [0]  # never an empty split
    with pytest.raises(synth.SynthError, match="--fraction"):
        synth.generate("unused", fraction=0.0)


def test_fraction_generates_scaled_splits(tmp_path):
    full = {s: len(segs) for s, segs in synth.plan_splits("mosi", 0).items()}
    result = synth.generate(str(tmp_path / "q"), size="mosi", fraction=0.02)
    assert result["fraction"] == 0.02
    assert result["counts"] == {s: max(1, round(0.02 * n)) for s, n in full.items()}


def test_failed_run_leaves_nothing_half_written(tmp_path, monkeypatch):
    real_make = synth.make_segment
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:  # fails inside the valid split, train already written
            raise KeyboardInterrupt
        return real_make(*args, **kwargs)

    monkeypatch.setattr(synth, "make_segment", flaky)
    new = tmp_path / "new"
    with pytest.raises(KeyboardInterrupt):
        synth.generate(str(new), limit_per_split=5)
    assert os.listdir(tmp_path) == []

    monkeypatch.setattr(synth, "make_segment", real_make)
    old = tmp_path / "old"
    synth.generate(str(old), limit_per_split=2)
    before = _files(old)
    calls["n"] = 0
    monkeypatch.setattr(synth, "make_segment", flaky)
    with pytest.raises(KeyboardInterrupt):
        synth.generate(str(old), limit_per_split=5, overwrite=True)
    assert _files(old) == before
    assert sorted(os.listdir(tmp_path)) == ["old"]


# ---------------------------------------------------------------- unaligned


def test_unaligned_segments_have_their_own_frame_rates_and_hit_the_targets():
    plan = synth.plan_splits("mosi")
    ratios = {"audio": [], "video": []}
    for syn in synth.iter_split("train", plan["train"][:300], seed=0, unaligned=True):
        s, words = syn.segment, syn.frame_words
        n = len(s.text)
        for m in ("audio", "video"):
            frames = s.frames(m)
            assert len(words[m]) == len(frames) >= 1
            assert np.all(np.diff(words[m]) >= 0) and words[m].max() <= n - 1  # monotonic
            ratios[m].append(len(frames) / n)
        # f from the written features and the frame-to-word map hits the target
        text_part, cross_part = synth_unaligned.unaligned_sentiment_parts(
            s.text, s.audio, s.video, words, seed=0)
        assert text_part + cross_part == pytest.approx(syn.target, abs=1e-4)
        # a visual cue never lands on an all-zero FACET frame
        zero = ~s.video.any(axis=1)
        assert not np.any(synth_features.video_cue(s.video)[zero])
    for m, per_word in (("audio", 2.0), ("video", 3.0)):
        assert np.median(ratios[m]) == pytest.approx(per_word, rel=0.15), m
        assert np.mean(np.isclose(ratios[m], per_word)) < 0.5  # durations vary


def test_unaligned_data_and_its_reference_rows(tmp_path):
    out = str(tmp_path / "unaligned")
    result = synth.generate(out, size="mosi", seed=0, limit_per_split=300, unaligned=True)
    assert result["aligned"] is False
    refs = result["reference_test_mae"]
    # the known function with proportional alignment is far better than the text alone,
    # and worse than the noise floor (timing is not in the files)
    assert result["test_mae_noise_floor"] < refs["proportional_alignment"] < refs["text_part"]
    assert refs["text_part"] < refs["constant"]
    # with those gates and the word direction learned, worse than knowing it
    assert refs["proportional_alignment"] < refs["learned_word_direction"] < refs["constant"]
    segments = list(contract.read_split(contract.split_path(out, "test")))
    assert any(len(s.audio) != len(s.text) for s in segments)
    again = str(tmp_path / "again")
    synth.generate(again, size="mosi", seed=0, limit_per_split=300, unaligned=True)
    assert _files(out) == _files(again)


# ---------------------------------------------------------------- context


def test_context_function_negates_the_words_after_a_negator():
    plan = synth.plan_splits("mosi")
    negated_cues = cue_words = 0
    for syn in synth.iter_split("train", plan["train"][:300], seed=0, function="context"):
        s = syn.segment
        f = synth_features.sentiment_function(s.text, s.audio, s.video, seed=0,
                                              function="context")
        assert f == pytest.approx(syn.target, abs=1e-4)
        c = s.text.astype(np.float64) @ synth.cue_direction(0)
        negated = synth_features.negated_in_text(s.text, seed=0)
        cues = np.abs(c) > 1e-4
        cue_words += cues.sum()
        negated_cues += (cues & negated).sum()
        # without the negation the same words give another value wherever a cue is negated
        bag = synth_features.sentiment_function(s.text, s.audio, s.video, seed=0)
        if (cues & negated).any():
            assert abs(bag - f) > 1e-3
    assert 0.3 < negated_cues / cue_words < 0.6


def test_context_reference_rows_say_a_bag_of_words_cannot_learn_it(tmp_path):
    result = synth.generate(str(tmp_path / "context"), size="mosi", seed=0, limit_per_split=300,
                            function="context")
    refs = result["reference_test_mae"]
    assert refs["bag_of_words"] > 0.85 * refs["constant"]  # order ignored: close to a constant
    assert refs["text_part"] < 0.5 * refs["constant"]  # the text with its order: most of it
    assert "n_t" in result["function"] and result["function"]["name"] == "context"
    # the default function's files do not change with the option's existence
    plain = synth.generate(str(tmp_path / "gated"), size="mosi", seed=0, limit_per_split=300)
    assert "bag_of_words" not in plain["reference_test_mae"]
