"""benchmarks.alignment_estimators: guesses of which frames are whose, scored with the rest known."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import alignment_estimators as est
from msa_data import synth


@pytest.fixture(scope="module")
def unaligned(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("est") / "unaligned")
    synth.generate(out, size="mosi", seed=0, limit_per_split=250, unaligned=True)
    return out


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


def test_a_blurrier_guess_scores_worse(unaligned):
    sharp = est.readout_mae(unaligned, est.relative_position, seed=0)
    blurred = est.readout_mae(unaligned, est.window(1.5), seed=0)
    assert sharp < blurred


def test_refuses_word_aligned_data(tmp_path, capsys):
    aligned = str(tmp_path / "aligned")
    synth.generate(aligned, size="mosi", seed=0, limit_per_split=20)
    with pytest.raises(SystemExit, match="--data-root .*expected unaligned data"):
        est.main(["--data-root", aligned])
