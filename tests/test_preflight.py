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


@pytest.mark.parametrize("make, what", [
    (os.mkfifo, "is a FIFO (named pipe)"),
    (os.mkdir, "is a folder"),
    (lambda path: _bound_socket(path), "is a socket"),
])
def test_a_path_the_pattern_matches_that_is_not_a_regular_file_is_never_opened(root, make,
                                                                               what):
    odd = os.path.join(root, "test.tfrecord-odd")
    make(odd)
    # a FIFO would block the reader forever: the check must not open it
    message = _expect(root, odd, what, "'test.tfrecord*'")
    assert "expected a regular TFRecord file" in message


def _bound_socket(path):
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    sock.close()  # the socket file stays


def test_what_no_split_pattern_matches_is_ignored(root):
    os.mkfifo(os.path.join(root, "notes.fifo"))
    os.mkdir(os.path.join(root, "outputs"))
    assert preflight.check_data_root(root).found == {s: (1, 6) for s in contract.SPLITS}


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (4.5, "4.5"),
                                          (float("-inf"), "-inf")])
def test_a_label_outside_the_domain_names_segment_file_and_split(root, value, shown):
    def set_label(features):
        features[contract.LABEL].float_list.value[0] = value

    path = _with_first_example_changed(root, set_label)
    segment = tf.train.Example.FromString(_records(path)[2]).features.feature[
        contract.SEGMENT_ID].bytes_list.value[0].decode()
    _expect(root, path, repr(segment), "record 2", f"feature 'label' is {shown}",
            "[-3, 3]", "split 'train'")


def test_len_times_dim_is_checked_in_the_users_file_when_dims_are_given(root):
    def drop_one_video_value(features):
        del features["video"].float_list.value[-1]

    path = _with_first_example_changed(root, drop_one_video_value)
    preflight.check_data_root(root)  # without dims: not checked here (DataGate does)
    with pytest.raises(preflight.DataFileError) as err:
        preflight.check_data_root(root, contract.DEFAULT_DIMS)
    assert f"in {path}: feature 'video'" in str(err.value) and "video_len x dim" in \
        str(err.value) and "(record 2)" in str(err.value), str(err.value)


def _overlaps(root):
    return {(o.first, o.second, o.kind): o.count
            for o in preflight.check_data_root(root).overlaps}


def test_disjoint_splits_have_no_overlap(good_root):
    assert _overlaps(good_root) == {}


def test_copied_examples_overlap_by_id_content_and_video(root):
    shutil.copy(contract.split_path(root, "train"), contract.split_path(root, "test"))
    assert _overlaps(root) == {("train", "test", "segment ids"): 6,
                               ("train", "test", "feature contents"): 6,
                               ("train", "test", "videos"): len({
                                   s.video_id for s in contract.read_split(
                                       contract.split_path(root, "train"))})}


def _renamed(root, split, copy_from, segment=True, video=True, content_from=None):
    """Rewrites ``split`` as ``copy_from``'s examples with new ids (and/or new videos)."""
    records = []
    for i, record in enumerate(_records(contract.split_path(root, copy_from))):
        example = tf.train.Example.FromString(record)
        f = example.features.feature
        if segment:
            f[contract.SEGMENT_ID].bytes_list.value[0] = f"renamed_{i}".encode()
        if video:
            f[contract.VIDEO_ID].bytes_list.value[0] = f"other_video_{i}".encode()
        if content_from is not None:
            f[contract.LABEL].float_list.value[0] = content_from(i)
        records.append(example.SerializeToString())
    _rewrite(contract.split_path(root, split), records)


def test_a_renamed_copy_still_overlaps_by_content(root):
    _renamed(root, "valid", "train")
    assert _overlaps(root) == {("train", "valid", "feature contents"): 6}


def test_a_speaker_in_two_splits_overlaps_by_video(root):
    _renamed(root, "valid", "train", video=False, content_from=lambda i: 0.123 + i / 100)
    found = _overlaps(root)
    assert list(found) == [("train", "valid", "videos")] and found[("train", "valid", "videos")] >= 1


def test_unknown_videos_are_not_compared(root):
    for split in ("train", "valid"):
        records = []
        for record in _records(contract.split_path(root, split)):
            example = tf.train.Example.FromString(record)
            example.features.feature[contract.VIDEO_ID].bytes_list.value[0] = b"unknown"
            records.append(example.SerializeToString())
        _rewrite(contract.split_path(root, split), records)
    assert _overlaps(root) == {}
