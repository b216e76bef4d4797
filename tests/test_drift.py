"""The drift check between spans (msa_data/drift.py, components/drift_gate.py), on real files.

Built-in spans are generated for real (``msa-synth --spans``), read back from
their TFRecords and compared with TFDV's comparators and the per-dim frame
divergences. Transformations the built-in shift does not use (a scale on a
few dims, an offset on one dim, a permutation, another distribution) are
applied to a real span's frames: the gate must be general, not tuned to the
built-in shift.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components import drift_gate
from msa_data import contract, drift, synth, synth_spans
from pipeline import configs, failures

SEGMENTS = 200  # per split: the small end of what a span holds


@pytest.fixture(scope="module")
def schema():
    with open(configs.SCHEMA_PATH, encoding="utf-8") as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


@pytest.fixture(scope="module")
def spans_by_seed(tmp_path_factory):
    """``{seed: (root, {span: SpanData})}``: 3 built-in spans per seed, span 3 shifted."""
    found = {}
    for seed in (0, 1, 2):
        root = str(tmp_path_factory.mktemp(f"spans{seed}"))
        synth.generate_spans(root, 3, shift_span=3 if seed == 0 else None, seed=seed,
                                   limit_per_split=SEGMENTS, overwrite=True)
        found[seed] = (root, {k: drift.read_span(drift.split_files(contract.span_dir(root, k)),
                                                 contract.DEFAULT_DIMS) for k in (1, 2, 3)})
    return found


def _by_name(distances):
    return {d.name: d for d in distances}


def test_unchanged_built_in_spans_never_drift(spans_by_seed, schema):
    for seed, (_, spans) in spans_by_seed.items():
        pairs = ((1, 2),) if seed == 0 else ((1, 2), (2, 3), (1, 3))
        for a, b in pairs:
            distances = drift.compare(spans[a], spans[b], schema)
            assert {d.name for d in distances} == {*drift.EXAMPLE_FEATURES,
                                                   *contract.MODALITIES}
            drifted = [d.line() for d in distances if d.drifted]
            assert drifted == [], (seed, a, b, drifted)
            # well inside the thresholds, not just under them
            for d in distances:
                assert d.distance < d.threshold / 2, (seed, a, b, d)


def test_the_built_in_shift_is_named_video(spans_by_seed, schema):
    root, spans = spans_by_seed[0]
    distances = _by_name(drift.compare(spans[2], spans[3], schema))
    assert distances["video"].drifted and distances["video"].distance > 0.3
    assert [n for n, d in distances.items() if d.drifted] == ["video"]
    assert "mean" in distances["video"].detail and "std" in distances["video"].detail


def _with_frames(span, modality, change):
    frames = span.frames[modality].copy()
    real = np.any(frames != 0, axis=1)
    frames[real] = change(frames[real]).astype(np.float32)
    return dataclasses.replace(span, frames={**span.frames, modality: frames})


CHANGES = {
    "scale x1.5 on dims 10-12": lambda x: np.concatenate(
        [x[:, :10], x[:, 10:13] * 1.5, x[:, 13:]], axis=1),
    "offset +0.5 on dim 20": lambda x: x + 0.5 * (np.arange(x.shape[1]) == 20),
    "scale x1.2 on every dim": lambda x: x * 1.2,
    "dims reversed": lambda x: x[:, ::-1],
    "a uniform extractor, same mean and std": lambda x: (
        np.random.default_rng(1).uniform(-np.sqrt(3), np.sqrt(3), x.shape) * x.std(0)
        + x.mean(0)),
    "min-max scaled to [0, 1]": lambda x: (x - x.min(0)) / (x.max(0) - x.min(0) + 1e-9),
}


@pytest.mark.parametrize("name", CHANGES)
@pytest.mark.parametrize("modality", ["video", "audio"])
def test_any_shift_of_a_modality_is_caught_and_named(spans_by_seed, schema, name, modality):
    _, spans = spans_by_seed[1]
    shifted = _with_frames(spans[2], modality, CHANGES[name])
    distances = _by_name(drift.compare(spans[1], shifted, schema))
    assert [n for n, d in distances.items() if d.drifted] == [modality], name


def test_length_and_dataset_drift_use_tfdvs_comparators(spans_by_seed, schema):
    _, spans = spans_by_seed[1]
    longer = dataclasses.replace(spans[2], lengths={
        k: v * 2 for k, v in spans[2].lengths.items()}, datasets=[b"mosei"] * len(
            spans[2].datasets))
    distances = _by_name(drift.compare(spans[1], longer, schema))
    assert distances["text_len"].drifted and distances["text_len"].measure.startswith("Jensen")
    assert distances["dataset"].distance == pytest.approx(1.0)
    assert distances["dataset"].measure == "L-infinity distance"
    assert not distances["video"].drifted


def test_thresholds_come_from_the_schema_and_flags_override_them(spans_by_seed, schema):
    assert drift.schema_thresholds(schema)["video"] == pytest.approx(0.02)
    _, spans = spans_by_seed[0]
    distances = _by_name(drift.compare(spans[2], spans[3], schema, {"video": 0.99}))
    assert distances["video"].threshold == 0.99 and not distances["video"].drifted


def test_null_bias_takes_sampling_noise_off():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(800, 3)), rng.normal(size=(800, 3))
    assert drift.frame_distances(a, b).max() < 0.004
    assert drift.null_bias(21, 800, 800) > 0.005  # what the noise alone would have added


def test_the_gate_refuses_in_one_line_or_records_with_allow(spans_by_seed, schema):
    root, _ = spans_by_seed[0]
    current = contract.span_dir(root, 3)
    with pytest.raises(drift_gate.DriftError) as refused:
        drift_gate.check(current, 3, root, schema, {}, contract.DEFAULT_DIMS, allow=False)
    line = str(refused.value)
    assert "\n" not in line and line.startswith("drift: span 3 against span 2: video: ")
    assert "--allow-drift" in line
    assert failures.exit_code(refused.value) == failures.EXIT_DRIFT == 4
    assert failures.failure_reason(refused.value) == line
    record = drift_gate.check(current, 3, root, schema, {}, contract.DEFAULT_DIMS, allow=True)
    assert record["drifted"] == ["video"] and record["allowed"] and record["line"] == line
    assert record["previous_span"] == 2 and len(record["distances"]) == 8
    first = drift_gate.check(contract.span_dir(root, 1), 1, root, schema, {},
                             contract.DEFAULT_DIMS, allow=False)
    assert first["previous_span"] is None and first["distances"] == []


def test_a_refused_span_is_never_the_reference_of_the_next(schema, tmp_path):
    """A new camera from span 3 on: span 4 looks just like span 3, but is compared with
    span 2, the last accepted span, and refused too; once allowed, it is the reference."""
    import shutil

    from pipeline import drift_reference

    root = str(tmp_path / "spans")
    synth.generate_spans(root, 3, shift_span=3, limit_per_split=SEGMENTS)
    shutil.copytree(contract.span_dir(root, 3), contract.span_dir(root, 4))
    state = drift_reference.state_file(str(tmp_path / "pipeline_root"))

    def gate(span, allow=False):
        return drift_gate.check(contract.span_dir(root, span), span, root, schema, {},
                                contract.DEFAULT_DIMS, allow=allow, state_file=state)

    assert gate(1)["previous_span"] is None and gate(2)["previous_span"] == 1
    with pytest.raises(drift_gate.DriftError, match="span 3 against span 2: video"):
        gate(3)
    assert drift_reference.accepted(state, root) == [1, 2]
    with pytest.raises(drift_gate.DriftError, match="span 4 against span 2: video"):
        gate(4)  # against span 3 it would have passed: the same frames
    record = gate(4, allow=True)  # the operator accepts the new camera
    assert record["previous_span"] == 2 and record["allowed"]
    assert drift_reference.accepted(state, root) == [1, 2, 4]
    assert drift_reference.reference_span(state, root, 5) == 4
    assert drift_reference.reference_span(state, root, 3) == 2
    # nothing recorded: the span numbered before it
    assert drift_reference.reference_span(str(tmp_path / "none.json"), root, 4) == 3


def test_served_requests_are_compared_with_the_training_data(spans_by_seed, schema, tmp_path):
    from components import skew_check

    root, _ = spans_by_seed[0]
    training = contract.span_dir(root, 2)
    for name, span, skewed in (("same", 1, []), ("shifted", 3, ["video"])):
        served = str(tmp_path / name)
        count = synth_spans.write_serving_requests(contract.span_dir(root, span), "test",
                                                   served)
        record = skew_check.check(training, served, schema, {}, contract.DEFAULT_DIMS)
        assert record["requests"] == count and record["skewed"] == skewed, record["line"]
        names = {d["name"] for d in record["distances"]}
        assert names == {"text_len", "audio_len", "video_len", *contract.MODALITIES}
        assert record["line"].startswith("warning: serving data" if skewed else
                                         "serving data")
