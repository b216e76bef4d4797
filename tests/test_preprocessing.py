"""preprocessing_fn run for real through tf.Transform's Beam implementation."""

from __future__ import annotations

import re
import traceback

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from msa_data import contract
from trainer.core import features
from trainer.transform import preprocessing

pytestmark = pytest.mark.one_worker

DIMS = {"text": 3, "audio": 2, "video": 2}
MAX_LENS = {"text": 4, "audio": 3, "video": 5}


def _instance(seg_id, text, audio, video, label=0.5):
    inst = {
        contract.SEGMENT_ID: seg_id.encode(),
        contract.VIDEO_ID: b"vid",
        contract.DATASET: b"synthetic",
        contract.LABEL: label,
    }
    for name, frames in (("text", text), ("audio", audio), ("video", video)):
        frames = np.asarray(frames, np.float32).reshape(-1, DIMS[name])
        inst[name] = frames.reshape(-1).tolist()
        inst[contract.length_key(name)] = frames.shape[0]
    return inst


def _run(instances, tmp_path):
    metadata = dataset_metadata.DatasetMetadata(
        schema_utils.schema_from_feature_spec(contract.raw_feature_spec()))
    config = {"dims": DIMS, "max_lens": MAX_LENS}

    def fn(inputs):
        return preprocessing.preprocessing_fn(inputs, config)

    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=False):
        (transformed, _), _ = (instances, metadata) | tft_beam.AnalyzeAndTransformDataset(
            fn, output_record_batches=False)
    return {t[contract.SEGMENT_ID].decode(): t for t in transformed}


def _rng_frames(rng, n, dim, scale=1.0, shift=0.0):
    return rng.normal(shift, scale, size=(n, dim)).astype(np.float32)


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    """Segments of very different lengths, incl. 0 and > max_len, and junk values."""
    rng = np.random.default_rng(0)
    lens = [1, 2, 6, 0, 3]
    instances, raw = [], {}
    for i, n in enumerate(lens):
        text = _rng_frames(rng, n, 3, scale=2.0, shift=5.0)
        audio = _rng_frames(rng, max(n, 1), 2, scale=3.0, shift=-1.0)
        video = _rng_frames(rng, n + 1, 2)
        if i == 2:
            audio[0, 1] = -np.inf
            audio[1, 0] = np.nan
            video[2] = 0.0  # an interior all-zero FACET frame is a real frame
        instances.append(_instance(f"s{i}", text, audio, video, label=float(i) - 2))
        raw[f"s{i}"] = {"text": text, "audio": audio, "video": video}
    out = _run(instances, tmp_path_factory.mktemp("tft"))
    return raw, out


def _numpy_stats(raw, modality):
    allf = np.concatenate([r[modality] for r in raw.values()], axis=0).astype(np.float64)
    finite = np.isfinite(allf)
    x = np.where(finite, allf, 0.0)
    n = finite.sum(0)
    mean = x.sum(0) / n
    std = np.sqrt((np.where(finite, x - mean, 0.0) ** 2).sum(0) / n)
    return mean, std


def test_shapes_padding_and_truncation(varied):
    raw, out = varied
    for seg, r in raw.items():
        o = out[seg]
        for m in contract.MODALITIES:
            assert np.asarray(o[m]).shape == (MAX_LENS[m], DIMS[m])
            n = min(len(r[m]), MAX_LENS[m])
            mask = np.asarray(o[features.mask_key(m)])
            np.testing.assert_array_equal(mask, [1] * n + [0] * (MAX_LENS[m] - n))
            # padded positions are exactly zero
            assert np.all(np.asarray(o[m])[n:] == 0.0)


def test_normalisation_uses_real_frames_only(varied):
    raw, out = varied
    for m in contract.MODALITIES:
        mean, std = _numpy_stats(raw, m)
        for seg, r in raw.items():
            n = min(len(r[m]), MAX_LENS[m])
            expected = (r[m][:n].astype(np.float64) - mean) / std
            expected = np.where(np.isfinite(r[m][:n]), expected, 0.0)
            np.testing.assert_allclose(np.asarray(out[seg][m])[:n], expected, rtol=1e-4, atol=1e-4)


def test_nonfinite_cleaned_and_counted(varied):
    raw, out = varied
    o = out["s2"]
    assert o[features.nonfinite_key("audio")] == 2
    assert o[features.nonfinite_key("text")] == 0
    assert np.all(np.isfinite(np.asarray(o["audio"])))
    assert np.asarray(o["audio"])[0, 1] == 0.0 and np.asarray(o["audio"])[1, 0] == 0.0
    # the interior zero frame is real: masked in, and normalised (not left at 0)
    assert np.asarray(o[features.mask_key("video")])[2] == 1
    assert not np.allclose(np.asarray(o["video"])[2], 0.0)


def test_passthrough(varied):
    _, out = varied
    assert out["s4"][contract.LABEL] == pytest.approx(2.0)
    assert out["s4"][contract.VIDEO_ID] == b"vid"
    assert out["s3"][contract.length_key("text")] == 0


def test_padding_never_shifts_statistics(tmp_path):
    """Same real frames, presented as many short or as few long sequences:
    identical normalisation, so padding amount has no influence."""
    rng = np.random.default_rng(1)
    frames = {m: _rng_frames(rng, 6, DIMS[m], scale=2.0, shift=3.0) for m in contract.MODALITIES}
    short = [_instance(f"a{i}", *(frames[m][i * 2:(i + 1) * 2] for m in contract.MODALITIES))
             for i in range(3)]
    long = [_instance("b0", *(frames[m][:3] for m in contract.MODALITIES)),
            _instance("b1", *(frames[m][3:] for m in contract.MODALITIES))]
    out_short = _run(short, tmp_path / "short")
    out_long = _run(long, tmp_path / "long")
    np.testing.assert_allclose(np.asarray(out_short["a0"]["text"])[:2],
                               np.asarray(out_long["b0"]["text"])[:2], rtol=1e-5, atol=1e-5)


def test_dimension_mismatch_names_segment(tmp_path):
    good = _instance("ok", np.zeros((2, 3)), np.zeros((1, 2)), np.zeros((1, 2)))
    bad = _instance("broken_7", np.zeros((2, 3)), np.zeros((1, 2)), np.zeros((1, 2)))
    bad["text"] = bad["text"][:-1]  # 5 values for text_len 2 x dim 3
    with pytest.raises(Exception) as err:
        _run([good, bad], tmp_path)
    # Beam shortens the outer message; the assertion text is in the chain.
    message = "".join(traceback.format_exception(err.value))
    assert "feature text: flattened length" in message and "broken_7" in message


def _parsed(rows):
    """A VarLenFeature as parsing gives it: one list of floats per example."""
    examples = [tf.train.Example(features=tf.train.Features(feature={"x": tf.train.Feature(
        float_list=tf.train.FloatList(value=r))})).SerializeToString() for r in rows]
    return tf.io.parse_example(tf.constant(examples, tf.string),
                               {"x": tf.io.VarLenFeature(tf.float32)})["x"]


@pytest.mark.parametrize("counts, expected, match", [
    ([6, 3, 0, 9], [6, 3, 0, 9], True),
    ([], [], True),
    ([0, 0], [0, 0], True),
    ([6, 3], [3, 6], False),        # same total, values shifted between rows
    ([3, 0, 6], [3, 3, 3], False),  # same total, an empty row where one is expected
    ([6, 3], [6, 6], False),        # too few values
    ([0, 0], [0, 3], False),        # no values at all
])
def test_row_counts_are_checked_exactly(counts, expected, match):
    flat = _parsed([[1.0] * c for c in counts])
    got = preprocessing._counts_match(flat.indices, tf.constant(expected, tf.int64),
                                      tf.size(flat.values, tf.int64))
    assert bool(got) is match


def test_values_shifted_between_segments_name_both():
    # 9 and 3 text values where 2 x 3 and 2 x 3 are declared: the total agrees.
    flat = _parsed([[0.0] * 9, [0.0] * 3])
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        preprocessing.frames_from_flat(flat, tf.constant([2, 2], tf.int64), 3, "text",
                                       tf.constant(["seg_a", "seg_b"]))
    message = str(err.value)
    assert "feature text: flattened length" in message
    assert re.search(r"seg_a.*seg_b.*values:\W+9\W+3\W.*expected:\W+6\W+6", message, re.S), message


def test_slice_keys_for_the_evaluator(varied):
    # labels -2, -1, 0, 1, 2 and text lengths 1, 2, 6, 0, 3 (fixture order)
    _, out = varied
    polarity = {s: out[s][features.POLARITY] for s in out}
    assert polarity == {"s0": b"negative", "s1": b"negative", "s2": b"neutral",
                        "s3": b"positive", "s4": b"positive"}
    bucket = {s: out[s][features.TEXT_LEN_BUCKET] for s in out}
    assert bucket == {"s0": b"1-5", "s1": b"1-5", "s2": b"6-10", "s3": b"0", "s4": b"1-5"}


def test_text_len_bucket_edges():
    lengths = [0, 1, 5, 6, 10, 11, 20, 21, 70, 500]
    got = [b.decode() for b in preprocessing.text_len_bucket(tf.constant(lengths)).numpy()]
    assert got == ["0", "1-5", "1-5", "6-10", "6-10", "11-20", "11-20", "21+", "21+", "21+"]
    for name, first, last in features.TEXT_LEN_BUCKETS:  # the documented edges
        assert name == (f"{first}+" if last is None else
                        str(first) if first == last else f"{first}-{last}")


def test_polarity_from_the_label_sign():
    got = preprocessing.polarity(tf.constant([-3.0, -0.01, 0.0, -0.0, 1e-6, 2.5])).numpy()
    assert [b.decode() for b in got] == ["negative", "negative", "neutral", "neutral",
                                          "positive", "positive"]
