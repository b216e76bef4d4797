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
  with ``c_t != 0`` within K words (only those words' cues count in ``f``);
* ``posterior over word durations``: each word's posterior probability of
  the cue under the generator's own model (:func:`duration_posterior`).

A second column gives each guess's gates ``1 + e_t + g_t`` to a word score
whose direction is learned by ridge (the ``learned_word_direction``
reference row, which uses relative position). The lower the test MAE, the
better the guess; the noise floor is what the true frame-to-word map gives.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from typing import Callable, Dict, Tuple

import numpy as np

from msa_data import contract
from msa_data.synth_features import (
    CUE_WORD_AUDIO_P,
    CUE_WORD_VIDEO_P,
    DISTRACTOR_CUE_P,
    audio_cue,
    cue_direction,
    video_cue,
)
from msa_data.synth_reference import ridge_test_mae
from msa_data.synth_unaligned import (
    FRAME_RATES,
    WORD_DURATION_LOG_SD,
    proportional_words,
)

# A guess: (cue flag of each frame, word count, word values c, modality) -> per-word cue in [0, 1].
Guess = Callable[[np.ndarray, int, np.ndarray, str], np.ndarray]
CUE_WORD_P = {"audio": CUE_WORD_AUDIO_P, "video": CUE_WORD_VIDEO_P}


def _distance(n_frames: int, n_words: int) -> np.ndarray:
    """``(n_words, n_frames)``: each frame's relative time minus each word's centre, in words."""
    frame_at = (np.arange(n_frames) + 0.5) / max(n_frames, 1) * n_words
    return frame_at[None, :] - (np.arange(n_words) + 0.5)[:, None]


def relative_position(flags, n, c, modality=None):
    words = proportional_words(len(flags), n)
    return np.bincount(words[flags], minlength=n)[:n] > 0


def window(k: float) -> Guess:
    def guess(flags, n, c, modality=None):
        return ((np.abs(_distance(len(flags), n)) <= k) & flags[None, :]).any(axis=1) * 1.0
    return guess


def gaussian(width: float) -> Guess:
    def guess(flags, n, c, modality=None):
        weight = np.exp(-0.5 * (_distance(len(flags), n) / width) ** 2)
        return (weight * flags[None, :]).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-12)
    return guess


def nearest_sentiment_word(k: float) -> Guess:
    def guess(flags, n, c, modality=None):
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


@functools.lru_cache(maxsize=None)
def frames_per_word(modality: str, max_frames: int = 40) -> np.ndarray:
    """P(a word has k frames), k = 0..max_frames: the generator's durations at a random phase."""
    rng = np.random.default_rng(0)
    duration = rng.lognormal(0.0, WORD_DURATION_LOG_SD, 400_000)
    counts = np.floor(duration * FRAME_RATES[modality] + rng.random(duration.size)).astype(int)
    return np.bincount(np.minimum(counts, max_frames), minlength=max_frames + 1) / counts.size


def duration_posterior(flags, n, c, modality):
    """P(word t shows the cue) under the generator's own model of word durations.

    An explicit-duration hidden semi-Markov model over the words, in order:
    word ``t`` takes ``k`` frames with the generator's probability
    (:func:`frames_per_word`, each word independent), all its frames show
    the cue or none do, and it carries the cue with the generator's prior
    (higher at sentiment words, ``c_t != 0``). Forward-backward over the
    frames gives each word's posterior: the best guess this generator
    allows from one modality's frames alone.
    """
    m = len(flags)
    pmf = frames_per_word(modality)
    prior = np.where(np.abs(c) > 1e-6, CUE_WORD_P[modality], DISTRACTOR_CUE_P)
    flagged = np.concatenate([[0], np.cumsum(flags)])

    def likelihood(t, k):  # (m + 1 - k,): word t over frames [a, a + k), for each start a
        hits = flagged[k:] - flagged[:m + 1 - k]
        if k == 0:
            return np.ones(m + 1)
        return np.where(hits == k, prior[t], 0.0) + np.where(hits == 0, 1.0 - prior[t], 0.0)

    ks = range(min(len(pmf), m + 1))
    forward = np.zeros((n + 1, m + 1))
    forward[0, 0] = 1.0
    for t in range(n):
        for k in ks:
            forward[t + 1, k:] += forward[t, :m + 1 - k] * pmf[k] * likelihood(t, k)
        forward[t + 1] /= max(forward[t + 1].sum(), 1e-300)
    backward = np.zeros((n + 1, m + 1))
    backward[n, m] = 1.0
    out = np.zeros(n)
    for t in range(n - 1, -1, -1):
        cue = total = 0.0
        for k in ks:
            term = pmf[k] * likelihood(t, k) * backward[t + 1, k:]
            backward[t, :m + 1 - k] += term
            joint = forward[t, :m + 1 - k] * term
            total += joint.sum()
            if k > 0:
                shown = (flagged[k:] - flagged[:m + 1 - k]) == k
                cue += joint[shown].sum()
        backward[t] /= max(backward[t].sum(), 1e-300)
        out[t] = cue / total if total > 0 else 0.0
    return out


GUESSES: Dict[str, Guess] = {
    "relative position": relative_position,
    **{f"window {k}": window(k) for k in (0.75, 1.0, 1.5)},
    **{f"gaussian {s}": gaussian(s) for s in (0.2, 0.35, 0.5, 0.75, 1.0)},
    **{f"nearest sentiment word {k}": nearest_sentiment_word(k) for k in (0.5, 1.0, 2.0)},
    "posterior over word durations": duration_posterior,
}


def guess_maes(data_root: str, guess: Guess, seed: int) -> Tuple[float, float]:
    """``(known word values, learned word direction)`` test MAEs with ``guess``'s cues.

    The first reads the guess out with the known ``c_t`` (``[1, sum c_t, sum
    c_t e_t, sum c_t g_t]``, least squares); the second gives the known gate
    ``1 + e_t + g_t`` and learns the word direction by ridge, as the
    ``learned_word_direction`` reference row does with relative position.
    """
    readout, weighted = {}, {}
    for split in contract.SPLITS:
        values, words = [], []
        for s in contract.read_split(contract.split_path(data_root, split)):
            text = np.nan_to_num(np.asarray(s.text, dtype=np.float64))
            n = len(text)
            c = text @ cue_direction(seed, text.shape[1])
            e = guess(audio_cue(np.nan_to_num(s.audio)), n, c, "audio")
            g = guess(video_cue(s.video), n, c, "video")
            values.append([1.0, c.sum(), (c * e).sum(), (c * g).sum(), s.label])
            words.append((1.0 + e + g) @ text)
        readout[split] = np.asarray(values)
        weighted[split] = (np.asarray(words), readout[split][:, 4])
    train, test = readout["train"], readout["test"]
    coef = np.linalg.lstsq(train[:, :4], train[:, 4], rcond=None)[0]
    known = float(np.mean(np.abs(test[:, :4] @ coef - test[:, 4])))
    return known, ridge_test_mae(weighted)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", required=True, help="msa-synth --unaligned output")
    args = p.parse_args(argv)
    floor_path = os.path.join(args.data_root, "noise_floor.json")
    if not os.path.exists(floor_path):
        raise SystemExit(f"alignment_estimators: --data-root {args.data_root}: no "
                         f"noise_floor.json; expected the output of msa-synth --unaligned")
    missing = contract.missing_splits(args.data_root, contract.SPLITS)
    if missing:
        raise SystemExit(f"alignment_estimators: --data-root {args.data_root}: no "
                         f"{', '.join(missing)} split files; expected "
                         f"{contract.split_pattern('train')} and the others")
    with open(floor_path, encoding="utf-8") as f:
        floor = json.load(f)
    if floor.get("aligned", True) or floor["function"]["name"] != "gated":
        raise SystemExit(f"alignment_estimators: --data-root {args.data_root}: expected "
                         f"unaligned data of the default function (msa-synth --unaligned)")
    print(f"noise floor (the true frame-to-word map): {floor['test_mae_noise_floor']:.4f}")
    print(f"{'guess':<30} {'known c_t':>10} {'learned u':>10}   (test MAE)")
    for name, guess in GUESSES.items():
        known, learned = guess_maes(args.data_root, guess, floor["seed"])
        print(f"{name:<30} {known:>10.4f} {learned:>10.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
