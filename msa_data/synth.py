"""Built-in synthetic MOSI/MOSEI-shaped data with a known sentiment function.

``msa-synth --output DIR [--size mosi|mosei] [--seed N] [--limit-per-split N]``
writes ``DIR/{train,valid,test}.tfrecord`` in the data contract
(:mod:`msa_data.contract`, ``dataset`` = ``synthetic``) plus
``DIR/noise_floor.json``. Same arguments -> byte-identical files.

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

Nuisances that mimic the real features: COVAREP-like ``-inf``/NaN in a few
"undefined" audio dims (never the cue dims) on ~1% of frames, FACET-like
all-zero video frames (~5% of frames, real frames inside the sequence),
lengths lognormal with median ~10, clipped to [1, 70].
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import io
import json
import math
import os
import shutil
import signal
import sys
import tempfile
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from msa_data import contract

SIZES = ("mosi", "mosei")
DATASET_NAME = "synthetic"
DEFAULT_SIGMA = 0.25
NOISE_FLOOR_FILE = "noise_floor.json"

# Exact split totals of the real datasets (segments per split).
MOSI_SPLIT_COUNTS = {"train": 1284, "valid": 229, "test": 686}
MOSEI_SPLIT_COUNTS = {"train": 16326, "valid": 1871, "test": 4659}

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

# Seed-sequence tags so each random stream is independent of the others.
_TAG_DIRECTION, _TAG_PLAN, _TAG_SEGMENT = 1, 2, 3

_HERE = os.path.dirname(os.path.abspath(__file__))


class SynthError(ValueError):
    """Bad input to :func:`generate`; ``flag`` names the CLI flag at fault."""

    def __init__(self, flag: str, message: str):
        super().__init__(f"{flag}: {message}")
        self.flag = flag


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
    text: np.ndarray, audio: np.ndarray, video: np.ndarray, seed: int = 0
) -> Tuple[float, float]:
    """``(text_part, cross_part)`` of one segment's ``(len, dim)`` arrays."""
    text = np.asarray(text, dtype=np.float64)
    n = text.shape[0]
    if np.shape(audio)[0] != n or np.shape(video)[0] != n:
        raise ValueError(
            f"unaligned segment: text/audio/video lengths "
            f"{n}/{np.shape(audio)[0]}/{np.shape(video)[0]}"
        )
    c = text @ cue_direction(seed, text.shape[1])
    weight = audio_cue(audio).astype(np.float64) + video_cue(video).astype(np.float64)
    return float(c.sum()), float((c * weight).sum())


def sentiment_function(
    text: np.ndarray, audio: np.ndarray, video: np.ndarray, seed: int = 0
) -> float:
    """``f(x) = sum_t c_t * (1 + e_t + g_t)`` recomputed from stored features.

    ``seed`` is the generation seed (it fixes ``u``; it is recorded in
    ``noise_floor.json``).
    """
    text_part, cross_part = sentiment_parts(text, audio, video, seed)
    return text_part + cross_part


# --------------------------------------------------------------------------
# Planning: which segments go in which split, with which label


@dataclasses.dataclass(frozen=True)
class PlannedSegment:
    segment_id: str
    video_id: str
    label: float


def _read_package_text(name: str) -> str:
    try:
        from importlib import resources

        return resources.files("msa_data").joinpath(name).read_text(encoding="utf-8")
    except (ImportError, AttributeError, FileNotFoundError, ModuleNotFoundError):
        path = os.path.join(_HERE, name)
        with open(path, encoding="utf-8") as fh:
            return fh.read()


@functools.lru_cache(maxsize=1)
def standard_folds() -> Dict[str, Dict[str, List[str]]]:
    """``{"mosi"|"mosei": {split: [video ids]}}`` from ``standard_folds.json``."""
    return json.loads(_read_package_text("standard_folds.json"))


@functools.lru_cache(maxsize=1)
def mosi_opinion_labels() -> Tuple[Tuple[str, str, float], ...]:
    """Real CMU-MOSI labels in file order: ``(segment_id, video_id, label)``."""
    rows = []
    for rec in csv.reader(io.StringIO(_read_package_text("mosi_opinion_labels.csv"))):
        if not rec:
            continue
        _start, _end, video_id, index, sentiment = rec
        rows.append((f"{video_id}_{int(index)}", video_id, float(sentiment)))
    return tuple(rows)


def _plan_mosi() -> Dict[str, List[PlannedSegment]]:
    folds = standard_folds()["mosi"]
    split_of = {v: s for s in contract.SPLITS for v in folds[s]}
    plan: Dict[str, List[PlannedSegment]] = {s: [] for s in contract.SPLITS}
    for segment_id, video_id, label in mosi_opinion_labels():
        if video_id not in split_of:
            raise ValueError(f"MOSI video {video_id!r} is in no standard fold")
        plan[split_of[video_id]].append(PlannedSegment(segment_id, video_id, label))
    return plan


def assign_segment_counts(n_videos: int, total: int, rng: np.random.Generator) -> np.ndarray:
    """Random segments-per-video counts, each >= 1, summing to ``total``."""
    if n_videos < 1 or total < n_videos:
        raise ValueError(f"cannot give {n_videos} videos >= 1 segment each out of {total}")
    probs = rng.dirichlet(np.full(n_videos, 2.0))
    return 1 + rng.multinomial(total - n_videos, probs)


def mosei_like_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """Averages of 3 annotators' integer scores in [-3, 3] (multiples of 1/3).

    Skewed positive (~53% > 0, ~26% < 0) with ~21% exactly 0, like CMU-MOSEI:
    a neutral component where annotators mostly say 0, and an opinionated
    one around +0.55.
    """
    neutral = rng.random(n) < 0.17
    latent = np.where(neutral, 0.0, rng.normal(0.55, 1.2, n))
    spread = np.where(neutral, 0.3, 0.6)[:, None]
    scores = np.clip(np.rint(latent[:, None] + spread * rng.standard_normal((n, 3))), -3, 3)
    return scores.sum(axis=1) / 3.0


def _plan_mosei(seed: int) -> Dict[str, List[PlannedSegment]]:
    folds = standard_folds()["mosei"]
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _TAG_PLAN])))
    plan: Dict[str, List[PlannedSegment]] = {}
    for split in contract.SPLITS:
        videos = folds[split]
        counts = assign_segment_counts(len(videos), MOSEI_SPLIT_COUNTS[split], rng)
        labels = mosei_like_labels(int(counts.sum()), rng)
        segs = []
        i = 0
        for video_id, count in zip(videos, counts):
            for k in range(int(count)):
                segs.append(PlannedSegment(f"{video_id}_{k}", video_id, float(labels[i])))
                i += 1
        plan[split] = segs
    return plan


def plan_splits(size: str = "mosi", seed: int = 0) -> Dict[str, List[PlannedSegment]]:
    """Segments (id, video, label) per split, in write order, without features."""
    if size == "mosi":
        return _plan_mosi()
    if size == "mosei":
        return _plan_mosei(int(seed))
    raise SynthError("--size", f"expected one of {', '.join(SIZES)}, got {size!r}")


# --------------------------------------------------------------------------
# Features


@dataclasses.dataclass(frozen=True)
class SyntheticSegment:
    """A generated segment plus what went into it (for checks)."""

    segment: contract.Segment
    target: float  # f(x) the generator solved for (float64, = label - eps)
    eps: float


def _segment_rng(seed: int, split: str, position: int) -> np.random.Generator:
    entropy = [seed, _TAG_SEGMENT, contract.SPLITS.index(split), position]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def make_segment(
    planned: PlannedSegment,
    rng: np.random.Generator,
    u: np.ndarray,
    sigma: float = DEFAULT_SIGMA,
    dims: Mapping[str, int] = contract.DEFAULT_DIMS,
) -> SyntheticSegment:
    """Features for one planned segment; ``f(features) == label - eps``."""
    label = float(np.float32(planned.label))  # what the float label feature stores
    eps = float(rng.normal(0.0, sigma)) if sigma > 0 else 0.0
    target = label - eps

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
    zero_video = rng.random(length) < ZERO_VIDEO_FRAME_P
    g &= ~zero_video  # a zeroed FACET frame carries no visual cue

    # Solve for the cue-word values: sum_i c_i (1 + e_i + g_i) = target.
    shares = rng.dirichlet(np.full(n_cue, 2.0)) * target
    c = np.zeros(length)
    c[pos] = shares / (1.0 + e[pos] + g[pos])

    # Text: noise orthogonal to u, plus c_t * u.
    words = rng.normal(0.0, WORD_NOISE_SD, (length, dims["text"]))
    words -= np.outer(words @ u, u)
    words += np.outer(c, u)

    # Audio: COVAREP-ish noise, emphasis cue, undefined values.
    audio = rng.standard_normal((length, dims["audio"]))
    n_ac = len(AUDIO_CUE_DIMS)
    cue_noise = np.clip(rng.normal(0.0, 0.1, (length, n_ac)), -0.3, 0.3)
    audio[:, list(AUDIO_CUE_DIMS)] = np.where(e[:, None], CUE_ON, 0.0) + cue_noise
    undefined = rng.random(length) < UNDEFINED_AUDIO_FRAME_P
    kind = rng.random(length) < 0.5
    if undefined.any():
        bad = np.where(kind[undefined], -np.inf, np.nan)[:, None]
        rows = np.flatnonzero(undefined)
        audio[np.ix_(rows, list(AUDIO_UNDEFINED_DIMS))] = bad

    # Video: FACET-ish evidence, visual cue, all-zero frames.
    video = rng.standard_normal((length, dims["video"]))
    n_vc = len(VIDEO_CUE_DIMS)
    cue_noise = np.clip(rng.normal(0.0, 0.1, (length, n_vc)), -0.3, 0.3)
    video[:, list(VIDEO_CUE_DIMS)] = np.where(g[:, None], CUE_ON, 0.0) + cue_noise
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


def iter_split(
    split: str,
    planned: Sequence[PlannedSegment],
    seed: int = 0,
    sigma: float = DEFAULT_SIGMA,
    dims: Mapping[str, int] = contract.DEFAULT_DIMS,
) -> Iterator[SyntheticSegment]:
    """Generates a split's segments; segment ``i`` depends only on (seed, split, i)."""
    _check_dims(dims)
    u = cue_direction(seed, dims["text"])
    for i, p in enumerate(planned):
        yield make_segment(p, _segment_rng(seed, split, i), u, sigma, dims)


# --------------------------------------------------------------------------
# Writing


def _validate(output_dir, size, seed, limit_per_split, sigma) -> None:
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
    if not isinstance(sigma, (int, float, np.floating)) or not (0 <= float(sigma) < math.inf):
        raise SynthError("--sigma", f"expected a finite number >= 0, got {sigma!r}")


def _check_output(output_dir: str, overwrite: bool) -> None:
    if os.path.lexists(output_dir):
        if not os.path.isdir(output_dir):
            raise SynthError("--output", f"{output_dir} exists and is not a folder; expected a folder")
        if os.listdir(output_dir) and not overwrite:
            raise SynthError(
                "--output",
                f"{output_dir} exists and is not empty; expected a new or empty folder "
                "(pass --overwrite to replace it)",
            )


def _write_records(path: str, segments: Iterator[SyntheticSegment], dims, on_segment) -> int:
    import tensorflow as tf

    count = 0
    with tf.io.TFRecordWriter(path) as writer:
        for syn in segments:
            on_segment(syn)
            example = contract.to_example(syn.segment, dims)
            # deterministic=True: map fields serialise in a fixed order.
            writer.write(example.SerializeToString(deterministic=True))
            count += 1
    return count


def _install(tmp_dir: str, output_dir: str) -> None:
    """Moves the finished ``tmp_dir`` to ``output_dir`` (replacing it)."""
    if not os.path.lexists(output_dir):
        os.rename(tmp_dir, output_dir)
        return
    if not os.listdir(output_dir):
        os.rmdir(output_dir)
        os.rename(tmp_dir, output_dir)
        return
    parent, name = os.path.split(output_dir)
    old = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
    os.rmdir(old)
    os.rename(output_dir, old)
    try:
        os.rename(tmp_dir, output_dir)
    except BaseException:
        os.rename(old, output_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


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
) -> dict:
    """Writes the three splits and ``noise_floor.json``; returns the noise-floor dict.

    Writes into a hidden temporary sibling of ``output_dir`` and renames it
    into place on success, so a failed or interrupted run leaves
    ``output_dir`` as it was. Raises :class:`SynthError` on bad arguments
    (including a non-empty ``output_dir`` without ``overwrite``).
    """
    _validate(output_dir, size, seed, limit_per_split, sigma)
    output_dir = os.path.abspath(os.fspath(output_dir))
    seed, sigma = int(seed), float(sigma)
    _check_output(output_dir, overwrite)

    plan = plan_splits(size, seed)
    if limit_per_split is not None:
        plan = {s: segs[: int(limit_per_split)] for s, segs in plan.items()}
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
        for split in contract.SPLITS:
            errors: List[float] = []
            labels: List[float] = []

            def on_segment(syn: SyntheticSegment, errors=errors, labels=labels) -> None:
                s = syn.segment
                # Measured the way a consumer would: f recomputed from the
                # float32 features exactly as written, against the stored label.
                f = sentiment_function(s.text, s.audio, s.video, seed)
                errors.append(abs(s.label - f))
                labels.append(s.label)

            segs = iter_split(split, plan[split], seed, sigma, dims)
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
            "test_mae_noise_floor": mae["test"],
            "train_mae_noise_floor": mae["train"],
            "valid_mae_noise_floor": mae["valid"],
            "expected_mae_noise_floor": sigma * math.sqrt(2.0 / math.pi),
            "counts": counts,
            "videos": videos,
            "label_fraction": _fractions(np.asarray(all_labels)),
            "dims": dims,
            "function": {
                "formula": "label = sum_t c_t * (1 + e_t + g_t) + N(0, sigma)",
                "c_t": "<text_t, u>, u = msa_data.synth.cue_direction(seed)",
                "e_t": f"mean(audio[t, {list(AUDIO_CUE_DIMS)}]) > {CUE_THRESHOLD}",
                "g_t": f"mean(video[t, {list(VIDEO_CUE_DIMS)}]) > {CUE_THRESHOLD}",
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


# --------------------------------------------------------------------------
# CLI


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _sigma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}") from None
    if not (0 <= value < math.inf):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="msa-synth",
        description="Write deterministic MOSI/MOSEI-shaped synthetic data in the data contract.",
    )
    p.add_argument("--output", required=True, help="folder to write (must be new or empty)")
    p.add_argument("--size", choices=SIZES, default="mosi", help="dataset shape (default: mosi)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--limit-per-split", type=_positive_int, default=None, metavar="N",
        help="keep only the first N segments of each split",
    )
    p.add_argument(
        "--sigma", type=_sigma, default=DEFAULT_SIGMA,
        help=f"label noise standard deviation (default: {DEFAULT_SIGMA})",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --output")
    return p


def _raise_exit(signum, frame):  # pragma: no cover - signal path
    raise SystemExit(128 + signum)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point; exits 2 on bad input, 1 on I/O failure."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _raise_exit)  # clean up temp dir
    except ValueError:  # not the main thread
        previous = None
    try:
        result = generate(
            args.output, size=args.size, seed=args.seed,
            limit_per_split=args.limit_per_split, overwrite=args.overwrite, sigma=args.sigma,
        )
    except SynthError as err:
        print(f"msa-synth: error: {err}", file=sys.stderr)
        raise SystemExit(2)
    except OSError as err:
        print(f"msa-synth: error: --output: {err}", file=sys.stderr)
        raise SystemExit(1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    out = os.path.abspath(args.output)
    for split in contract.SPLITS:
        print(
            f"{split}: {result['counts'][split]} segments, {result['videos'][split]} videos "
            f"-> {contract.split_path(out, split)}"
        )
    print(
        f"noise floor (mean |label - f(x)|, sigma {result['sigma']:g}): "
        f"test {result['test_mae_noise_floor']:.4f}, train {result['train_mae_noise_floor']:.4f}, "
        f"valid {result['valid_mae_noise_floor']:.4f} -> {os.path.join(out, NOISE_FLOOR_FILE)}"
    )
    return 0


if __name__ == "__main__":
    main()
