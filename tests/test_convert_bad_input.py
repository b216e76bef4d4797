"""msa-convert on bad input: exit code != 0, ONE line naming file and key, nothing written."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest

from msa_data import convert
from tests import convert_fixtures as fx


def _run(capsys, *args):
    try:
        code = convert.main([*args, "--no-progress"])
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line(capsys, fmt, path, out, *fragments):
    code, stdout, stderr = _run(capsys, "--format", fmt, "--input", path, "--output", out)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert code not in (0, None), stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("msa-convert: error: ")
    assert "Traceback" not in stderr and stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not os.path.exists(out)  # nothing written ...
    parent = os.path.dirname(out)
    assert not [p for p in os.listdir(parent) if p.startswith(".out.tmp")]  # ... not even temp
    return lines[0]


def _edit_pickle(path, edit):
    with open(path, "rb") as fh:
        data = pickle.load(fh)
    edit(data)
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=4)


@pytest.fixture
def mult(tmp_path):
    path = str(tmp_path / "mosi_data.pkl")
    fx.write_mult(path, counts={"train": 5, "valid": 4, "test": 4})
    return path


@pytest.fixture
def mmsa(tmp_path):
    path = str(tmp_path / "mosi_aligned_50.pkl")
    fx.write_mmsa(path, counts={"train": 5, "valid": 4, "test": 4})
    return path


@pytest.fixture
def h5(tmp_path):
    path = str(tmp_path / "mosi_h5")
    fx.write_msa_h5(path, counts={"train": 5, "valid": 4, "test": 4})
    return path


@pytest.fixture
def sdk(tmp_path):
    path = str(tmp_path / "csd")
    fx.write_sdk(path, "mosi", extra_files=False)
    return path


@pytest.fixture
def out(tmp_path):
    return str(tmp_path / "out")


PICKLE_EDITS = {
    "missing split": (lambda d: d.pop("valid"), "'valid'", "train, valid, test"),
    "missing key": (lambda d: d["train"].pop("labels"), "'train/labels'", "no 'labels'"),
    "label count": (lambda d: d["test"].__setitem__("labels", d["test"]["labels"][:-1]),
                    "'test/labels'", "4 rows", "found 3 rows"),
    "wrong rank": (lambda d: d["valid"].__setitem__("audio", d["valid"]["audio"].reshape(4, -1)),
                   "'valid/audio'", "rank 3", "found rank 2"),
    "non-numeric": (lambda d: d["train"].__setitem__("text", d["train"]["text"].astype(str)),
                    "'train/text'", "numeric", "dtype <U"),
    "width differs": (lambda d: d["test"].__setitem__("vision", d["test"]["vision"][..., :7]),
                      "'test/vision'", "width 20", "width 7"),
}


@pytest.mark.parametrize("case", sorted(PICKLE_EDITS))
def test_mult_bad_structure(case, mult, out, capsys):
    edit, *fragments = PICKLE_EDITS[case]
    _edit_pickle(mult, edit)
    _assert_one_line(capsys, "mult", mult, out, mult, *fragments)


def test_mmsa_missing_key_and_label_count(mmsa, out, capsys):
    _edit_pickle(mmsa, lambda d: d["valid"].pop("regression_labels"))
    _assert_one_line(capsys, "mmsa", mmsa, out, mmsa, "'valid/regression_labels'")
    _edit_pickle(mmsa, lambda d: d["valid"].__setitem__("regression_labels", np.zeros(9)))
    _assert_one_line(capsys, "mmsa", mmsa, out, mmsa, "'valid/regression_labels'", "4 rows",
                     "found 9 rows")
    _edit_pickle(mmsa, lambda d: d["train"].__setitem__("audio_lengths", [99] * 5))
    _assert_one_line(capsys, "mmsa", mmsa, out, "'train/audio_lengths'", "[0, 50]", "99")


def test_truncated_and_unreadable_pickles(mult, out, tmp_path, capsys):
    with open(mult, "rb") as fh:
        head = fh.read(4000)
    truncated = str(tmp_path / "mosi_truncated.pkl")
    with open(truncated, "wb") as fh:
        fh.write(head)
    _assert_one_line(capsys, "mult", truncated, out, truncated, "complete", "truncated")
    garbage = str(tmp_path / "mosi_garbage.pkl")
    with open(garbage, "wb") as fh:
        fh.write(b"this is not a pickle at all")
    _assert_one_line(capsys, "mmsa", garbage, out, garbage, "readable pickle")
    _assert_one_line(capsys, "mult", str(tmp_path), out, str(tmp_path), "expected a file")
    _assert_one_line(capsys, "mult", str(tmp_path / "nope.pkl"), out, "nope.pkl", "existing")


def test_pickle_referring_to_code_is_refused(tmp_path, out, capsys):
    path = str(tmp_path / "mosi_data.pkl")
    with open(path, "wb") as fh:
        pickle.dump({"train": os.system}, fh)
    _assert_one_line(capsys, "mult", path, out, path, "posix.system")


def test_msa_h5_bad_files(h5, out, capsys):
    text = os.path.join(h5, "text_valid_emb.h5")
    with open(text, "rb") as fh:
        head = fh.read(3000)
    with open(text, "wb") as fh:
        fh.write(head)
    _assert_one_line(capsys, "msa-h5", h5, out, text, "readable HDF5")
    os.remove(text)
    _assert_one_line(capsys, "msa-h5", h5, out, text, "no such file")
    fx.write_msa_h5(h5, counts={"train": 5, "valid": 4, "test": 4})
    labels = os.path.join(h5, "y_test.h5")
    with h5py.File(labels, "w") as f:
        f.create_dataset("d1", data=np.zeros((3, 1), np.float32))
    _assert_one_line(capsys, "msa-h5", h5, out, labels, "'d1'", "4 rows", "found 3 rows")
    with h5py.File(labels, "w") as f:
        f.create_dataset("labels", data=np.zeros((4, 1), np.float32))
    _assert_one_line(capsys, "msa-h5", h5, out, labels, "'d1'")
    audio = os.path.join(h5, "audio_train.h5")
    with h5py.File(audio, "w") as f:
        f.create_dataset("d1", data=np.zeros((5, 20 * 74), np.float32))
    _assert_one_line(capsys, "msa-h5", h5, out, audio, "rank 3", "found rank 2")


def test_msa_h5_needs_a_dataset_name(tmp_path, out, capsys):
    folder = str(tmp_path / "h5files")
    fx.write_msa_h5(folder, counts={"train": 4, "valid": 4, "test": 4})
    _assert_one_line(capsys, "msa-h5", folder, out, folder, "--dataset")
    code, _, _ = _run(capsys, "--format", "msa-h5", "--input", folder, "--output", out,
                      "--dataset", "mosei")
    assert code == 0


def test_sdk_bad_files(sdk, out, capsys):
    labels = os.path.join(sdk, "CMU_MOSI_Opinion_Labels.csd")
    with h5py.File(labels, "a") as f:
        video = sorted(f["CMU_MOSI_Opinion_Labels/data"].keys())[0]
        group = f[f"CMU_MOSI_Opinion_Labels/data/{video}"]
        intervals = group["intervals"][()]
        del group["intervals"]
        group.create_dataset("intervals", data=intervals[:-1])
    _assert_one_line(capsys, "sdk", sdk, out, labels, f"data/{video}/intervals", "rows")
    os.remove(labels)
    _assert_one_line(capsys, "sdk", sdk, out, sdk, "label file", "none among")
    covarep = os.path.join(sdk, "CMU_MOSI_COVAREP.csd")
    with open(covarep, "rb") as fh:
        head = fh.read(2000)
    with open(covarep, "wb") as fh:
        fh.write(head)
    fx.write_sdk(sdk + "2", "mosi", extra_files=False)
    os.replace(os.path.join(sdk + "2", "CMU_MOSI_Opinion_Labels.csd"), labels)
    _assert_one_line(capsys, "sdk", sdk, out, covarep, "readable HDF5")


def test_bad_arguments(mult, out, capsys):
    _assert_one_line(capsys, "xml", mult, out, "--format", "mult, mmsa, sdk, msa-h5", "'xml'")
    code, _, err = _run(capsys, "--format", "mult", "--input", mult, "--output", out,
                        "--unaligned")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--unaligned" in err
    code, _, err = _run(capsys, "--format", "mult", "--input", mult)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--output" in err


def test_existing_output_is_never_overwritten_without_flag(mult, out, capsys):
    os.makedirs(out)
    with open(os.path.join(out, "keep.txt"), "w") as fh:
        fh.write("mine")
    code, _, err = _run(capsys, "--format", "mult", "--input", mult, "--output", out)
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert os.listdir(out) == ["keep.txt"]
    # --overwrite with bad input: the old output is still intact
    _edit_pickle(mult, lambda d: d.pop("test"))
    code, _, err = _run(capsys, "--format", "mult", "--input", mult, "--output", out,
                        "--overwrite")
    assert code == 2 and "'test'" in err and os.listdir(out) == ["keep.txt"]
    file_out = os.path.join(os.path.dirname(out), "a_file")
    with open(file_out, "w") as fh:
        fh.write("x")
    code, _, err = _run(capsys, "--format", "mult", "--input", mult, "--output", file_out)
    assert code == 2 and "expected a folder" in err
