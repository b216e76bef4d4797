"""One line saying why a pipeline run failed, for the console."""

from __future__ import annotations

import re
import traceback

from components.data_gate import DataGateError
from components.drift_gate import DriftError
from msa_data.contract import ContractError
from trainer.core.divergence import TrainingDiverged


def failure_reason(exc: BaseException) -> str:
    """A one-line reason for a failed run, from our own errors if any."""
    seen, current = set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (DataGateError, DriftError, ContractError, TrainingDiverged)):
            return str(current).splitlines()[0]
        current = current.__cause__ or current.__context__
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if "No space left on device" in text:
        where = re.search(r"(/\S+?)[;:,]? No space left on device", text)
        return ("No space left on device" + (f" writing {where.group(1)}" if where else "")
                + "; free space under --output-dir and rerun (finished components are reused)")
    for marker in ("contract violation:", "DataGateError:", "DriftError: ",
                   "Trainer: training diverged"):
        at = text.find(marker)
        if at >= 0:
            line = text[at:].splitlines()[0].removeprefix("DriftError: ")
            return line.replace("\\'", "'").split(" [[")[0].strip()
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


# The run's exit code when the pipeline stopped in a component: 4 when the
# drift gate refused the span (a scheduler can tell "look at the data" from
# a crash), else 1.
EXIT_FAILED, EXIT_DRIFT = 1, 4


def exit_code(exc: BaseException) -> int:
    """:data:`EXIT_DRIFT` when the drift gate stopped the run, else :data:`EXIT_FAILED`."""
    seen, current = set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DriftError):
            return EXIT_DRIFT
        current = current.__cause__ or current.__context__
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return EXIT_DRIFT if "DriftError: drift: " in text else EXIT_FAILED
