"""Is this folder's ``metadata.sqlite`` a readable store of this pipeline? Asked first.

ML Metadata opened on a bad file answers with raw errors, and may write: a
0-byte file opened read-only gives ``attempt to write a readonly database``.
:func:`problem` looks with the ``sqlite3`` module in read-only mode before
MLMD, or anything that writes a file, is touched, and says in one line what
is wrong: no store, an empty file, not SQLite, locked by a writer, no ML
Metadata tables, no pipeline run, or the runs of another pipeline.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse

from pipeline import configs

EXPECTED = "expected the metadata.sqlite a pipeline run wrote in its --output-dir"


def problem(output_dir: str) -> str:
    """'' when the store can be reported on, else one line saying why not."""
    path = configs.metadata_path(output_dir)
    if not os.path.isdir(output_dir):
        return f"--output-dir {output_dir}: no such folder; {EXPECTED}"
    if not os.access(output_dir, os.R_OK | os.X_OK):
        return f"--output-dir {output_dir}: this user cannot read it; {EXPECTED}"
    if not os.path.exists(path):
        return f"no ML Metadata store at {path}; --output-dir must be a pipeline's output folder"
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        return f"{path}: not a readable file; {EXPECTED}"
    if os.path.getsize(path) == 0:
        return f"{path}: empty (0 bytes); {EXPECTED}"
    try:
        tables, pipelines, runs = _contents(path)
    except sqlite3.OperationalError as err:
        if "locked" in str(err):
            return (f"{path}: locked by another process (a run still writing it?); retry "
                    "when it has finished")
        return f"{path}: cannot be read as SQLite ({err}); {EXPECTED}"
    except sqlite3.DatabaseError as err:
        return f"{path}: not an SQLite database ({err}); {EXPECTED}"
    if not {"Context", "Type", "Execution"} <= tables:
        return f"{path}: an SQLite file without ML Metadata tables; {EXPECTED}"
    if pipelines and configs.PIPELINE_NAME not in pipelines:
        return (f"{path}: the store of pipeline(s) {', '.join(sorted(pipelines))}, not "
                f"{configs.PIPELINE_NAME}; {EXPECTED}")
    if not runs:
        return f"{path}: no pipeline run recorded yet; run the pipeline into {output_dir} first"
    return ""


def _contents(path: str):
    """(table names, pipeline names, pipeline_run count), read-only, waiting 1 s on a lock."""
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=1.0) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"Context", "Type"} <= tables:
            return tables, set(), 0
        by_type = dict(db.execute(
            "SELECT t.name, COUNT(c.id) FROM Type t LEFT JOIN Context c ON c.type_id = t.id "
            "WHERE t.name IN ('pipeline', 'pipeline_run') GROUP BY t.name").fetchall())
        pipelines = {r[0] for r in db.execute(
            "SELECT c.name FROM Context c JOIN Type t ON c.type_id = t.id "
            "WHERE t.name = 'pipeline'")}
    return tables, pipelines, by_type.get("pipeline_run", 0)
