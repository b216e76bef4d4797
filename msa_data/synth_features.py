"""The known sentiment function and the features generated to hit it.

Part of :mod:`msa_data.synth` (see its docstring for ``f(x)`` and the nuisances).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Mapping, Optional, Tuple

import numpy as np

from msa_data import contract
from msa_data.synth_plan import _TAG_DIRECTION, _TAG_SEGMENT, PlannedSegment

DATASET_NAME = "synthetic"
DEFAULT_SIGMA = 0.25

# Where the cues live.
AUDIO_CUE_DIMS = (0, 1, 2, 3)
VIDEO_CUE_DIMS = (0, 1, 2)
CUE_THRESHOLD = 1.0
CUE_ON = 2.0
# COVAREP-like dims that are sometimes undefined (-inf / NaN).
AUDIO_UNDEFINED_DIMS = (70, 71, 72, 73)

# Generator knobs.
LENGTH_MEDIAN = 10.0
LENGTH_LOG_SD = 0.7
LENGTH_MIN, LENGTH_MAX = 1, 70
CUE_WINDOW = 50  # cue words land in the first CUE_WINDOW steps ...
CUE_OUTSIDE_WINDOW_P = 0.15  # ... except with this probability (long segments)
CUE_WORD_AUDIO_P = 0.5  # P(e=1) at a cue word
CUE_WORD_VIDEO_P = 0.5  # P(g=1) at a cue word
DISTRACTOR_CUE_P = 0.1  # P(e=1) / P(g=1) at a non-cue word
ZERO_VIDEO_FRAME_P = 0.05
UNDEFINED_AUDIO_FRAME_P = 0.01
WORD_NOISE_SD = 0.4
# --function context: negator words (a component NEGATOR_ON along a second
# text direction v) flip the sentiment of the NEGATION_SCOPE words after them.
NEGATOR_ON = 2.0
NEGATOR_THRESHOLD = 1.0
NEGATION_SCOPE = 2
NEGATED_CUE_P = 0.5  # P(a negator just before a cue word)
DISTRACTOR_NEGATOR_P = 0.05  # P(a negator) at any other word

# Sentiment functions: f = sum_t c_t * w(e_t, g_t), w the cross-modal weight of
# a word. ``context`` multiplies it by n_t = -1 for a word within
# NEGATION_SCOPE words after a negator word, else 1: the text's sequence
# matters, not only its words (a bag of words cannot tell "good" from "not good"). ``gated`` (the default) makes cues amplify a word; ``flip`` makes
# the audio cue decide the word's sign, so the text alone says almost nothing
# about the label (a second cross-modal task, to check that a model learns
# the interaction rather than this generator's constants). w is never 0, so
# the generator can always solve for the cue-word values.
FUNCTIONS = {
    "gated": "1 + e_t + g_t",
    "flip": "(2 e_t - 1) * (1 + g_t)",
    "context": "(1 + e_t + g_t) * n_t",
}
DEFAULT_FUNCTION = "gated"


def cross_weight(e: np.ndarray, g: np.ndarray, function: str = DEFAULT_FUNCTION,
                 negated=None) -> np.ndarray:
    """``w(e_t, g_t)`` of :data:`FUNCTIONS` (float64) for bool cue arrays.

    ``negated`` (``context`` only): bool, the word is in a negator's scope.
    """
    e = np.asarray(e, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if function == "gated":
        return 1.0 + e + g
    if function == "flip":
        return (2.0 * e - 1.0) * (1.0 + g)
    if function == "context":
        return (1.0 + e + g) * text_sign(negated, e.shape)
    raise ValueError(f"function: expected one of {sorted(FUNCTIONS)}, got {function!r}")


def text_sign(negated, shape) -> np.ndarray:
    """``n_t``: -1 for a word in a negator's scope, else 1."""
    if negated is None:
        return np.ones(shape)
    return np.where(np.asarray(negated, dtype=bool), -1.0, 1.0)


def negated_steps(negators: np.ndarray) -> np.ndarray:
    """Whether a negator is among the NEGATION_SCOPE words before each word."""
    negators = np.asarray(negators, dtype=bool)
    out = np.zeros(negators.shape, dtype=bool)
    for offset in range(1, NEGATION_SCOPE + 1):
        out[offset:] |= negators[:-offset]
    return out


# --------------------------------------------------------------------------
# The sentiment function


def _check_dims(dims: Mapping[str, int]) -> None:
    if dims["audio"] <= max(AUDIO_CUE_DIMS + AUDIO_UNDEFINED_DIMS):
        raise ValueError(f"audio dim {dims['audio']} too small for the cue/undefined dims")
    if dims["video"] <= max(VIDEO_CUE_DIMS):
        raise ValueError(f"video dim {dims['video']} too small for the cue dims")


@functools.lru_cache(maxsize=32)
def _cue_direction(seed: int, dim: int) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _TAG_DIRECTION])))
    u = rng.standard_normal(dim)
    u /= np.linalg.norm(u)
    u.setflags(write=False)
    return u


@functools.lru_cache(maxsize=32)
def _negator_direction(seed: int, dim: int) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _TAG_DIRECTION, 1])))
    u = _cue_direction(seed, dim)
    v = rng.standard_normal(dim)
    v -= (v @ u) * u
    v /= np.linalg.norm(v)
    v.setflags(write=False)
    return v


def negator_direction(seed: int = 0, dim: int = contract.DEFAULT_DIMS["text"]) -> np.ndarray:
    """The unit vector ``v`` (orthogonal to ``u``) along which negator words lie."""
    return _negator_direction(int(seed), int(dim))


def negated_in_text(text: np.ndarray, seed: int = 0) -> np.ndarray:
    """``context``: which words of ``(len, dim)`` text are in a negator's scope."""
    text = np.asarray(text, dtype=np.float64)
    negators = text @ negator_direction(seed, text.shape[1]) > NEGATOR_THRESHOLD
    return negated_steps(negators)


def cue_direction(seed: int = 0, dim: int = contract.DEFAULT_DIMS["text"]) -> np.ndarray:
    """The unit vector ``u`` (float64, read-only) whose projection is ``c_t``."""
    return _cue_direction(int(seed), int(dim))


def audio_cue(audio: np.ndarray) -> np.ndarray:
    """``e_t`` as a bool ``(len,)`` array from ``(len, audio_dim)`` frames."""
    audio = np.asarray(audio)
    return audio[:, list(AUDIO_CUE_DIMS)].astype(np.float64).mean(axis=1) > CUE_THRESHOLD


def video_cue(video: np.ndarray) -> np.ndarray:
    """``g_t`` as a bool ``(len,)`` array from ``(len, video_dim)`` frames."""
    video = np.asarray(video)
    return video[:, list(VIDEO_CUE_DIMS)].astype(np.float64).mean(axis=1) > CUE_THRESHOLD


def sentiment_parts(
    text: np.ndarray, audio: np.ndarray, video: np.ndarray, seed: int = 0,
    function: str = DEFAULT_FUNCTION,
) -> Tuple[float, float]:
    """``(text_part, cross_part)`` of one segment's ``(len, dim)`` arrays.

    ``text_part = sum_t c_t n_t`` (``n_t`` = 1 but for ``context``'s negated
    words); ``cross_part = sum_t c_t * (w_t - n_t)``, so the two add up to ``f``.
    """
    text = np.asarray(text, dtype=np.float64)
    n = text.shape[0]
    if np.shape(audio)[0] != n or np.shape(video)[0] != n:
        raise ValueError(
            f"unaligned segment: text/audio/video lengths "
            f"{n}/{np.shape(audio)[0]}/{np.shape(video)[0]}"
        )
    c = text @ cue_direction(seed, text.shape[1])
    negated = negated_in_text(text, seed) if function == "context" else None
    weight = cross_weight(audio_cue(audio), video_cue(video), function, negated)
    sign = text_sign(negated, c.shape)
    return float((c * sign).sum()), float((c * (weight - sign)).sum())


def word_weights(text: np.ndarray, audio: np.ndarray, video: np.ndarray, seed: int = 0,
                 function: str = DEFAULT_FUNCTION) -> np.ndarray:
    """``w(e_t, g_t)`` (with ``n_t`` for ``context``) of each word of a word-aligned segment.

    Read from the written features: the known gates, for the reference row
    that must learn only the word's sentiment direction.
    """
    negated = negated_in_text(text, seed) if function == "context" else None
    return cross_weight(audio_cue(audio), video_cue(video), function, negated)


def sentiment_function(
    text: np.ndarray, audio: np.ndarray, video: np.ndarray, seed: int = 0,
    function: str = DEFAULT_FUNCTION,
) -> float:
    """``f(x) = sum_t c_t * w(e_t, g_t)`` recomputed from stored features.

    ``seed`` is the generation seed (it fixes ``u``) and ``function`` one of
    :data:`FUNCTIONS` (default ``w = 1 + e_t + g_t``); both are recorded in
    ``noise_floor.json``.
    """
    text_part, cross_part = sentiment_parts(text, audio, video, seed, function)
    return text_part + cross_part


# --------------------------------------------------------------------------
# Features


@dataclasses.dataclass(frozen=True)
class SyntheticSegment:
    """A generated segment plus what went into it (for checks)."""

    segment: contract.Segment
    target: float  # f(x) the generator solved for (float64, = label - eps)
    eps: float
    # Unaligned data only: {"audio"|"video": word index of each frame}.
    frame_words: Optional[Mapping[str, np.ndarray]] = None


def _segment_rng(seed: int, split: str, position: int) -> np.random.Generator:
    entropy = [seed, _TAG_SEGMENT, contract.SPLITS.index(split), position]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def plan_words(rng: np.random.Generator):
    """``(length, cue-word positions, e, g)``: a segment's words and their cue flags."""
    length = int(np.clip(np.rint(rng.lognormal(math.log(LENGTH_MEDIAN), LENGTH_LOG_SD)),
                         LENGTH_MIN, LENGTH_MAX))
    n_cue = min(int(rng.integers(1, 4)), length)
    window = length
    if length > CUE_WINDOW and rng.random() >= CUE_OUTSIDE_WINDOW_P:
        window = CUE_WINDOW
    pos = rng.choice(window, size=n_cue, replace=False)

    # Cue flags: distractors everywhere, denser at the cue words.
    e = rng.random(length) < DISTRACTOR_CUE_P
    g = rng.random(length) < DISTRACTOR_CUE_P
    e[pos] = rng.random(n_cue) < CUE_WORD_AUDIO_P
    g[pos] = rng.random(n_cue) < CUE_WORD_VIDEO_P
    return length, pos, e, g


def _place_negators(rng, pos, length: int) -> np.ndarray:
    """``context``: negators just before about half the cue words, and a few elsewhere."""
    negators = rng.random(length) < DISTRACTOR_NEGATOR_P
    negators[pos] = False
    for p in pos:
        q = int(p) - int(rng.integers(1, NEGATION_SCOPE + 1))
        if rng.random() < NEGATED_CUE_P and q >= 0 and q not in pos:
            negators[q] = True
    return negators


def text_hitting_target(rng, pos, e, g, target: float, length: int, u: np.ndarray, text_dim: int,
                     function: str, seed: int = 0):
    """``(text frames, c)``: the cue-word values solved so ``f`` hits ``target``, as words."""
    negators = negated = None
    if function == "context":
        negators = _place_negators(rng, pos, length)
        negated = negated_steps(negators)
    # Solve for the cue-word values: sum_i c_i w(e_i, g_i) = target.
    shares = rng.dirichlet(np.full(len(pos), 2.0)) * target
    c = np.zeros(length)
    c[pos] = shares / cross_weight(e[pos], g[pos], function,
                                   None if negated is None else negated[pos])

    # Text: noise orthogonal to u, plus c_t * u (and, for context, negators along v).
    words = rng.normal(0.0, WORD_NOISE_SD, (length, text_dim))
    words -= np.outer(words @ u, u)
    if negators is not None:
        v = negator_direction(seed, text_dim)
        words -= np.outer(words @ v, v)
        words += np.outer(negators * NEGATOR_ON, v)
    words += np.outer(c, u)
    return words, c


def render_frames(rng, words_of_frame: np.ndarray, cue: np.ndarray, dim: int, cue_dims
                  ) -> np.ndarray:
    """Noise frames whose cue dims show the cue of each frame's word (about CUE_ON or 0)."""
    frames = rng.standard_normal((len(words_of_frame), dim))
    noise = np.clip(rng.normal(0.0, 0.1, (len(words_of_frame), len(cue_dims))), -0.3, 0.3)
    frames[:, list(cue_dims)] = np.where(cue[words_of_frame][:, None], CUE_ON, 0.0) + noise
    return frames


def make_segment(
    planned: PlannedSegment,
    rng: np.random.Generator,
    u: np.ndarray,
    sigma: float = DEFAULT_SIGMA,
    dims: Mapping[str, int] = contract.DEFAULT_DIMS,
    function: str = DEFAULT_FUNCTION,
    seed: int = 0,
) -> SyntheticSegment:
    """Features for one planned segment; ``f(features) == label - eps``."""
    label = float(np.float32(planned.label))  # what the float label feature stores
    eps = float(rng.normal(0.0, sigma)) if sigma > 0 else 0.0
    target = label - eps

    length, pos, e, g = plan_words(rng)
    zero_video = rng.random(length) < ZERO_VIDEO_FRAME_P
    g &= ~zero_video  # a zeroed FACET frame carries no visual cue
    words, c = text_hitting_target(rng, pos, e, g, target, length, u, dims["text"], function,
                                   seed)

    # Audio: COVAREP-ish noise, emphasis cue, undefined values.
    audio = render_frames(rng, np.arange(length), e, dims["audio"], AUDIO_CUE_DIMS)
    undefined = rng.random(length) < UNDEFINED_AUDIO_FRAME_P
    kind = rng.random(length) < 0.5
    if undefined.any():
        bad = np.where(kind[undefined], -np.inf, np.nan)[:, None]
        rows = np.flatnonzero(undefined)
        audio[np.ix_(rows, list(AUDIO_UNDEFINED_DIMS))] = bad

    # Video: FACET-ish evidence, visual cue, all-zero frames.
    video = render_frames(rng, np.arange(length), g, dims["video"], VIDEO_CUE_DIMS)
    video[zero_video] = 0.0

    segment = contract.Segment(
        segment_id=planned.segment_id,
        video_id=planned.video_id,
        dataset=DATASET_NAME,
        label=label,
        text=words.astype(np.float32),
        audio=audio.astype(np.float32),
        video=video.astype(np.float32),
    )
    return SyntheticSegment(segment=segment, target=target, eps=eps)
