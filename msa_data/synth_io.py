"""Writing a generated dataset: output-folder checks, TFRecords, install by rename.

Part of :mod:`msa_data.synth`; :func:`_install` is shared with ``msa-convert``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Iterator

from msa_data import contract
from msa_data.synth_features import SyntheticSegment
from msa_data.synth_plan import SynthError


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
