"""benchmarks.alignment_estimators: guesses of which frames are whose, scored with the rest known."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import alignment_estimators as est
from msa_data import synth


@pytest.fixture(scope="module")
def unaligned(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("est") / "unaligned")
    result = synth.generate(out, size="mosi", seed=0, limit_per_split=250, unaligned=True)
    return out, result


def test_guesses_place_frames_by_relative_time():
    flags = np.array([False, False, True, True, False, False])  # 6 frames over 3 words
    c = np.array([0.0, 1.0, 0.0])
    assert est.relative_position(flags, 3, c).tolist() == [False, True, False]
    # a window of 1 word around each centre reaches the neighbours' frames too
    assert est.window(1.0)(flags, 3, c).tolist() == [1.0, 1.0, 1.0]
    assert est.gaussian(0.05)(flags, 3, c) == pytest.approx([0.0, 1.0, 0.0], abs=1e-6)
    # only sentiment words (c != 0) get a cue; the flagged frames are word 1's
    assert est.nearest_sentiment_word(0.5)(flags, 3, c).tolist() == [0.0, 1.0, 0.0]
    assert est.nearest_sentiment_word(0.5)(flags, 3, np.zeros(3)).tolist() == [0.0] * 3


def test_guesses_rank_as_their_alignment_is_good(unaligned):
    out, result = unaligned
    sharp = est.guess_maes(out, est.relative_position, seed=0)
    blurred = est.guess_maes(out, est.window(1.5), seed=0)
    posterior = est.guess_maes(out, est.duration_posterior, seed=0)
    assert posterior[0] < sharp[0] < blurred[0]
    # the learned-direction column with relative position is the reference row itself
    assert sharp[1] == pytest.approx(result["reference_test_mae"]["learned_word_direction"],
                                     rel=1e-9)


def test_duration_posterior_gives_a_cue_run_to_the_word_it_fits():
    c = np.array([0.0, 1.0, 0.0])
    # frames 2-3 flagged: only word 1 can own both (a word's frames all show its cue or none)
    flags = np.array([False, False, True, True, False, False])
    assert est.duration_posterior(flags, 3, c, "audio") == pytest.approx([0, 1, 0], abs=1e-9)
    # no cue frame: no word has the cue
    assert est.duration_posterior(np.zeros(6, bool), 3, c, "audio") == pytest.approx([0, 0, 0])


def test_refuses_word_aligned_data(tmp_path, capsys):
    aligned = str(tmp_path / "aligned")
    synth.generate(aligned, size="mosi", seed=0, limit_per_split=20)
    with pytest.raises(SystemExit, match="--data-root .*expected unaligned data"):
        est.main(["--data-root", aligned])


def test_refuses_a_folder_without_its_split_files(tmp_path, unaligned):
    out, _ = unaligned
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "noise_floor.json").write_bytes(open(f"{out}/noise_floor.json", "rb").read())
    with pytest.raises(SystemExit, match="--data-root .*no train, valid, test split files"):
        est.main(["--data-root", str(partial)])
