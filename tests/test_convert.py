"""msa-convert: every layout round-trips into the data contract, with its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from msa_data import contract, convert
from msa_data.convert_report import REPORT_FILE
from msa_data.readers import make_reader, trim
from msa_data.readers.sdk_align import FrameAverager
from tests import convert_fixtures as fx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write(layout, tmp_path):
    """(format, input path, expected segments, convert kwargs) for one layout."""
    kind, dataset, aligned = layout
    if kind == "mult":
        name = ("mosi_data" if dataset == "mosi" else "mosei_senti_data") + \
            ("" if aligned else "_noalign") + ".pkl"
        path = str(tmp_path / name)
        return "mult", path, fx.write_mult(path, dataset, aligned=aligned), {}
    if kind == "mmsa":
        path = str(tmp_path / dataset.upper() / ("aligned_50.pkl" if aligned else "unaligned_50.pkl"))
        os.makedirs(os.path.dirname(path))
        return "mmsa", path, fx.write_mmsa(path, dataset, aligned=aligned), {}
    if kind == "msa-h5":
        path = str(tmp_path / f"{dataset}_h5")
        return "msa-h5", path, fx.write_msa_h5(path, dataset=dataset), {}
    path = str(tmp_path / "csd")
    expected = fx.write_sdk(path, dataset, unaligned=not aligned)
    return "sdk", path, expected, {"unaligned": not aligned}


LAYOUTS = [("mult", "mosi", True), ("mult", "mosei", False), ("mmsa", "mosi", True),
           ("mmsa", "mosei", False), ("msa-h5", "mosi", True), ("sdk", "mosi", True),
           ("sdk", "mosei", False)]


@pytest.mark.parametrize("layout", LAYOUTS, ids=["-".join(map(str, x)) for x in LAYOUTS])
def test_round_trip(layout, tmp_path):
    fmt, path, expected, kwargs = _write(layout, tmp_path)
    out = str(tmp_path / "out")
    report = convert.convert(fmt, path, out, **kwargs)
    dims = report["dims"]
    lengths = {m: [] for m in contract.MODALITIES}
    nonfinite = {m: 0 for m in contract.MODALITIES}
    for split in contract.SPLITS:
        got = list(contract.read_split(contract.split_path(out, split), dims))
        want = expected[split]
        assert [g.segment_id for g in got] == [w.segment_id for w in want]
        assert report["counts"][split] == len(want)
        for g, w in zip(got, want):
            assert (g.video_id, g.dataset) == (w.video_id, w.dataset)
            assert "b'" not in g.video_id  # bytes ids are decoded
            assert g.label == np.float32(w.label)
            for m in contract.MODALITIES:
                assert g.frames(m).shape == w.frames(m).shape, (g.segment_id, m)
                np.testing.assert_allclose(g.frames(m), w.frames(m), rtol=1e-6, equal_nan=True)
                lengths[m].append(w.frames(m).shape[0])
                nonfinite[m] += int((~np.isfinite(w.frames(m))).sum())
    assert report["format"] == fmt and report["dataset"] == layout[1]
    for m in contract.MODALITIES:
        assert dims[m] == expected["train"][0].frames(m).shape[1]
        stats = report["lengths"][m]
        assert (stats["min"], stats["median"], stats["max"]) == (
            min(lengths[m]), float(np.median(lengths[m])), max(lengths[m]))
        assert report["nonfinite"][m]["values"] == nonfinite[m]
    assert report["nonfinite"]["audio"]["neginf"] > 0  # -inf kept, and counted
    dropped = [d["segment_id"] for d in report["dropped"]["segments"]]
    assert dropped == expected.get("dropped", [])
    with open(os.path.join(out, REPORT_FILE)) as fh:
        assert json.load(fh) == json.loads(json.dumps(report))


def test_sdk_drops_segments_of_videos_outside_the_folds(tmp_path):
    path = str(tmp_path / "csd")
    expected = fx.write_sdk(path, "mosi")
    report = convert.convert("sdk", path, str(tmp_path / "out"))
    assert expected["dropped"] and report["dropped"]["count"] == len(expected["dropped"])
    assert report["dropped"]["by_reason"] == {
        "video not in the standard folds": len(expected["dropped"])}
    # the FACET 4.1 file wins over 4.2 for MOSI; the word (not vector) file is ignored
    assert report["layout"]["files"]["video"] == "CMU_MOSI_Visual_Facet_41.csd"
    assert report["dims"] == fx.SDK_DIMS["mosi"]


def test_padding_rules():
    frames = np.array([[0, 0], [0, 0], [1, 0], [0, 0], [2, 3], [0, 0]], np.float32)
    assert trim.strip_padding(frames, trim.FRONT).shape[0] == 4  # keeps the zero frames inside
    assert trim.strip_padding(frames, trim.END).shape[0] == 5  # only the last frame
    nan_frame = np.array([[0, 0], [0, np.nan], [1, 1]], np.float32)
    assert trim.true_length(nan_frame, trim.FRONT) == 2  # a NaN frame is not padding
    assert trim.true_length(np.zeros((4, 3)), trim.FRONT) == 0
    inf_frame = np.array([[-np.inf, 0], [0, 0]], np.float32)
    assert trim.true_length(inf_frame, trim.END) == 1


def test_frame_averaging_sorted_and_unsorted_agree():
    rng = np.random.default_rng(0)
    iv = np.stack([np.arange(0, 10, 0.1), np.arange(0, 10, 0.1) + 0.1], axis=1)
    feats = rng.standard_normal((len(iv), 4))
    words = np.array([[0.05, 0.32], [1.0, 1.0], [4.0, 5.5], [20.0, 21.0]])
    fast = FrameAverager(feats, iv)
    order = rng.permutation(len(iv))
    slow = FrameAverager(feats[order], iv[order])
    assert fast.sorted and not slow.sorted
    np.testing.assert_allclose(fast.per_word(words), slow.per_word(words))
    assert fast.empty_words == slow.empty_words == 1  # nothing overlaps [20, 21]
    np.testing.assert_allclose(fast.per_word(words)[0], feats[0:4].mean(axis=0))
    np.testing.assert_allclose(np.sort(fast.within(1.0, 1.25), axis=0),
                               np.sort(slow.within(1.0, 1.25), axis=0))


def test_mult_without_dataset_in_the_name_uses_the_folds(tmp_path):
    path = str(tmp_path / "data.pkl")
    fx.write_mult(path, "mosei")
    with make_reader("mult", path) as reader:
        assert reader.dataset == "mosei"  # its video ids are MOSEI fold videos
        assert reader.aligned and reader.dims == fx.MULT_DIMS["mosei"]


def test_overwrite_replaces_existing_output(tmp_path):
    path = str(tmp_path / "mosi_data.pkl")
    fx.write_mult(path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous run")
    assert convert.main(["--format", "mult", "--input", path, "--output", str(out),
                         "--overwrite", "--no-progress"]) == 0
    assert not (out / "old.txt").exists()
    assert sorted(os.listdir(out)) == [REPORT_FILE, "test.tfrecord", "train.tfrecord",
                                       "valid.tfrecord"]
    assert [p for p in os.listdir(tmp_path) if p.startswith(".out")] == []


def test_console_script_shows_progress_and_module_entry_point(tmp_path):
    path = str(tmp_path / "mosi_data.pkl")
    fx.write_mult(path)
    script = os.path.join(os.path.dirname(sys.executable), "msa-convert")
    assert os.path.exists(script), "pip install -e . registers msa-convert"
    for i, cmd in enumerate(([script], [sys.executable, "-m", "msa_data.convert"])):
        out = str(tmp_path / f"out{i}")
        proc = subprocess.run([*cmd, "--format", "mult", "--input", path, "--output", out],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "100%" in proc.stderr and "17/17" in proc.stderr  # the tqdm bar
        assert "train: 8 segments" in proc.stdout
        assert os.path.exists(os.path.join(out, REPORT_FILE))
