"""Can frames be given to words better than by relative position, without timing?

Usage::

    python -m benchmarks.alignment_estimators --data-root DIR

``DIR`` is built-in unaligned data (``msa-synth --unaligned``; its
``noise_floor.json`` gives the seed and function). The files carry no word
timing, so every model must guess which frames are whose. This script
scores guesses with everything else known: each word's value ``c_t`` from
the known direction ``u``, and a cue detector per frame (the generator's
own). A segment's read-out is ``[1, sum c_t, sum c_t e_t, sum c_t g_t]``,
with ``e_t``/``g_t`` the guessed audio/visual cue of word ``t``, fitted by
least squares on the train split and scored on the test split (as the
``proportional_alignment`` reference row, and as rows 1-2 of
:mod:`benchmarks.alignment_probe`). The guesses, with each frame placed at
its relative time in words (``(j + 0.5) / m * n``):

* ``relative position``: a word has the cue when a frame placed inside it
  shows it (the ``proportional_alignment`` reference row's map);
* ``window K``: ... a frame placed within K words of its centre;
* ``gaussian S``: the share of cue frames, weighted by a Gaussian of S words
  around its centre (a soft alignment of fixed width);
* ``nearest sentiment word K``: each cue frame goes to the nearest word
  with ``c_t != 0`` within K words (only those words' cues count in ``f``).

The lower the test MAE, the better the guess; the noise floor is what the
true frame-to-word map gives.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Callable, Dict

import numpy as np

from msa_data import contract
from msa_data.synth_features import audio_cue, cue_direction, video_cue
from msa_data.synth_unaligned import proportional_words

# A guess: (cue flag of each frame, word count, word values c) -> per-word cue in [0, 1].
Guess = Callable[[np.ndarray, int, np.ndarray], np.ndarray]


def _distance(n_frames: int, n_words: int) -> np.ndarray:
    """``(n_words, n_frames)``: each frame's relative time minus each word's centre, in words."""
    frame_at = (np.arange(n_frames) + 0.5) / max(n_frames, 1) * n_words
    return frame_at[None, :] - (np.arange(n_words) + 0.5)[:, None]


def relative_position(flags, n, c):
    words = proportional_words(len(flags), n)
    return np.bincount(words[flags], minlength=n)[:n] > 0


def window(k: float) -> Guess:
    def guess(flags, n, c):
        return ((np.abs(_distance(len(flags), n)) <= k) & flags[None, :]).any(axis=1) * 1.0
    return guess


def gaussian(width: float) -> Guess:
    def guess(flags, n, c):
        weight = np.exp(-0.5 * (_distance(len(flags), n) / width) ** 2)
        return (weight * flags[None, :]).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-12)
    return guess


def nearest_sentiment_word(k: float) -> Guess:
    def guess(flags, n, c):
        out = np.zeros(n)
        words = np.flatnonzero(np.abs(c) > 1e-6)
        if len(words):
            distance = np.abs(_distance(len(flags), n)[words])  # (sentiment words, frames)
            for j in np.flatnonzero(flags):
                i = int(np.argmin(distance[:, j]))
                if distance[i, j] <= k:
                    out[words[i]] = 1.0
        return out
    return guess


GUESSES: Dict[str, Guess] = {
    "relative position": relative_position,
    **{f"window {k}": window(k) for k in (0.75, 1.0, 1.5)},
    **{f"gaussian {s}": gaussian(s) for s in (0.2, 0.35, 0.5, 0.75, 1.0)},
    **{f"nearest sentiment word {k}": nearest_sentiment_word(k) for k in (0.5, 1.0, 2.0)},
}


def readout_mae(data_root: str, guess: Guess, seed: int) -> float:
    rows = {}
    for split in ("train", "test"):
        values = []
        for s in contract.read_split(contract.split_path(data_root, split)):
            text = np.nan_to_num(np.asarray(s.text, dtype=np.float64))
            n = len(text)
            c = text @ cue_direction(seed, text.shape[1])
            e = guess(audio_cue(np.nan_to_num(s.audio)), n, c)
            g = guess(video_cue(s.video), n, c)
            values.append([1.0, c.sum(), (c * e).sum(), (c * g).sum(), s.label])
        rows[split] = np.asarray(values)
    coef = np.linalg.lstsq(rows["train"][:, :4], rows["train"][:, 4], rcond=None)[0]
    return float(np.mean(np.abs(rows["test"][:, :4] @ coef - rows["test"][:, 4])))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", required=True, help="msa-synth --unaligned output")
    args = p.parse_args(argv)
    floor_path = os.path.join(args.data_root, "noise_floor.json")
    if not os.path.exists(floor_path):
        raise SystemExit(f"alignment_estimators: --data-root {args.data_root}: no "
                         f"noise_floor.json; expected the output of msa-synth --unaligned")
    with open(floor_path, encoding="utf-8") as f:
        floor = json.load(f)
    if floor.get("aligned", True) or floor["function"]["name"] != "gated":
        raise SystemExit(f"alignment_estimators: --data-root {args.data_root}: expected "
                         f"unaligned data of the default function (msa-synth --unaligned)")
    print(f"noise floor (the true frame-to-word map): {floor['test_mae_noise_floor']:.4f}")
    for name, guess in GUESSES.items():
        print(f"{name:<28} test MAE {readout_mae(args.data_root, guess, floor['seed']):.4f}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
