"""One writer per output folder, and what an unfinished run leaves behind.

Real processes hold real ``flock``s here; a second local_runner is started
against a held folder exactly as a user's second terminal would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import recovery, run_lock
from tests.runner_util import REPO, TINY_MODEL_FLAGS

HOLDER = """
import sys, time
sys.path.insert(0, {repo!r})
from pipeline import run_lock
with run_lock.hold({folder!r}):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """A live process holding ``tmp_path/out``; yields (process, folder)."""
    folder = str(tmp_path / "out")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(repo=REPO, folder=folder)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc, folder
    proc.kill()
    proc.wait()


def test_second_holder_is_refused_naming_the_first(holder):
    proc, folder = holder
    with pytest.raises(run_lock.OutputFolderBusy, match=rf"pid {proc.pid}\b") as err:
        with run_lock.hold(folder):
            pass
    assert len(str(err.value).splitlines()) == 1 and folder in str(err.value)


@pytest.mark.slow  # starts the runner in a subprocess
def test_second_runner_exits_at_once_and_changes_nothing(holder):
    proc, folder = holder
    before = sorted(os.listdir(folder))
    started = time.perf_counter()
    run = subprocess.run([sys.executable, os.path.join(REPO, "local_runner.py"),
                          "--output-dir", folder, *TINY_MODEL_FLAGS],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 3, run.stdout + run.stderr
    errors = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and f"pid {proc.pid}" in errors[0] and folder in errors[0]
    assert "Traceback" not in run.stderr
    assert sorted(os.listdir(folder)) == before  # no run.log, no store, nothing
    assert time.perf_counter() - started < 60


def test_a_killed_holder_is_taken_over_and_named(holder):
    proc, folder = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with run_lock.hold(folder) as stale:
        assert stale["pid"] == proc.pid
    # a clean exit leaves nothing to take over
    with run_lock.hold(folder) as stale:
        assert stale is None


@pytest.mark.slow  # starts the runner in a subprocess
def test_an_unwritable_output_folder_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folder = str(blocker / "out")  # cannot exist, even for root
    with pytest.raises(run_lock.OutputFolderUnwritable) as err:
        with run_lock.hold(folder):
            pass
    assert folder in err.value.strerror and len(err.value.strerror.splitlines()) == 1
    run = subprocess.run([sys.executable, os.path.join(REPO, "local_runner.py"),
                          "--output-dir", folder], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 2
    lines = [ln for ln in run.stderr.splitlines() if ln.strip() and "cuda" not in ln
             and not ln.startswith("WARNING")]
    assert len(lines) == 1 and lines[0].startswith(f"error: --output-dir {folder}"), run.stderr


def test_unfinished_executions_are_closed_in_mlmd(tmp_path):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    path = str(tmp_path / "metadata.sqlite")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    store = metadata_store.MetadataStore(config)
    type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(name="tfx.Trainer"))
    node_type = store.put_context_type(metadata_store_pb2.ContextType(name="node"))
    [node] = store.put_contexts([metadata_store_pb2.Context(type_id=node_type,
                                                            name="msa.Trainer")])
    states = [metadata_store_pb2.Execution.RUNNING, metadata_store_pb2.Execution.COMPLETE]
    ids = store.put_executions([metadata_store_pb2.Execution(type_id=type_id,
                                                             last_known_state=s)
                                for s in states])
    store.put_attributions_and_associations(
        [], [metadata_store_pb2.Association(execution_id=i, context_id=node) for i in ids])

    assert recovery.running_executions(path) == ["Trainer"]
    assert recovery.close_interrupted_executions(path, "killed") == ["Trainer"]
    assert recovery.running_executions(path) == []
    running, complete = store.get_executions_by_id(ids)
    assert running.last_known_state == metadata_store_pb2.Execution.CANCELED
    assert running.custom_properties[recovery.INTERRUPTED_KEY].string_value == "killed"
    assert complete.last_known_state == metadata_store_pb2.Execution.COMPLETE
    assert recovery.close_interrupted_executions(path, "again") == []
    assert not recovery.close_interrupted_executions(str(tmp_path / "none.sqlite"), "x")


def test_lock_file_names_the_live_holder(holder):
    proc, folder = holder
    with open(os.path.join(folder, run_lock.LOCK_FILE)) as f:
        assert json.load(f)["pid"] == proc.pid


@pytest.mark.slow  # starts the runner in a subprocess
def test_a_full_disk_is_one_line_and_pushes_nothing(tiny_data, tmp_path):
    """The output folder on a 4 MB tmpfs fills up during the run."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        folder = str(mount / "out")
        run = subprocess.run([sys.executable, os.path.join(REPO, "local_runner.py"),
                              "--data-root", tiny_data, "--output-dir", folder,
                              *TINY_MODEL_FLAGS],
                             cwd=REPO, capture_output=True, text=True, timeout=600)
        assert run.returncode == 1, run.stdout + run.stderr
        errors = [ln for ln in run.stdout.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and "No space left on device" in errors[0], run.stdout
        assert "Traceback" not in run.stdout
        serving = os.path.join(folder, "serving_model")
        assert not os.path.exists(serving) or os.listdir(serving) == []
        assert recovery.running_executions(os.path.join(folder, "metadata.sqlite")) == []
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
