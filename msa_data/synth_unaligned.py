"""Unaligned built-in data: audio and video at their own frame rates.

Part of :mod:`msa_data.synth` (``msa-synth --unaligned``). The sentiment
function is the aligned one, ``f = sum_t c_t * w(e_t, g_t)`` over the words
``t``, but the audio and video are no longer one frame per word. Each word
lasts a random time (lognormal around the median word, log-sd
:data:`WORD_DURATION_LOG_SD`: a third of the words are under 0.6 or over 1.6
median words); audio is sampled at
:data:`AUDIO_FRAMES_PER_WORD` frames per median word and video at
:data:`VIDEO_FRAMES_PER_WORD`, each frame at its own time. A frame belongs
to the word being spoken at that time, and shows that word's cue:

* ``e_t`` is 1 when word ``t`` carries the audio cue *and* has at least one
  audio frame (a word shorter than a frame may have none); the same for
  ``g_t`` and video;
* all-zero FACET frames fall only on frames of words without a visual cue.

The data files carry no timing, as real unaligned features do not: which
frames belong to which word must be learned. The generator keeps the
frame-to-word map (:attr:`SyntheticSegment.frame_words`) to measure the noise
floor from the written features.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Tuple

import numpy as np

from msa_data import contract
from msa_data.synth_features import (
    AUDIO_CUE_DIMS,
    AUDIO_UNDEFINED_DIMS,
    DATASET_NAME,
    DEFAULT_FUNCTION,
    DEFAULT_SIGMA,
    UNDEFINED_AUDIO_FRAME_P,
    VIDEO_CUE_DIMS,
    ZERO_VIDEO_FRAME_P,
    SyntheticSegment,
    audio_cue,
    cross_weight,
    cue_direction,
    negated_in_text,
    plan_words,
    render_frames,
    text_hitting_target,
    text_sign,
    video_cue,
)
from msa_data.synth_plan import PlannedSegment

AUDIO_FRAMES_PER_WORD = 2.0
VIDEO_FRAMES_PER_WORD = 3.0
# Word durations, in units of the median word: lognormal with this log-sd.
WORD_DURATION_LOG_SD = 0.5
FRAME_RATES = {"audio": AUDIO_FRAMES_PER_WORD, "video": VIDEO_FRAMES_PER_WORD}


def frame_words(rng: np.random.Generator, n_words: int) -> Dict[str, np.ndarray]:
    """``{modality: word index of each frame}`` for audio and video (int64, non-decreasing)."""
    ends = np.cumsum(rng.lognormal(0.0, WORD_DURATION_LOG_SD, n_words))
    out = {}
    for modality, rate in FRAME_RATES.items():
        n = max(1, int(math.ceil(ends[-1] * rate)))
        times = (np.arange(n) + 0.5) / rate
        out[modality] = np.minimum(np.searchsorted(ends, times, side="right"), n_words - 1)
    return out


def make_unaligned_segment(
    planned: PlannedSegment,
    rng: np.random.Generator,
    u: np.ndarray,
    sigma: float = DEFAULT_SIGMA,
    dims: Mapping[str, int] = contract.DEFAULT_DIMS,
    function: str = DEFAULT_FUNCTION,
    seed: int = 0,
) -> SyntheticSegment:
    """Features for one planned segment, audio and video at their own rates."""
    label = float(np.float32(planned.label))
    eps = float(rng.normal(0.0, sigma)) if sigma > 0 else 0.0
    target = label - eps
    length, pos, e, g = plan_words(rng)
    frames = frame_words(rng, length)
    # A cue on a word with no frame of that modality cannot be seen.
    e &= np.bincount(frames["audio"], minlength=length) > 0
    g &= np.bincount(frames["video"], minlength=length) > 0
    words, c = text_hitting_target(rng, pos, e, g, target, length, u, dims["text"], function,
                                   seed)

    audio = render_frames(rng, frames["audio"], e, dims["audio"], AUDIO_CUE_DIMS)
    undefined = rng.random(len(audio)) < UNDEFINED_AUDIO_FRAME_P
    if undefined.any():
        bad = np.where(rng.random(int(undefined.sum())) < 0.5, -np.inf, np.nan)[:, None]
        audio[np.ix_(np.flatnonzero(undefined), list(AUDIO_UNDEFINED_DIMS))] = bad
    video = render_frames(rng, frames["video"], g, dims["video"], VIDEO_CUE_DIMS)
    zero = (rng.random(len(video)) < ZERO_VIDEO_FRAME_P) & ~g[frames["video"]]
    video[zero] = 0.0

    segment = contract.Segment(
        segment_id=planned.segment_id, video_id=planned.video_id, dataset=DATASET_NAME,
        label=label, text=words.astype(np.float32), audio=audio.astype(np.float32),
        video=video.astype(np.float32))
    return SyntheticSegment(segment=segment, target=target, eps=eps, frame_words=frames)


def _word_cues(cue_of_frame: np.ndarray, words_of_frame: np.ndarray, n_words: int) -> np.ndarray:
    """Per word: does any of its frames show the cue?"""
    hits = np.bincount(words_of_frame[cue_of_frame], minlength=n_words) if n_words else []
    return np.asarray(hits)[:n_words] > 0


def unaligned_sentiment_parts(
    text: np.ndarray, audio: np.ndarray, video: np.ndarray,
    words_of_frame: Mapping[str, np.ndarray], seed: int = 0, function: str = DEFAULT_FUNCTION,
) -> Tuple[float, float]:
    """``(text_part, cross_part)`` from the written features and the frame-to-word map."""
    text = np.asarray(text, dtype=np.float64)
    n = text.shape[0]
    c = text @ cue_direction(seed, text.shape[1])
    e = _word_cues(audio_cue(audio), np.asarray(words_of_frame["audio"]), n)
    g = _word_cues(video_cue(video), np.asarray(words_of_frame["video"]), n)
    negated = negated_in_text(text, seed) if function == "context" else None
    weight = cross_weight(e, g, function, negated)
    sign = text_sign(negated, c.shape)
    return float((c * sign).sum()), float((c * (weight - sign)).sum())


def proportional_words(n_frames: int, n_words: int) -> np.ndarray:
    """Each frame's word when frames are spread evenly over the words (no timing known)."""
    return np.minimum(((np.arange(n_frames) + 0.5) / max(n_frames, 1) * n_words).astype(np.int64),
                      max(n_words - 1, 0))


def proportional_word_weights(text, audio, video, seed: int = 0,
                              function: str = DEFAULT_FUNCTION) -> np.ndarray:
    """Each word's ``w(e_t, g_t)`` (``n_t`` included) with frames mapped by proportional position.

    The gates of the ``learned_word_direction`` reference row on unaligned
    data. Other timing-free guesses are scored in
    ``benchmarks/alignment_estimators.py``: wider or softer windows do
    worse, a posterior over word durations better (docs/model.md).
    """
    text = np.asarray(text, dtype=np.float64)
    n = text.shape[0]
    e = _word_cues(audio_cue(audio), proportional_words(len(audio), n), n)
    g = _word_cues(video_cue(video), proportional_words(len(video), n), n)
    negated = negated_in_text(text, seed) if function == "context" else None
    return cross_weight(e, g, function, negated)


def proportional_estimate(text, audio, video, seed: int = 0,
                          function: str = DEFAULT_FUNCTION) -> float:
    """``f`` with each frame mapped to a word by its proportional position.

    What a model that knew ``u`` and the function, but aligned frames to words
    only by relative position, would compute: the proportional-alignment
    reference row.
    """
    text = np.asarray(text, dtype=np.float64)
    n = text.shape[0]
    mapping = {m: proportional_words(len(x), n) for m, x in (("audio", audio), ("video", video))}
    text_part, cross_part = unaligned_sentiment_parts(text, audio, video, mapping, seed, function)
    return text_part + cross_part
