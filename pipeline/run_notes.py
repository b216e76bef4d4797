"""What a run knowingly ran on, recorded on its ``pipeline_run`` context in ML Metadata.

``--allow-overlap`` lets a run proceed on splits that share examples or
videos (msa_data/leakage.py). That must stay visible afterwards: the run's
context gets a custom property ``data_overlap`` with the same phrase the
console printed, and ``msa-report`` shows it beside the verdict
(:func:`pipeline.results.run_evaluation` reads it back).

A run on a data root of spans gets ``data_span`` (the span, or the window)
and, when the drift gate refused the span or ``--allow-drift`` let a drifted
one through, ``span_drift`` with the drift's line
(:mod:`pipeline.span_results` reads them back).
"""

from __future__ import annotations

import logging
from typing import List, Optional

from pipeline import results, span_results
from pipeline.results import DATA_OVERLAP


def _record(metadata_path: str, started_at: float, notes: dict) -> bool:
    """Sets ``notes`` on the run context LocalDagRunner created after ``started_at``
    (seconds since the epoch); False when the run stopped before it had one."""
    try:
        store = results.open_store(metadata_path, writable=True)
        runs = [c for c in results.pipeline_runs(store)
                if c.create_time_since_epoch >= int(started_at * 1000) - 1000]
        if not runs:
            return False
        context = runs[0]
        for name, text in notes.items():
            context.custom_properties[name].string_value = text
        store.put_contexts([context])
        return True
    except Exception:  # a note must not turn a finished run into a failed one
        logging.exception("could not record %s in %s", sorted(notes), metadata_path)
        return False


def record_run(metadata_path: str, started_at: float, overlap: str, span_plan,
               error: Optional[BaseException]) -> bool:
    """What the run knowingly ran on: the overlap ``--allow-overlap`` let through, the
    span (``span_plan``, :mod:`pipeline.spans`) and, when the drift gate refused it
    (``error``), the refusal's line."""
    from pipeline import failures

    notes = {DATA_OVERLAP: overlap} if overlap else {}
    if span_plan is not None:
        notes[span_results.DATA_SPAN] = span_results.span_text(span_plan)
    if error is not None and failures.exit_code(error) == failures.EXIT_DRIFT:
        notes[span_results.SPAN_DRIFT] = failures.failure_reason(error)
    elif span_plan is not None:
        drift = _allowed_drift(metadata_path)
        if drift:
            notes[span_results.SPAN_DRIFT] = drift
    return bool(notes) and _record(metadata_path, started_at, notes)


def _allowed_drift(metadata_path: str) -> str:
    """The newest run's drift line when --allow-drift let a drifted span through."""
    try:
        store = results.open_store(metadata_path)
        runs = results.pipeline_runs(store)
        record = span_results.run_drift(store, runs[0]) if runs else None
    except Exception:
        return ""
    return (record or {}).get("line", "")


def finished_lines(metadata_path: str, lengths_at_run_time: bool) -> List[str]:
    """Console lines after a finished run: the lengths chosen inside it (the span and its
    drift come with the evaluation summary, reporting/tables.py)."""
    return list(results.run_time_lengths(metadata_path)) if lengths_at_run_time else []
