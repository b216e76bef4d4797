"""Built-in synthetic MOSI/MOSEI-shaped data with a known sentiment function.

``msa-synth --output DIR [--size mosi|mosei] [--seed N] [--limit-per-split N] [--fraction F]
[--function gated|flip] [--unaligned] [--spans N [--shift-span K]]``
writes ``DIR/{train,valid,test}.tfrecord`` in the data contract
(:mod:`msa_data.contract`, ``dataset`` = ``synthetic``) plus
``DIR/noise_floor.json``. Same arguments -> byte-identical files. (The command
line is :mod:`msa_data.synth_cli`.)

Where the sentiment comes from
------------------------------
Every segment is word-aligned: text, audio and video all have ``len`` =
word count frames. For each step ``t``:

* ``c_t = <text_t, u>`` with ``u`` a fixed random unit vector in the text
  space drawn from the seed (:func:`cue_direction`). Word frames are Gaussian
  noise orthogonal to ``u`` plus ``c_t * u``; most words have ``c_t = 0``,
  1-3 "cue words" per segment carry the sentiment.
* ``e_t`` (audio emphasis) is 1 when the mean of :data:`AUDIO_CUE_DIMS` is
  above :data:`CUE_THRESHOLD` (about 2 when on, about 0 when off).
* ``g_t`` (visual cue) likewise on :data:`VIDEO_CUE_DIMS`; an all-zero FACET
  frame has ``g_t = 0``.

``f(x) = sum_t c_t + sum_t c_t * (e_t + g_t)`` (text part + cross part) and
``label = f(x) + eps`` with ``eps ~ N(0, sigma)``. The generator starts from
the label (the real CMU-MOSI label for ``size='mosi'``), draws ``eps`` and
solves for the cue-word values so ``f`` hits ``label - eps`` exactly. The
cross part depends on which word co-occurs with which audio/visual cue, so a
model that pools each modality before fusing cannot recover it.
:func:`sentiment_function` recomputes ``f`` from stored features.

``--function flip`` swaps the default weight ``1 + e_t + g_t`` for
``(2 e_t - 1) * (1 + g_t)``: the audio cue decides each cue word's sign, so
the text alone hardly predicts the label. It is a second cross-modal task
in the same contract, to check that a model learns the interaction rather
than the default function's constants (:data:`FUNCTIONS`).

``--function context`` makes the text's order matter: a negator word (a
second text direction ``v``) flips the sentiment of the two words after it,
so a bag of words cannot recover the label; the reference rows add
``bag_of_words``, the known function without the negation.

``--unaligned`` writes audio and video at their own frame rates (about 2
and 3 frames a word, word durations varying), with the same function over
the words; the files carry no timing (:mod:`msa_data.synth_unaligned`).

Nuisances that mimic the real features: COVAREP-like ``-inf``/NaN in a few
"undefined" audio dims (never the cue dims) on ~1% of frames, FACET-like
all-zero video frames (~5% of frames, real frames inside the sequence),
lengths lognormal with median ~10, clipped to [1, 70].
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from typing import Dict, Iterator, List, Mapping, Optional, Sequence

import numpy as np

from msa_data import contract, synth_spans

# The pieces live in sibling modules (synth_features, synth_plan, synth_io,
# synth_reference); callers import what they need from those.
from msa_data.synth_features import (
    AUDIO_CUE_DIMS,
    CUE_THRESHOLD,
    DATASET_NAME,
    DEFAULT_FUNCTION,
    DEFAULT_SIGMA,
    FUNCTIONS,
    NEGATION_SCOPE,
    NEGATOR_THRESHOLD,
    VIDEO_CUE_DIMS,
    SyntheticSegment,
    _check_dims,
    _segment_rng,
    audio_cue,
    cue_direction,
    make_segment,
    sentiment_parts,
    video_cue,
    word_weights,
)
from msa_data.synth_io import _check_output, _install, _write_records
from msa_data.synth_plan import (
    SIZES,
    PlannedSegment,
    SynthError,
    plan_splits,
)
from msa_data.synth_reference import reference_maes
from msa_data.synth_spans import shift_video_frames, span_rng  # noqa: E402
from msa_data.synth_unaligned import (
    make_unaligned_segment,
    proportional_estimate,
    proportional_word_weights,
    unaligned_sentiment_parts,
)

NOISE_FLOOR_FILE = "noise_floor.json"


# --------------------------------------------------------------------------
# Generating


def iter_split(
    split: str,
    planned: Sequence[PlannedSegment],
    seed: int = 0,
    sigma: float = DEFAULT_SIGMA,
    dims: Mapping[str, int] = contract.DEFAULT_DIMS,
    function: str = DEFAULT_FUNCTION,
    indices: Optional[Sequence[int]] = None,
    unaligned: bool = False,
    span: int = 1,
) -> Iterator[SyntheticSegment]:
    """Generates a split's segments; segment ``i`` depends only on (seed, split, i).

    ``indices`` (default ``range(len(planned))``) are the positions of the
    ``planned`` segments in the full split, so a subset is byte-identical to
    the same segments of a full run. ``span`` > 1 draws new segments for
    that span (:mod:`msa_data.synth_spans`); span 1 is the plain data.

    Defined here (not in :mod:`msa_data.synth_features`) so it calls this
    module's ``make_segment``, the name tests replace to fail mid-run.
    """
    _check_dims(dims)
    u = cue_direction(seed, dims["text"])
    indices = range(len(planned)) if indices is None else indices
    make = make_unaligned_segment if unaligned else make_segment
    for i, p in zip(indices, planned):
        rng = _segment_rng(seed, split, i) if span <= 1 else span_rng(seed, split, i, span)
        yield make(p, rng, u, sigma, dims, function, seed)


def spread_subset(n_total: int, limit: Optional[int], fraction: Optional[float] = None
                  ) -> List[int]:
    """``limit`` indices spread evenly over ``range(n_total)`` (all of them if ``None``).

    ``fraction`` keeps that share of the split instead (at least one index);
    with both, the smaller count wins.

    A prefix would hold the first few videos only; their label means differ a
    lot, so a tiny prefix's splits would disagree far more than the data does.
    """
    if fraction is not None:
        kept = max(1, int(round(fraction * n_total)))
        limit = kept if limit is None else min(limit, kept)
    if limit is None or limit >= n_total:
        return list(range(n_total))
    return sorted({int(round(x)) for x in np.linspace(0, n_total - 1, int(limit))})


def _validate(output_dir, size, seed, limit_per_split, sigma, function, fraction=None) -> None:
    if not isinstance(output_dir, (str, os.PathLike)) or not os.fspath(output_dir):
        raise SynthError("--output", "expected a folder path")
    if "://" in os.fspath(output_dir):
        raise SynthError("--output", f"expected a local folder, got {os.fspath(output_dir)!r}")
    if size not in SIZES:
        raise SynthError("--size", f"expected one of {', '.join(SIZES)}, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SynthError("--seed", f"expected an integer >= 0, got {seed!r}")
    if limit_per_split is not None and (
        isinstance(limit_per_split, bool)
        or not isinstance(limit_per_split, (int, np.integer))
        or limit_per_split < 1
    ):
        raise SynthError("--limit-per-split", f"expected an integer >= 1, got {limit_per_split!r}")
    if fraction is not None and (
        isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating))
        or not 0 < float(fraction) <= 1
    ):
        raise SynthError("--fraction", f"expected a number in (0, 1], got {fraction!r}")
    if not isinstance(sigma, (int, float, np.floating)) or not (0 <= float(sigma) < math.inf):
        raise SynthError("--sigma", f"expected a finite number >= 0, got {sigma!r}")
    if function not in FUNCTIONS:
        raise SynthError("--function", f"expected one of {', '.join(FUNCTIONS)}, got {function!r}")


def _fractions(labels: np.ndarray) -> Dict[str, float]:
    n = max(len(labels), 1)
    return {
        "positive": float(np.sum(labels > 0) / n),
        "negative": float(np.sum(labels < 0) / n),
        "zero": float(np.sum(labels == 0) / n),
    }


def generate(
    output_dir: str,
    size: str = "mosi",
    seed: int = 0,
    limit_per_split: Optional[int] = None,
    overwrite: bool = False,
    sigma: float = DEFAULT_SIGMA,
    function: str = DEFAULT_FUNCTION,
    fraction: Optional[float] = None,
    unaligned: bool = False,
    span: int = 1,
    shift_video: bool = False,
) -> dict:
    """Writes the three splits and ``noise_floor.json``; returns the noise-floor dict.

    Besides the noise floor (the known function's own test MAE), the dict
    holds reference MAEs of predictors built from the function's parts
    (:func:`reference_maes`), for judging a trained model.

    Writes into a hidden temporary sibling of ``output_dir`` and renames it
    into place on success, so a failed or interrupted run leaves
    ``output_dir`` as it was. Raises :class:`SynthError` on bad arguments
    (including a non-empty ``output_dir`` without ``overwrite``).

    ``span`` and ``shift_video`` write one span of :mod:`msa_data.synth_spans`:
    new segments of the same function, and with ``shift_video`` the video
    features as a changed extractor would give them (the labels and reference
    rows are those of the unshifted features).
    """
    _validate(output_dir, size, seed, limit_per_split, sigma, function, fraction)
    output_dir = os.path.abspath(os.fspath(output_dir))
    seed, sigma = int(seed), float(sigma)
    _check_output(output_dir, overwrite)

    plan = plan_splits(size, seed)
    kept = {s: spread_subset(len(segs), limit_per_split, fraction) for s, segs in plan.items()}
    plan = {s: [segs[i] for i in kept[s]] for s, segs in plan.items()}
    dims = dict(contract.DEFAULT_DIMS)

    parent, name = os.path.split(output_dir)
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    try:
        os.chmod(tmp_dir, 0o755)
        counts: Dict[str, int] = {}
        videos: Dict[str, int] = {}
        mae: Dict[str, float] = {}
        all_labels = []
        parts: Dict[str, List[dict]] = {}
        for split in contract.SPLITS:
            errors: List[float] = []
            labels: List[float] = []
            parts[split] = []

            def on_segment(syn: SyntheticSegment, errors=errors, labels=labels,
                           rows=parts[split]) -> None:
                s = syn.segment
                # Measured the way a consumer would: f recomputed from the
                # float32 features exactly as written, against the stored label.
                if syn.frame_words is None:
                    text_part, cross_part = sentiment_parts(
                        s.text, s.audio, s.video, seed, function)
                else:
                    text_part, cross_part = unaligned_sentiment_parts(
                        s.text, s.audio, s.video, syn.frame_words, seed, function)
                errors.append(abs(s.label - (text_part + cross_part)))
                labels.append(s.label)
                row = {"label": s.label, "text_part": text_part,
                       "audio_rate": float(np.mean(audio_cue(s.audio))),
                       "video_rate": float(np.mean(video_cue(s.video)))}
                if unaligned:
                    row["proportional_alignment"] = proportional_estimate(
                        s.text, s.audio, s.video, seed, function)
                weights = (proportional_word_weights if unaligned else word_weights)(
                    s.text, s.audio, s.video, seed, function)
                row["weighted_words"] = weights @ np.asarray(s.text, dtype=np.float64)
                if function == "context" and syn.frame_words is None:
                    row["bag_of_words"] = sum(sentiment_parts(
                        s.text, s.audio, s.video, seed, "gated"))
                rows.append(row)
                if shift_video:  # after the references: written, not used by f
                    shift_video_frames(s.video)

            segs = iter_split(split, plan[split], seed, sigma, dims, function, kept[split],
                              unaligned, span)
            counts[split] = _write_records(
                contract.split_path(tmp_dir, split), segs, dims, on_segment
            )
            videos[split] = len({p.video_id for p in plan[split]})
            mae[split] = float(np.mean(errors)) if errors else float("nan")
            all_labels.extend(labels)

        result = {
            "dataset": DATASET_NAME,
            "size": size,
            "seed": seed,
            "sigma": sigma,
            "limit_per_split": None if limit_per_split is None else int(limit_per_split),
            "fraction": None if fraction is None else float(fraction),
            "aligned": not unaligned,
            **({"span": span, "video_shifted": shift_video} if span > 1 or shift_video else {}),
            "test_mae_noise_floor": mae["test"],
            "train_mae_noise_floor": mae["train"],
            "valid_mae_noise_floor": mae["valid"],
            "expected_mae_noise_floor": sigma * math.sqrt(2.0 / math.pi),
            "reference_test_mae": reference_maes(parts),
            "counts": counts,
            "videos": videos,
            "label_fraction": _fractions(np.asarray(all_labels)),
            "dims": dims,
            "function": {
                "name": function,
                "formula": f"label = sum_t c_t * {_weight_formula(function)} + N(0, sigma)",
                "c_t": "<text_t, u>, u = msa_data.synth.cue_direction(seed)",
                "e_t": f"mean(audio[t, {list(AUDIO_CUE_DIMS)}]) > {CUE_THRESHOLD}"
                       + (" on any audio frame of word t" if unaligned else ""),
                "g_t": f"mean(video[t, {list(VIDEO_CUE_DIMS)}]) > {CUE_THRESHOLD}"
                       + (" on any video frame of word t" if unaligned else ""),
                **({"n_t": f"-1 if <text_s, v> > {NEGATOR_THRESHOLD} for s in t-{NEGATION_SCOPE}"
                           "..t-1 (v = msa_data.synth_features.negator_direction(seed)), else 1"}
                   if function == "context" else {}),
            },
        }
        with open(os.path.join(tmp_dir, NOISE_FLOOR_FILE), "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2, sort_keys=True)
            fh.write("\n")
        _install(tmp_dir, output_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return result


def generate_spans(output_dir: str, spans: int, shift_span: Optional[int] = None,
                   overwrite: bool = False, **options) -> dict:
    """Writes ``span-1 .. span-N`` under ``output_dir``; returns ``{span: noise-floor dict}``.

    ``options`` are :func:`generate`'s (size, seed, limits, function...);
    see :mod:`msa_data.synth_spans`.
    """
    synth_spans.check_span_flags(spans, shift_span)
    if not isinstance(output_dir, (str, os.PathLike)) or not os.fspath(output_dir):
        raise SynthError("--output", "expected a folder path")
    output_dir = os.path.abspath(os.fspath(output_dir))
    _check_output(output_dir, overwrite)
    parent, name = os.path.split(output_dir)
    os.makedirs(parent, exist_ok=True)
    tmp_root = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    try:
        os.chmod(tmp_root, 0o755)
        results = {}
        for span in range(1, spans + 1):
            results[span] = generate(contract.span_dir(tmp_root, span), span=span,
                                           shift_video=span == shift_span, **options)
        _install(tmp_root, output_dir)
    except BaseException:
        shutil.rmtree(tmp_root, ignore_errors=True)
        raise
    return results


def _weight_formula(function: str) -> str:
    formula = FUNCTIONS[function]
    return f"({formula})" if " " in formula else formula
