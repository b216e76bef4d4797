"""Which spans a run reads: a data root of ``span-1/ ... span-N/`` folders.

Continuous training (TFX's ``{SPAN}`` convention, :data:`msa_data.contract.SPAN_DIR`):
new labelled recordings arrive as a new span folder, each a contract folder
of its own. A run trains on the latest span (``--span K`` picks another),
or on the window of the latest W spans (``--span-window W``), evaluates on
its own span's test split, and checks its span for drift against the span
before it (:mod:`msa_data.drift`). A data root holding the split files
itself is a plain contract folder and keeps working as before.

Everything here reads folder names only; :class:`SpanError` is one line
naming the flag or folder and what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import List, Optional, Tuple

from msa_data import contract

_SPAN_NAME = re.compile(re.escape(contract.SPAN_DIR_PREFIX) + r"(\d+)$")


class SpanError(ValueError):
    """A span layout or span flag the run cannot use; the message is one line."""


@dataclasses.dataclass(frozen=True)
class DriftSettings:
    """The drift gate's settings: ``thresholds`` override the schema's
    (``--drift-threshold NAME=X``); ``allow`` (``--allow-drift``) runs on and records it."""

    thresholds: Tuple[Tuple[str, float], ...] = ()
    allow: bool = False


@dataclasses.dataclass(frozen=True)
class SpanPlan:
    """The spans of one run: ``span`` is trained on and evaluated, with ``window``
    (oldest first, ``span`` last) trained on; ``previous`` is compared for drift."""

    data_root: str
    span: int
    window: Tuple[int, ...]
    previous: Optional[int]
    available: int

    def folder(self, span: int) -> str:
        return contract.span_dir(self.data_root, span)

    def describe(self) -> str:
        spans = (f"spans {self.window[0]}-{self.window[-1]} (--span-window {len(self.window)})"
                 if len(self.window) > 1 else f"span {self.span}")
        versus = f"; drift checked against span {self.previous}" if self.previous else \
            "; no earlier span to check drift against"
        return (f"data spans: {self.available} in {self.data_root}; training on {spans}, "
                f"evaluating on span {self.span}'s test split{versus}")


# How the messages name the settings: the runners' flags, or a Kubeflow run's
# runtime parameters (the span is resolved in a task there).
FLAGS = {"data_root": "--data-root {}", "span": "--span {}", "window": "--span-window {}"}
RUNTIME_PARAMETERS = {"data_root": "data_root={}", "span": "span={}",
                      "window": "--span-window {}"}


def _file_system(path: str):
    """(listdir, isdir) for ``path``: the os module for local paths, TensorFlow's
    file systems for URIs such as ``gs://`` (a Kubeflow task resolves the span
    in its pod)."""
    if "://" not in path:
        return os.listdir, os.path.isdir
    import tensorflow as tf

    return tf.io.gfile.listdir, tf.io.gfile.isdir


def find_spans(data_root: str, names=FLAGS) -> List[int]:
    """The span numbers under ``data_root`` (sorted; empty for a plain contract folder).

    Raises :class:`SpanError` for a folder named like a span but not one
    (``span-01``, ``span-x``), for gaps (span-1, span-3), and for a data root
    that holds both split files and span folders.
    """
    listdir, isdir = _file_system(data_root)
    if not isdir(data_root):
        return []
    found = []
    for name in sorted(n.rstrip("/") for n in listdir(data_root)):
        if not name.startswith(contract.SPAN_DIR_PREFIX) or \
                not isdir(os.path.join(data_root, name)):
            continue
        match = _SPAN_NAME.match(name)
        if not match or str(int(match.group(1))) != match.group(1) or int(match.group(1)) < 1:
            raise SpanError(f"{names['data_root'].format(data_root)}: folder {name!r} is not a span folder; "
                            "expected span-1, span-2, ... (no leading zeros)")
        found.append(int(match.group(1)))
    found.sort()
    if not found:
        return []
    missing = sorted(set(range(1, found[-1] + 1)) - set(found))
    if missing:
        raise SpanError(f"{names['data_root'].format(data_root)}: span folder span-{missing[0]} is missing "
                        f"(found {', '.join(f'span-{k}' for k in found)}); expected "
                        f"consecutive span-1 ... span-{found[-1]}")
    if len(contract.missing_splits(data_root)) < len(contract.SPLITS):
        raise SpanError(f"{names['data_root'].format(data_root)}: holds both split files and span folders; "
                        "expected one of them (a contract folder, or span-1/ ... span-N/)")
    return found


def plan(data_root: str, span: Optional[int] = None, window: int = 1,
         names=FLAGS, accepted_file: Optional[str] = None) -> Optional[SpanPlan]:
    """The run's spans, or None for a plain contract folder (then ``span`` and ``window``
    must be unset). Checks that every span read has all three splits. ``names``:
    how messages name the settings (:data:`FLAGS` or :data:`RUNTIME_PARAMETERS`).
    ``previous`` is the span before, or with ``accepted_file`` the newest
    earlier span the drift gate accepted (pipeline/drift_reference.py)."""
    found = find_spans(data_root, names)
    if not found:
        for key, value in (("span", span), ("window", window if window != 1 else None)):
            if value is not None:
                raise SpanError(f"{names[key].format(value)}: only used with a data root of span folders "
                                f"(span-1/ ... span-N/); {data_root} holds none")
        return None
    latest = found[-1]
    chosen = latest if span is None else span
    if not 1 <= chosen <= latest:
        raise SpanError(f"{names['span'].format(chosen)}: expected a span in 1..{latest} "
                        f"(the span folders in {data_root})")
    if window < 1 or window > chosen:
        raise SpanError(f"{names['window'].format(window)}: expected 1..{chosen} (spans 1..{chosen} "
                        f"are available up to span {chosen} in {data_root})")
    from pipeline import drift_reference

    result = SpanPlan(data_root, chosen, tuple(range(chosen - window + 1, chosen + 1)),
                      drift_reference.reference_span(accepted_file, data_root, chosen), latest)
    for k in sorted({*result.window, *([result.previous] if result.previous else [])}):
        missing = contract.missing_splits(result.folder(k))
        if missing:
            raise SpanError(f"{names['data_root'].format(result.folder(k))}: no file for split(s) {missing}; "
                            "expected <split>.tfrecord* for train, valid and test in every "
                            "span folder")
    return result

