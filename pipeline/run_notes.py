"""What a run knowingly ran on, recorded on its ``pipeline_run`` context in ML Metadata.

``--allow-overlap`` lets a run proceed on splits that share examples or
videos (msa_data/leakage.py). That must stay visible afterwards: the run's
context gets a custom property ``data_overlap`` with the same phrase the
console printed, and ``msa-report`` shows it beside the verdict
(:func:`pipeline.results.run_evaluation` reads it back).
"""

from __future__ import annotations

import logging

from pipeline import results
from pipeline.results import DATA_OVERLAP


def record_overlap(metadata_path: str, started_at: float, text: str) -> bool:
    """Sets ``data_overlap`` on the run context LocalDagRunner created after ``started_at``
    (seconds since the epoch); False when the run stopped before it had one."""
    try:
        store = results.open_store(metadata_path, writable=True)
        runs = [c for c in results.pipeline_runs(store)
                if c.create_time_since_epoch >= int(started_at * 1000) - 1000]
        if not runs:
            return False
        context = runs[0]
        context.custom_properties[DATA_OVERLAP].string_value = text
        store.put_contexts([context])
        return True
    except Exception:  # a note must not turn a finished run into a failed one
        logging.exception("could not record the data overlap in %s", metadata_path)
        return False
