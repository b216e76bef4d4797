"""What a finished run produced, looked up through ML Metadata.

Artifacts are found by type in MLMD (never by guessing folder names): the
newest ModelEvaluation with its metrics and blessing verdict, and the
newest PushedModel that was actually pushed.
"""

from __future__ import annotations

import dataclasses
import math
import traceback
from typing import Dict, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.data_gate import DataGateError
from msa_data.contract import ContractError


@dataclasses.dataclass
class RunResult:
    metrics: Dict[str, float]
    blessed: Optional[bool]
    failed_thresholds: list
    pushed_model: Optional[str]
    evaluation_uri: Optional[str]


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _newest(store, type_name: str, predicate=lambda a: True):
    try:
        artifacts = store.get_artifacts_by_type(type_name)
    except Exception:  # type not registered yet: the component never ran
        return None
    live = [a for a in artifacts if a.state == metadata_store_pb2.Artifact.LIVE and predicate(a)]
    return max(live, key=lambda a: a.id) if live else None


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
    """Overall-slice metrics of the candidate model from a TFMA output dir."""
    import tensorflow_model_analysis as tfma

    metrics: Dict[str, float] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        if slice_metrics.slice_key.single_slice_keys:
            continue
        for kv in slice_metrics.metric_keys_and_values:
            # Skip the baseline model's values and candidate-minus-baseline diffs.
            if kv.key.model_name == "baseline" or kv.key.is_diff:
                continue
            value = kv.value.double_value.value
            if kv.value.HasField("double_value") and not math.isnan(value):
                metrics[kv.key.name] = value
    return metrics


def latest(metadata_path: str) -> RunResult:
    import tensorflow_model_analysis as tfma

    store = open_store(metadata_path)
    evaluation = _newest(store, "ModelEvaluation")
    # The newest Pusher output says whether *this* run pushed.
    pushed = _newest(store, "PushedModel")
    if pushed is not None and pushed.custom_properties["pushed"].int_value != 1:
        pushed = None
    metrics, blessed, failed = {}, None, []
    if evaluation is not None:
        metrics = overall_metrics(evaluation.uri)
        validation = tfma.load_validation_result(evaluation.uri)
        blessed = bool(validation.validation_ok)
        for slice_failure in validation.metric_validations_per_slice:
            for failure in slice_failure.failures:
                failed.append(f"{failure.metric_key.name}: {failure.message}")
    destination = None
    if pushed is not None and "pushed_destination" in pushed.custom_properties:
        destination = pushed.custom_properties["pushed_destination"].string_value
    return RunResult(metrics, blessed, failed, destination,
                     evaluation.uri if evaluation is not None else None)


def failure_reason(exc: BaseException) -> str:
    """A one-line reason for a failed run, from our own errors if any."""
    seen, current = set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (DataGateError, ContractError)):
            return str(current).splitlines()[0]
        current = current.__cause__ or current.__context__
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    for marker in ("contract violation:", "DataGateError:"):
        at = text.find(marker)
        if at >= 0:
            line = text[at:].splitlines()[0]
            return line.replace("\\'", "'").split(" [[")[0].strip()
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]
