"""Drift distances between built-in spans: unchanged ones, and shifted ones.

    python -m benchmarks.drift_distances [--seeds 0 1 2] [--limit-per-split N] [--data DIR]

For each seed, writes ``msa-synth --spans 3`` (full MOSI size unless
``--limit-per-split``) and prints every distance the drift gate computes
(msa_data/drift.py) between spans 1-2, 2-3 and 1-3: none may pass its
threshold (the largest over all pairs and seeds is printed per feature,
with its threshold). Then, on seed 0's spans 1 and 2, it applies
transformations the built-in ``--shift-span`` does not use to span 2's
video frames (real, not all-zero, frames only) and prints the video
distance each gives, against the schema's threshold. Exits 1 when an
unchanged pair drifts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import numpy as np

from msa_data import contract, drift, synth
from pipeline import configs


def _schema():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with open(configs.SCHEMA_PATH, encoding="utf-8") as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def _shifts(rng):
    cols = lambda x, dims, f: np.concatenate(  # noqa: E731
        [f(x[:, [d]]) if d in dims else x[:, [d]] for d in range(x.shape[1])], axis=1)
    return {
        "scale x1.1, every dim": lambda x: x * 1.1,
        "scale x1.2, every dim": lambda x: x * 1.2,
        "scale x1.5, dims 10-12": lambda x: cols(x, {10, 11, 12}, lambda c: c * 1.5),
        "scale x1.2, dim 40 only": lambda x: cols(x, {40}, lambda c: c * 1.2),
        "offset +0.1, every dim": lambda x: x + 0.1,
        "offset +0.5, dim 20 only": lambda x: cols(x, {20}, lambda c: c + 0.5),
        "offset +0.25, dim 20 only": lambda x: cols(x, {20}, lambda c: c + 0.25),
        "dims reversed": lambda x: x[:, ::-1],
        "dims permuted at random": lambda x: x[:, rng.permutation(x.shape[1])],
        "dims 3-46 permuted (the non-cue dims)": lambda x: np.concatenate(
            [x[:, :3], x[:, 3:][:, rng.permutation(x.shape[1] - 3)]], axis=1),
        "uniform values, same mean and std per dim": lambda x: (
            rng.uniform(-np.sqrt(3), np.sqrt(3), x.shape) * x.std(0) + x.mean(0)),
        "Laplace values, same mean and std per dim": lambda x: (
            rng.laplace(0, 1 / np.sqrt(2), x.shape) * x.std(0) + x.mean(0)),
        "z-scored per dim (another extractor's scaling)": lambda x: (x - x.mean(0)) / x.std(0),
        "min-max scaled to [0, 1]": lambda x: (x - x.min(0)) / (x.max(0) - x.min(0)),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--limit-per-split", type=int, default=None)
    p.add_argument("--data", default=os.path.join(configs.REPO_ROOT, "data", "bench-drift"))
    args = p.parse_args(argv)
    schema = _schema()
    worst, tripped, spans_0 = {}, [], None
    for seed in args.seeds:
        root = os.path.join(args.data, f"seed{seed}-{args.limit_per_split or 'full'}")
        if contract.missing_splits(contract.span_dir(root, 3)):
            synth.generate_spans(root, 3, seed=seed, limit_per_split=args.limit_per_split,
                                       overwrite=True)
        spans = {k: drift.read_span(drift.split_files(contract.span_dir(root, k)),
                                    contract.DEFAULT_DIMS) for k in (1, 2, 3)}
        spans_0 = spans_0 or spans
        for a, b in ((1, 2), (2, 3), (1, 3)):
            distances = drift.compare(spans[a], spans[b], schema)
            print(f"seed {seed} span {a} -> {b}: " + ", ".join(
                f"{d.name} {d.distance:.4f}" for d in distances), flush=True)
            for d in distances:
                worst[d.name] = max(worst.get(d.name, (0.0, d.threshold)), (d.distance,
                                                                          d.threshold))
                if d.drifted:
                    tripped.append(f"seed {seed} {a}->{b}: {d.line()}")
    print("largest over every unchanged pair: " + ", ".join(
        f"{n} {v:.4f} (threshold {t:g})" for n, (v, t) in worst.items()))
    video = spans_0[2].frames["video"]
    real = np.any(video != 0, axis=1)
    for name, change in _shifts(np.random.default_rng(5)).items():
        shifted = video.copy()
        shifted[real] = change(video[real].astype(np.float64)).astype(np.float32)
        current = dataclasses.replace(spans_0[2], frames={**spans_0[2].frames, "video": shifted})
        d = {x.name: x for x in drift.compare(spans_0[1], current, schema)}["video"]
        print(f"video {name:48s} {d.distance:.4f}  {'REFUSED' if d.drifted else 'passes'}")
    for line in tripped:
        print("unchanged spans drifted: " + line)
    return 1 if tripped else 0


if __name__ == "__main__":
    sys.exit(main())
