"""One line saying why a pipeline run failed, for the console."""

from __future__ import annotations

import re
import traceback

from components.data_gate import DataGateError
from msa_data.contract import ContractError
from trainer.core.divergence import TrainingDiverged


def failure_reason(exc: BaseException) -> str:
    """A one-line reason for a failed run, from our own errors if any."""
    seen, current = set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (DataGateError, ContractError, TrainingDiverged)):
            return str(current).splitlines()[0]
        current = current.__cause__ or current.__context__
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if "No space left on device" in text:
        where = re.search(r"(/\S+?)[;:,]? No space left on device", text)
        return ("No space left on device" + (f" writing {where.group(1)}" if where else "")
                + "; free space under --output-dir and rerun (finished components are reused)")
    for marker in ("contract violation:", "DataGateError:", "Trainer: training diverged"):
        at = text.find(marker)
        if at >= 0:
            line = text[at:].splitlines()[0]
            return line.replace("\\'", "'").split(" [[")[0].strip()
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]
