"""``msa-synth``: the command line of the built-in data generator (:mod:`msa_data.synth`).

Flags are checked here for their form (argparse types, one ``error:`` line
and exit 2); :func:`msa_data.synth.generate` checks the values again for
callers that skip the command line. An I/O failure exits 1, and SIGTERM
leaves no half-written folder (the generator writes under a temporary name).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from typing import Optional, Sequence

from msa_data import contract
from msa_data.synth import NOISE_FLOOR_FILE, generate, generate_spans
from msa_data.synth_features import DEFAULT_FUNCTION, DEFAULT_SIGMA, FUNCTIONS
from msa_data.synth_plan import SIZES, SynthError


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


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
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
        help="keep only N segments of each split, spread evenly over its videos",
    )
    p.add_argument(
        "--fraction", type=_fraction, default=None, metavar="F",
        help="keep only this share (0 < F <= 1) of each split, spread evenly over its videos",
    )
    p.add_argument(
        "--sigma", type=_sigma, default=DEFAULT_SIGMA,
        help=f"label noise standard deviation (default: {DEFAULT_SIGMA})",
    )
    p.add_argument(
        "--function", choices=tuple(FUNCTIONS), default=DEFAULT_FUNCTION,
        help="sentiment function: gated (label = sum_t c_t (1 + e_t + g_t), the default), "
        "flip (the audio cue sets each word's sign: a second cross-modal task) or context "
        "(a negator word flips the next two words: the text's order matters)",
    )
    p.add_argument(
        "--unaligned", action="store_true",
        help="audio and video at their own frame rates (about 2 and 3 frames a word, word "
        "durations varying) instead of one frame per word; the files carry no timing",
    )
    p.add_argument(
        "--spans", type=_positive_int, default=None, metavar="N",
        help="write N spans, OUTPUT/span-1 ... span-N, for continuous training (new segments "
        "of the same function in each)",
    )
    p.add_argument(
        "--shift-span", type=_positive_int, default=None, metavar="K",
        help="with --spans: span K's video features drift (a changed extractor)",
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
    options = dict(size=args.size, seed=args.seed, limit_per_split=args.limit_per_split,
                   overwrite=args.overwrite, sigma=args.sigma, function=args.function,
                   fraction=args.fraction, unaligned=args.unaligned)
    try:
        if args.spans is None and args.shift_span is None:
            results = {0: generate(args.output, **options)}
        else:
            results = generate_spans(args.output, args.spans, args.shift_span, **options)
    except SynthError as err:
        print(f"msa-synth: error: {err}", file=sys.stderr)
        raise SystemExit(2)
    except OSError as err:
        print(f"msa-synth: error: --output: {err}", file=sys.stderr)
        raise SystemExit(1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    for span, result in results.items():
        out = os.path.abspath(args.output)
        if span:
            out = contract.span_dir(out, span)
            print(f"span {span}" + (" (video features shifted)" if result.get("video_shifted")
                                    else "") + f": {out}")
        for split in contract.SPLITS:
            print(
                f"{split}: {result['counts'][split]} segments, {result['videos'][split]} videos "
                f"-> {contract.split_path(out, split)}"
            )
        print(
            f"noise floor (mean |label - f(x)|, sigma {result['sigma']:g}): "
            f"test {result['test_mae_noise_floor']:.4f}, "
            f"train {result['train_mae_noise_floor']:.4f}, "
            f"valid {result['valid_mae_noise_floor']:.4f} -> {os.path.join(out, NOISE_FLOOR_FILE)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
