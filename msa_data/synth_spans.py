"""Built-in data in spans: ``msa-synth --output DIR --spans N [--shift-span K]``.

Writes ``DIR/span-1/ ... DIR/span-N/`` (:data:`msa_data.contract.SPAN_DIR`),
each a full contract folder with its own ``noise_floor.json``, as labelled
recordings arriving over time would be:

* every span has the same sentiment function (the seed's cue directions)
  and the same plan of videos, labels and splits, so a video stays in its
  split across spans and a window of spans never leaks a speaker;
* each span draws its own segments (span 1 is byte-identical to the plain
  data of the same arguments; span ``k`` > 1 draws from
  ``(seed, split, position, k)``);
* with ``--shift-span K``, span K's video features are what a new camera or
  FACET version would give for the same recordings: every real (not
  all-zero) frame goes through :func:`shift_video_frames`, while the label
  still follows the unshifted features. A model trained before the change
  then degrades silently; the pipeline's drift gate is there to stop it.

:func:`msa_data.synth.generate_spans` writes them, into a hidden temporary
folder beside ``DIR`` renamed into place with all spans, so ``DIR`` is never
half-written; this module holds the span pieces it uses.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from msa_data import contract
from msa_data.synth_plan import _TAG_SEGMENT, SynthError

# The built-in extractor change: a new scale and offset on every FACET dim.
SHIFT_SCALE, SHIFT_OFFSET = 1.5, 0.5
_TAG_SPAN = 7


def span_rng(seed: int, split: str, position: int, span: int) -> np.random.Generator:
    """Segment ``position`` of ``split`` in span ``span`` (> 1)."""
    entropy = [seed, _TAG_SEGMENT, contract.SPLITS.index(split), position, _TAG_SPAN, span]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def shift_video_frames(video: np.ndarray) -> None:
    """In place: ``SHIFT_SCALE * v + SHIFT_OFFSET`` on every frame that is not all zero."""
    real = np.any(video != 0, axis=1)
    video[real] = (video[real] * SHIFT_SCALE + SHIFT_OFFSET).astype(video.dtype)


def check_span_flags(spans: Optional[int], shift_span: Optional[int]) -> None:
    """Raises :class:`SynthError` naming the flag when the span flags do not fit."""
    if spans is None:
        if shift_span is not None:
            raise SynthError("--shift-span", "only used with --spans N; expected --spans as well")
        return
    if isinstance(spans, bool) or not isinstance(spans, int) or spans < 1:
        raise SynthError("--spans", f"expected an integer >= 1, got {spans!r}")
    if shift_span is not None and not (isinstance(shift_span, int) and 1 <= shift_span <= spans):
        raise SynthError("--shift-span", f"expected a span in 1..{spans} (--spans {spans}), "
                         f"got {shift_span!r}")


def write_serving_requests(folder: str, split: str, output_dir: str) -> int:
    """Writes ``folder``'s ``split`` as served requests: ``output_dir/requests.tfrecord``
    with the features the schema's SERVING environment lists (modalities and lengths:
    no label, ids or dataset). Returns the count."""
    import tensorflow as tf

    keep = {*contract.MODALITIES, *(contract.length_key(m) for m in contract.MODALITIES)}
    os.makedirs(output_dir, exist_ok=True)
    count = 0
    with tf.io.TFRecordWriter(os.path.join(output_dir, "requests.tfrecord")) as writer:
        for record in tf.data.TFRecordDataset(contract.split_path(folder, split)) \
                .as_numpy_iterator():
            example = tf.train.Example.FromString(record)
            for name in list(example.features.feature):
                if name not in keep:
                    del example.features.feature[name]
            writer.write(example.SerializeToString(deterministic=True))
            count += 1
    return count
