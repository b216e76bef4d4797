"""MsaPusher's push primitives on a real filesystem (the executor itself runs
in the blessing scenario, tests/test_blessing.py)."""

from __future__ import annotations

import errno
import json
import os

import pytest

from components import msa_pusher


def _model(folder, payload=b"weights"):
    os.makedirs(os.path.join(folder, "variables"))
    with open(os.path.join(folder, "saved_model.pb"), "wb") as f:
        f.write(b"graph")
    with open(os.path.join(folder, "variables", "variables.data"), "wb") as f:
        f.write(payload)
    return str(folder)


def test_digest_follows_content_and_names(tmp_path):
    a = _model(tmp_path / "a")
    b = _model(tmp_path / "b")
    c = _model(tmp_path / "c", payload=b"other weights")
    assert msa_pusher.model_digest(a) == msa_pusher.model_digest(b)
    assert msa_pusher.model_digest(a) != msa_pusher.model_digest(c)
    os.rename(os.path.join(b, "saved_model.pb"), os.path.join(b, "renamed.pb"))
    assert msa_pusher.model_digest(a) != msa_pusher.model_digest(b)


def test_push_writes_a_complete_version_with_its_manifest(tmp_path):
    model = _model(tmp_path / "model")
    base = str(tmp_path / "serving")
    digest = msa_pusher.model_digest(model)
    version, path = msa_pusher.push_atomically(model, base, digest, {"model": "m"})
    assert os.listdir(base) == [version]
    assert path == os.path.join(base, version)
    assert msa_pusher.read_manifest(path) == {"model": "m", "digest": digest, "version": version}
    # the version holds the model's files, byte for byte
    assert msa_pusher.model_digest(path) != digest  # the manifest is extra ...
    os.remove(os.path.join(path, msa_pusher.MANIFEST))
    assert msa_pusher.model_digest(path) == digest  # ... and the rest is the model


def test_versions_never_collide_and_only_grow():
    assert msa_pusher.next_version([], now=100.7) == 100
    assert msa_pusher.next_version([100], now=100.2) == 101  # same second
    assert msa_pusher.next_version([100, 250], now=200) == 251  # clock went back


def test_a_failed_copy_leaves_no_version_and_no_temporary(tmp_path, monkeypatch):
    model = _model(tmp_path / "model")
    base = str(tmp_path / "serving")
    real_copy = msa_pusher.io_utils.copy_dir

    def copy_then_disk_full(src, dst):
        real_copy(src, dst)  # the files land in the temporary folder ...
        raise OSError(errno.ENOSPC, "No space left on device")  # ... then the disk fills

    monkeypatch.setattr(msa_pusher.io_utils, "copy_dir", copy_then_disk_full)
    with pytest.raises(OSError, match="No space left"):
        msa_pusher.push_atomically(model, base, "d", {})
    assert os.listdir(base) == []
    assert msa_pusher.versions(base) == []


def test_stale_temporaries_are_cleared_and_never_count_as_versions(tmp_path):
    base = tmp_path / "serving"
    _model(base / "100")
    _model(base / ".tmp-101-4242")  # a push killed mid-copy
    (base / "notes").mkdir()
    assert msa_pusher.versions(str(base)) == [100]
    assert msa_pusher.clear_stale_temporaries(str(base)) == [".tmp-101-4242"]
    assert sorted(os.listdir(base)) == ["100", "notes"]


def test_manifest_of_an_old_version_without_one_is_empty(tmp_path):
    version = _model(tmp_path / "100")
    assert msa_pusher.read_manifest(version) == {}
    with open(os.path.join(version, msa_pusher.MANIFEST), "w") as f:
        json.dump({"digest": "x"}, f)
    assert msa_pusher.read_manifest(version)["digest"] == "x"
