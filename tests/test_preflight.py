"""Bad data files stop a run before any component, with one line naming the file.

Each case damages a copy of a small, valid data root the way real files get
damaged; the last one goes through local_runner.py as a user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf

from msa_data import contract, preflight, synth
from tests.runner_util import REPO, TINY_MODEL_FLAGS


@pytest.fixture(scope="module")
def good_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("preflight_good"))
    synth.generate(root, size="mosi", seed=0, limit_per_split=6, overwrite=True)
    return root


@pytest.fixture
def root(good_root, tmp_path):
    copy = str(tmp_path / "data")
    shutil.copytree(good_root, copy)
    return copy


def _records(path):
    return [bytes(r) for r in tf.data.TFRecordDataset(path).as_numpy_iterator()]


def _rewrite(path, records):
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)


def _expect(root, *fragments):
    with pytest.raises(preflight.DataFileError) as err:
        preflight.check_data_root(root)
    message = str(err.value)
    assert len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_a_valid_root_passes_with_its_counts(good_root):
    summary = preflight.check_data_root(good_root)
    assert summary.found == {s: (1, 6) for s in contract.SPLITS}
    # every segment's frame counts, as written
    for split in contract.SPLITS:
        segments = list(contract.read_split(contract.split_path(good_root, split)))
        for m in contract.MODALITIES:
            assert summary.frame_counts[split][m].tolist() == [len(s.frames(m)) for s in segments]


def test_truncated_file_names_file_and_record(root):
    path = contract.split_path(root, "train")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size - 100)  # cuts into the last record
    _expect(root, path, "record 5", "truncated or corrupt")


def test_flipped_byte_fails_the_crc(root):
    path = contract.split_path(root, "valid")
    with open(path, "r+b") as f:
        f.seek(40)  # inside the first record's data
        byte = f.read(1)
        f.seek(40)
        f.write(bytes([byte[0] ^ 0xFF]))
    _expect(root, path, "record 0", "bad length or CRC")


def test_stray_non_tfrecord_file_matched_by_the_pattern(root):
    stray = os.path.join(root, "test.tfrecord.tmp")
    with open(stray, "w") as f:
        f.write("half a copy, not a TFRecord\n")
    _expect(root, stray, "record 0")


def test_empty_split(root):
    _rewrite(contract.split_path(root, "valid"), [])
    _expect(root, "split 'valid' has no examples", "valid.tfrecord")


def _with_first_example_changed(root, change):
    path = contract.split_path(root, "train")
    records = _records(path)
    example = tf.train.Example.FromString(records[2])
    change(example.features.feature)
    records[2] = example.SerializeToString()
    _rewrite(path, records)
    return path


def test_feature_of_the_wrong_type(root):
    def audio_as_bytes(features):
        features["audio"].bytes_list.value.append(b"oops")  # replaces the float list

    path = _with_first_example_changed(root, audio_as_bytes)
    _expect(root, path, "record 2", "feature 'audio' is bytes, expected float")


def test_missing_required_feature(root):
    path = _with_first_example_changed(root, lambda f: f.pop(contract.LABEL))
    _expect(root, path, "record 2", "missing required feature 'label'")


def test_record_that_is_not_an_example(root):
    path = contract.split_path(root, "test")
    _rewrite(path, _records(path)[:3] + [b"\xff\xff not a proto"])
    _expect(root, path, "record 3", "not a tf.train.Example")


@pytest.mark.slow  # starts the runner in a subprocess
def test_runner_stops_before_any_component_and_writes_no_store(root, tmp_path):
    path = contract.split_path(root, "train")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 7)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, os.path.join(REPO, "local_runner.py"),
                          "--data-root", root, "--output-dir", str(out), *TINY_MODEL_FLAGS],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stdout + run.stderr
    errors = [ln for ln in run.stdout.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and path in errors[0] and "record 5" in errors[0], run.stdout
    assert not (out / "metadata.sqlite").exists() and not (out / "serving_model").exists()
