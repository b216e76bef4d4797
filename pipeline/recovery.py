"""Leaving ML Metadata consistent after a run was interrupted or killed.

LocalDagRunner marks an execution RUNNING when a component starts and
COMPLETE when it publishes. A run stopped in between (Ctrl-C, SIGTERM, a
kill, a crash) leaves that execution RUNNING forever. Nothing reuses it --
the next run starts a new execution, and caching only reuses COMPLETE or
CACHED ones -- but a store that claims work is still running misleads
anyone reading it (``msa-report``, the KFP/MLMD UIs, an operator's query).

Only the holder of the output folder's lock (:mod:`pipeline.run_lock`) may
call :func:`close_interrupted_executions`: holding it proves no other run is
using the store, so every RUNNING execution in it belongs to a dead run.
"""

from __future__ import annotations

import os
from typing import List

from ml_metadata.proto import metadata_store_pb2

from pipeline.results import open_store

INTERRUPTED_KEY = "msa_interrupted"  # custom property set on executions closed here


def node_name(store, execution) -> str:
    """The pipeline node an execution ran (its ``node`` context), else its type."""
    for context in store.get_contexts_by_execution(execution.id):
        if store.get_context_types_by_id([context.type_id])[0].name == "node":
            return context.name.split(".", 1)[-1]
    return store.get_execution_types_by_id([execution.type_id])[0].name.split(".")[-1]


def running_executions(metadata_path: str) -> List[str]:
    """Node names of the executions the store lists as RUNNING."""
    if not os.path.exists(metadata_path):
        return []
    store = open_store(metadata_path)
    return [node_name(store, e) for e in store.get_executions()
            if e.last_known_state == metadata_store_pb2.Execution.RUNNING]


def close_interrupted_executions(metadata_path: str, reason: str) -> List[str]:
    """Marks every RUNNING execution CANCELED (with ``reason``); returns their nodes."""
    if not os.path.exists(metadata_path):
        return []
    store = open_store(metadata_path, writable=True)
    stale = [e for e in store.get_executions()
             if e.last_known_state == metadata_store_pb2.Execution.RUNNING]
    names = [node_name(store, e) for e in stale]
    for execution in stale:
        execution.last_known_state = metadata_store_pb2.Execution.CANCELED
        execution.custom_properties[INTERRUPTED_KEY].string_value = reason
    if stale:
        store.put_executions(stale)
    return names
