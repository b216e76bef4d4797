"""Which earlier span a new span's drift is measured against: the last one accepted.

Comparing span K with span K-1 alone defeats the gate once a span is
refused: after a new camera's span 3 is refused, span 4 from the same camera
looks just like span 3 and would pass, and be trained and pushed, with
nobody looking. So the DriftGate remembers which spans it accepted (no drift
beyond the thresholds, or drift allowed by the operator with
``--allow-drift`` / ``allow_drift=1``) and compares span K with the newest
accepted span before it. A refused span is never a reference: after a
one-span glitch (span 3 refused) span 4 is compared with span 2. With nothing recorded (the gate's first run on this data root, or
an earlier span trained before the gate knew it) the reference is K-1, as
TFX's own span-to-span drift comparison does.

The memory is one JSON file per pipeline, ``<pipeline_root>/accepted_spans.json``
(``{data_root: [spans]}``), beside the pipeline's own outputs: the local
runner's output folder, or the Kubeflow pipeline root (``gs://`` too). It is
replaced whole (written under a temporary name, then renamed), and one run
at a time writes it (the local run lock; ``--schedule``'s one run at a time).
"""

from __future__ import annotations

import json
import os
from typing import List, Optional

FILE_NAME = "accepted_spans.json"


def state_file(pipeline_root: str) -> str:
    return os.path.join(pipeline_root, FILE_NAME)


def _key(data_root: str) -> str:
    return data_root.rstrip("/") if "://" in data_root else os.path.abspath(data_root)


def _read(path: str) -> dict:
    import tensorflow as tf  # its file systems read gs:// too

    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        text = f.read()
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(f"{path}: not the drift gate's record of accepted spans (bad JSON); "
                         "expected {data_root: [spans]}, or remove the file") from None
    return data if isinstance(data, dict) else {}


def accepted(path: str, data_root: str) -> List[int]:
    """The spans of ``data_root`` the gate accepted, sorted."""
    return sorted(int(k) for k in _read(path).get(_key(data_root), []))


def reference_span(path: Optional[str], data_root: str, span: int) -> Optional[int]:
    """The span to measure ``span``'s drift against (None for span 1)."""
    if span < 2:
        return None
    earlier = [k for k in accepted(path, data_root) if k < span] if path else []
    return earlier[-1] if earlier else span - 1


def record_accepted(path: str, data_root: str, span: int) -> None:
    """Adds ``span`` to ``data_root``'s accepted spans (the file replaced whole)."""
    import tensorflow as tf

    data = _read(path)
    key = _key(data_root)
    data[key] = sorted({*map(int, data.get(key, [])), int(span)})
    folder = os.path.dirname(path)
    tf.io.gfile.makedirs(folder)
    tmp = f"{path}.tmp-{os.getpid()}"
    with tf.io.gfile.GFile(tmp, "w") as f:
        f.write(json.dumps(data, sort_keys=True))
    tf.io.gfile.rename(tmp, path, overwrite=True)
