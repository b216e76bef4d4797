"""CPU, memory and GPU for each task, written into the compiled spec.

Defaults are sized from ``make bench-scale`` at full MOSEI size (22,856
segments): each component's peak RSS there (the whole local process tree,
so an upper bound for one pod), rounded up, with the memory limit at twice
the request for larger data. The ConvertedExampleGen (``--source``) loads
its file whole: ``make bench-source`` measured 1.53x the file's size, so its
request is 1.6x the file plus 1 GB.

Open-source KFP turns ``cpuRequest``/``memoryRequest``/``memoryLimit`` into
the pod's requests and limits (``backend/src/v2/driver``; no CPU limit, so
a task may use idle cores). Vertex AI picks a machine from ``cpuLimit`` and
``memoryLimit``, so there the request is written as the CPU limit. The
accelerator (``--gpus``) goes to the Trainer and the Tuner: its type is a
Kubernetes resource name on KFP (``nvidia.com/gpu``), a Vertex accelerator
name on Vertex (``NVIDIA_L4``, ...).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Iterable, Optional

GPU_TASKS = ("Trainer", "Tuner")
KFP_GPU_RESOURCE = "nvidia.com/gpu"


@dataclasses.dataclass(frozen=True)
class Resources:
    cpu: float  # cores
    memory_gb: float  # requested; the limit is twice this

    @property
    def memory_limit_gb(self) -> float:
        return 2 * self.memory_gb


# Peak RSS at full MOSEI size (docs/benchmarks.md, make bench-scale), rounded up.
DEFAULTS: Dict[str, Resources] = {
    "InputFingerprint": Resources(0.5, 1),
    "ImportExampleGen": Resources(1, 3),     # 2.79 GB
    "StatisticsGen": Resources(1, 2),        # 1.70 GB
    "ImportSchemaGen": Resources(0.5, 1),
    "ExampleValidator": Resources(0.5, 1),
    "DataGate": Resources(1, 2),             # 1.49 GB
    "SequenceLengths": Resources(0.5, 1),    # reads one statistics file
    "Transform": Resources(1, 3),            # 1.78 GB
    "Tuner": Resources(2, 4),
    "Trainer": Resources(2, 4),              # 3.28 GB
    "latest_pushed_model": Resources(0.5, 1),
    "Evaluator": Resources(1, 3),            # 2.04 GB
    "BulkInferrer": Resources(1, 4),         # 3.24 GB
    "Pusher": Resources(0.5, 1),
}
SOURCE_EXAMPLE_GEN = "ConvertedExampleGen"


def source_example_gen(file_bytes: int) -> Resources:
    """The ConvertedExampleGen's share for a source file of ``file_bytes``."""
    return Resources(1, math.ceil(1.6 * file_bytes / 1e9 + 1))


def parse_assignments(values: Iterable[str], flag: str, known: Iterable[str]) -> Dict[str, float]:
    """``["Trainer=8", ...]`` -> ``{"Trainer": 8.0}``; a bad entry raises ValueError naming it."""
    known = set(known)
    out = {}
    for value in values or ():
        name, sep, number = value.partition("=")
        if not sep:
            raise ValueError(f"{flag} {value!r}: expected COMPONENT=NUMBER, e.g. Trainer=8")
        if name not in known:
            raise ValueError(f"{flag} {value!r}: unknown component {name!r}; expected one of "
                             f"{', '.join(sorted(known))}")
        try:
            amount = float(number)
        except ValueError:
            amount = -1.0
        if not amount > 0:
            raise ValueError(f"{flag} {value!r}: expected a positive number after '='")
        out[name] = amount
    return out


def for_tasks(task_names: Iterable[str], cpu: Dict[str, float], memory: Dict[str, float],
              source_bytes: Optional[int] = None) -> Dict[str, Resources]:
    """Each task's resources: the defaults, the --source size, then the flags."""
    table = dict(DEFAULTS)
    if source_bytes is not None:
        table[SOURCE_EXAMPLE_GEN] = source_example_gen(source_bytes)
    out = {}
    for name in task_names:
        base = table.get(name, Resources(1, 2))
        out[name] = Resources(cpu.get(name, base.cpu), memory.get(name, base.memory_gb))
    return out


def resource_spec(res: Resources, target: str, gpus: int = 0,
                  gpu_type: Optional[str] = None) -> Dict:
    """The container's ``resources`` (PipelineContainerSpec.ResourceSpec as JSON)."""
    if target == "vertex":
        spec = {"cpuLimit": res.cpu, "memoryLimit": res.memory_limit_gb}
    else:
        spec = {"cpuRequest": res.cpu, "memoryRequest": res.memory_gb,
                "memoryLimit": res.memory_limit_gb}
    if gpus:
        spec["accelerator"] = {"type": gpu_type or KFP_GPU_RESOURCE, "count": str(gpus)}
    return spec
