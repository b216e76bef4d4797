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
    config = local_run.sequence_lengths(TrainerConfig(), counts, given=False, console=console)
    assert config.max_lens == lengths.choose_lengths(counts)
    (line,) = console.getvalue().splitlines()
    assert line.startswith("sequence lengths (the train split's 99th percentile, rounded up to "
                           "10): text ")
    assert "frames cut in the train split: text 0." in line and "warning" not in line


def test_given_lengths_that_cut_much_get_one_warning_line(rng):
    counts = _counts(rng)
    console = io.StringIO()
    config = TrainerConfig(max_lens={"text": 50, "audio": 50, "video": 50})
    kept = local_run.sequence_lengths(config, counts, given=True, console=console)
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


def test_the_seed_preset_keeps_its_lengths_and_source_runs_say_why_not_chosen(rng):
    console = io.StringIO()
    seed = TrainerConfig.from_preset("seed")
    assert local_run.sequence_lengths(seed, _counts(rng), True, console).max_lens == seed.max_lens
    assert "(the seed preset): text 20, audio 20, video 20" in console.getvalue()
    console = io.StringIO()
    local_run.sequence_lengths(TrainerConfig(), None, False, console)
    assert "not chosen from the data" in console.getvalue()
