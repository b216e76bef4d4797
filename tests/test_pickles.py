"""Loading data pickles: safely, and structure-only (shapes without the bulk)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from msa_data.readers import ReaderError, make_reader, pickles
from pipeline import cli
from tests import convert_fixtures as fx

BIG = np.arange(3_000_000, dtype=np.float32).reshape(1000, 50, 60)  # 12 MB
# ids as fixed-width text, over STRUCTURE_ONLY_BYTES: skipped on disk, then read after all
TEXT_IDS = np.array([[f"video{i:06d}", str(i), "x"] for i in range(30000)])  # 4 MB of '<U11'


def _data():
    return {"train": {"text": BIG, "labels": np.linspace(-3, 3, 1000, dtype=np.float32),
                      "id": np.array([[f"v{i}", str(i), "x"] for i in range(1000)], dtype=object),
                      "text_ids": TEXT_IDS},
            "nested": [BIG[:100], (BIG, 3)]}


def _bytes_read() -> int:
    with open("/proc/self/io") as fh:
        return int(next(line for line in fh if line.startswith("rchar:")).split()[1])


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_structure_only_skips_large_arrays_on_disk(tmp_path, protocol):
    path = str(tmp_path / "data.pkl")
    with open(path, "wb") as fh:
        pickle.dump(_data(), fh, protocol=protocol)
    full = pickles.load_pickle(path)
    before = _bytes_read()
    light = pickles.load_pickle(path, structure_only=True)
    read = _bytes_read() - before
    # the text ids are read; the float arrays (13 MB) are not
    assert read < 1.1 * TEXT_IDS.nbytes + 1e5, read
    assert read + BIG.nbytes < os.path.getsize(path)

    text = light["train"]["text"]
    assert text.shape == BIG.shape and text.dtype == BIG.dtype
    assert not text.any() and not text.flags.writeable  # zeros, not the values
    # small arrays are read whole
    np.testing.assert_array_equal(light["train"]["labels"], full["train"]["labels"])
    assert (light["train"]["id"] == full["train"]["id"]).all()
    np.testing.assert_array_equal(light["train"]["text_ids"], TEXT_IDS)
    # arrays anywhere in lists and tuples
    assert light["nested"][0].shape == (100, 50, 60) and light["nested"][1][0].shape == BIG.shape
    assert light["nested"][1][1] == 3


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_structure_only_reads_everything_but_float_arrays(tmp_path, protocol):
    masks = np.ones((20000, 3, 50), dtype=np.int8)  # 3 MB, e.g. MMSA's text_bert
    nested = np.empty(2, dtype=object)
    nested[0], nested[1] = BIG, np.arange(5)
    note = "x" * 2_000_000  # a long string that is not array data
    path = str(tmp_path / "data.pkl")
    with open(path, "wb") as fh:
        pickle.dump({"masks": masks, "nested": nested, "note": note}, fh, protocol=protocol)
    light = pickles.load_pickle(path, structure_only=True)
    np.testing.assert_array_equal(light["masks"], masks)  # integers are read
    assert light["note"] == note
    assert isinstance(light["nested"][0], np.ndarray) and light["nested"][0].shape == BIG.shape
    np.testing.assert_array_equal(light["nested"][1], np.arange(5))


def test_structure_only_still_refuses_foreign_classes(tmp_path):
    path = str(tmp_path / "evil.pkl")
    with open(path, "wb") as fh:
        pickle.dump({"x": os.system}, fh, protocol=4)
    for structure_only in (False, True):
        with pytest.raises(ReaderError, match="posix.system|os.system"):
            pickles.load_pickle(path, structure_only=structure_only)


@pytest.mark.parametrize("cut", [3, 5_000_000])  # in the header; inside a skipped array
def test_structure_only_truncated_file_is_one_reader_error(tmp_path, cut):
    path = str(tmp_path / "cut.pkl")
    with open(path, "wb") as fh:
        fh.write(pickle.dumps(_data(), protocol=4)[:cut])
    with pytest.raises(ReaderError, match="cut.pkl.*truncated or corrupt"):
        pickles.load_pickle(path, structure_only=True)


@pytest.mark.parametrize("fmt", ["mult", "mmsa"])
def test_structure_only_reader_learns_what_a_full_open_does(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(pickles, "STRUCTURE_ONLY_BYTES", 1024)  # skip even the tiny fixture's
    if fmt == "mult":
        path = str(tmp_path / "mosei_senti_data.pkl")
        fx.write_mult(path, "mosei")
    else:
        path = str(tmp_path / "MOSEI" / "unaligned_50.pkl")
        os.makedirs(os.path.dirname(path))
        fx.write_mmsa(path, "mosei", aligned=False)
    with make_reader(fmt, path) as full:
        expected = (full.dims, full.counts, full.dataset, full.aligned)
    light = make_reader(fmt, path, structure_only=True).open()
    assert (light.dims, light.counts, light.dataset, light.aligned) == expected
    with pytest.raises(RuntimeError, match="structure_only"):
        next(light.iter_split("train"))

    _, options, dims, summary = cli.inspect_source(f"{fmt}:{path}")
    assert dims == expected[0] and options["dataset"] == expected[2] == "mosei"
    assert f"train {expected[1]['train']}" in summary


def test_structure_only_mmsa_still_checks_the_bert_masks(tmp_path, monkeypatch):
    monkeypatch.setattr(pickles, "STRUCTURE_ONLY_BYTES", 1024)
    path = str(tmp_path / "MOSI" / "aligned_50.pkl")
    os.makedirs(os.path.dirname(path))
    fx.write_mmsa(path, "mosi")
    with open(path, "rb") as fh:
        data = pickle.load(fh)
    data["valid"]["text_bert"][1, 1, :] = 1  # a mask longer than the text's 50 frames
    data["valid"]["text"] = data["valid"]["text"][:, :40]
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    for structure_only in (False, True):
        with pytest.raises(ReaderError, match="valid/text_bert.*mask lengths <= 40"):
            make_reader("mmsa", path, structure_only=structure_only).open()
