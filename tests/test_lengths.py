"""Sequence lengths chosen from the train split, and what they cut (msa_data/lengths.py)."""

from __future__ import annotations

import io

import numpy as np

from msa_data import lengths
from pipeline import local_run
from trainer.core.config import TrainerConfig


def _counts(rng):
    # Word-aligned text (like the built-in data) and audio/video at ~2 and ~3 frames a word.
    text = np.clip(np.rint(rng.lognormal(np.log(10), 0.7, 2000)), 1, 70).astype(int)
    return {"text": text, "audio": 2 * text + rng.integers(0, 3, 2000),
            "video": 3 * text + rng.integers(0, 4, 2000)}


def test_lengths_are_the_99th_percentile_rounded_up_to_10(rng):
    counts = _counts(rng)
    chosen = lengths.choose_lengths(counts)
    for m, values in counts.items():
        q = np.quantile(values, 0.99)
        assert chosen[m] % 10 == 0 and q <= chosen[m] < q + 10, (m, q, chosen[m])
        assert np.mean(values > chosen[m]) <= 0.01
    assert lengths.choose_lengths({m: [3, 4] for m in counts}) == {m: 10 for m in counts}
    assert lengths.choose_lengths({m: [2000] * 5 for m in counts})["video"] == lengths.CAP


def test_cut_shares_count_the_frames_beyond_the_length():
    counts = {"text": [10, 30], "audio": [5, 5], "video": [0, 0]}
    shares = lengths.cut_shares(counts, {"text": 20, "audio": 50, "video": 50})
    assert shares == {"text": 10 / 40, "audio": 0.0, "video": 0.0}


def test_the_runner_chooses_lengths_from_the_data_and_says_what_they_cut(rng):
    counts = _counts(rng)
    console = io.StringIO()
    config = local_run.sequence_lengths(TrainerConfig(), counts, given=None, console=console)
    assert config.max_lens == lengths.choose_lengths(counts)
    (line,) = console.getvalue().splitlines()
    assert line.startswith("sequence lengths (the train split's 99th percentile, rounded up to "
                           "10): text ")
    assert "frames cut in the train split: text 0." in line and "warning" not in line


def test_given_lengths_that_cut_much_get_one_warning_line(rng):
    counts = _counts(rng)
    console = io.StringIO()
    config = TrainerConfig(max_lens={"text": 50, "audio": 50, "video": 50})
    kept = local_run.sequence_lengths(config, counts, given="--max-len", console=console)
    assert kept.max_lens == config.max_lens  # --max-len wins
    lines = console.getvalue().splitlines()
    assert lines[0].startswith("sequence lengths (--max-len): text 50, audio 50, video 50")
    shares = lengths.cut_shares(counts, config.max_lens)
    assert shares["video"] > shares["audio"] > lengths.WARN_CUT_SHARE > shares["text"]
    (warning,) = lines[1:]
    assert warning.startswith("warning: the sequence lengths cut ")
    assert f"{100 * shares['audio']:.1f}% of the audio frames (beyond 50)" in warning
    assert "video frames" in warning and "text frames" not in warning
    assert "raise --max-len" in warning


def test_the_seed_preset_keeps_its_lengths_and_source_runs_choose_them_inside(rng):
    console = io.StringIO()
    seed = TrainerConfig.from_preset("seed")
    kept = local_run.sequence_lengths(seed, _counts(rng), "the seed preset", console)
    assert kept.max_lens == seed.max_lens
    assert "(the seed preset): text 20, audio 20, video 20" in console.getvalue()
    # --source: the data is read inside the pipeline, where SequenceLengths chooses
    console = io.StringIO()
    local_run.sequence_lengths(TrainerConfig(), None, None, console)
    assert console.getvalue() == local_run.RUN_TIME_LENGTHS + "\n"
    console = io.StringIO()
    local_run.sequence_lengths(TrainerConfig(), None, "--max-len", console)
    assert console.getvalue().startswith("sequence lengths (--max-len): text 50, audio 50, ")
    assert "share of frames they cut is not known here" in console.getvalue()


def test_quantile_histograms_give_the_quantile_and_the_frames_cut():
    uniform = [(i, i + 1, 10) for i in range(100)]  # frame counts uniform on [0, 100]
    assert lengths.quantile_of_buckets(uniform, 0.99) == 99.0
    assert lengths.quantile_of_buckets(uniform, 0.5) == 50.0
    # frames beyond 50: the integral of (x - 50) over [50, 100] / that of x over [0, 100]
    assert abs(lengths.cut_share_of_buckets(uniform, 50) - 0.25) < 1e-12
    assert lengths.cut_share_of_buckets(uniform, 100) == 0.0
    assert lengths.quantile_of_buckets([], 0.99) == 0.0
    assert lengths.cut_share_of_buckets([], 10) == 0.0


def test_statistics_give_the_lengths_the_data_would(rng, tmp_path):
    """On a compiled pipeline SequenceLengths applies the rule to real TFDV statistics."""
    import tensorflow as tf
    import tensorflow_data_validation as tfdv

    from components import sequence_lengths
    from msa_data import contract

    counts = _counts(rng)
    records = str(tmp_path / "train.tfrecord")
    with tf.io.TFRecordWriter(records) as writer:
        for row in zip(*(counts[m] for m in contract.MODALITIES)):
            example = tf.train.Example()
            for m, n in zip(contract.MODALITIES, row):
                example.features.feature[contract.length_key(m)].int64_list.value.append(int(n))
            writer.write(example.SerializeToString())
    stats = tfdv.generate_statistics_from_tfrecord(records, stats_options=tfdv.StatsOptions(
        num_quantiles_histogram_buckets=sequence_lengths.QUANTILE_BUCKETS))
    stats_path = str(tmp_path / "FeatureStats.pb")  # as StatisticsGen writes it
    with open(stats_path, "wb") as f:
        f.write(stats.SerializeToString())

    max_lens, shares = sequence_lengths.choose_from_statistics(stats_path)
    exact = lengths.cut_shares(counts, max_lens)
    buckets = sequence_lengths.length_buckets(stats_path)
    for m in contract.MODALITIES:
        estimated = lengths.quantile_of_buckets(buckets[m])
        assert abs(estimated - np.quantile(counts[m], lengths.QUANTILE)) <= 2, m
        assert max_lens[m] == lengths.length_for(estimated)
        assert abs(shares[m] - exact[m]) < 0.005, (m, shares[m], exact[m])
    # a file without the length features is one line naming it
    other = tmp_path / "other.pb"
    other.write_bytes(b"")
    try:
        sequence_lengths.length_buckets(str(other))
    except sequence_lengths.SequenceLengthsError as err:
        assert str(other) in str(err) and "text_len" in str(err)
    else:
        raise AssertionError("statistics without length histograms were accepted")
