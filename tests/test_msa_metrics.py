"""The MSA metrics against plain numpy/sklearn references, in all three places.

``trainer.metrics.msa_metrics`` (the definitions), the Trainer's streaming Keras
metric and the Evaluator's TFMA metrics (run for real through TFMA's Beam
pipeline, ``tfma.analyze_raw_data``, with slices) must all give the
reference numbers, on random data and on the hard cases.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline import blessing
from tests.metric_reference import NAMES, assert_matches, reference
from trainer.core import metric_names
from trainer.core.config import TrainerConfig
from trainer.metrics import msa_metrics


def mosi_like(rng, n):
    """Labels on the 1/3 grid of averaged annotations (many exact ties), noisy predictions."""
    y = np.round(rng.uniform(-3, 3, n) * 3) / 3
    p = y + rng.normal(0, 0.8, n)
    return y.astype(np.float32), p.astype(np.float32)


# Hard cases: (name, labels, predictions)
HARD_CASES = [
    # exact zeros and half-integer ties for rounding (half to even: 0.5->0, 1.5->2, 2.5->2)
    ("ties_at_0", [0.0, 0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 2.5, 3.0, -1.0],
     [0.0, -0.0, 0.2, -0.0, 0.5, 2.5, -1.5, 3.7, 2.5, 0.0]),
    ("all_labels_0", [0.0] * 12, list(np.linspace(-1.2, 1.3, 12))),
    ("one_class_only", [0.4, 1.0, 2.2, 3.0, 0.6, 1.8], [0.3, -0.2, 2.5, 1.0, 0.1, -1.0]),
    ("constant_pred", [-2.0, -1.0, 0.0, 1.0, 2.0, 2.6], [0.7] * 6),
    ("constant_label", [1.0] * 5, [0.2, 0.9, 1.7, 1.1, -0.3]),
    ("single_example", [1.4], [1.6]),
    ("clipped", [-3.0, 3.0, -2.6, 2.4], [-7.5, 9.0, -2.5, 2.5]),
]


@pytest.mark.parametrize("seed,n", [(0, 686), (1, 37), (2, 2), (3, 4659)])
def test_random_data_matches_reference(seed, n):
    y, p = mosi_like(np.random.default_rng(seed), n)
    assert_matches(msa_metrics.evaluate(y, p), reference(y, p), where=f"seed {seed}: ")


@pytest.mark.parametrize("name,y,p", HARD_CASES, ids=[c[0] for c in HARD_CASES])
def test_hard_cases_match_reference(name, y, p):
    y, p = np.float32(y), np.float32(p)
    got = msa_metrics.evaluate(y, p)
    assert_matches(got, reference(y, p), where=f"{name}: ")


def test_documented_choices():
    # constant predictions: Pearson r undefined -> NaN, never a crash or 0
    assert math.isnan(msa_metrics.evaluate([1.0, 2.0, 3.0], [0.5, 0.5, 0.5])["corr"])
    # near-constant within float noise is still "constant"
    assert math.isnan(msa_metrics.evaluate([1.0, 2.0, 3.0], [0.3, 0.3 + 1e-12, 0.3])["corr"])
    # every label 0: the non0 convention has no examples -> NaN
    zero = msa_metrics.evaluate([0.0, 0.0], [1.0, -1.0])
    assert math.isnan(zero["acc2_non0"]) and math.isnan(zero["f1_non0"])
    assert zero["acc2_has0"] == 0.5
    # an empty slice: NaN everywhere, count 0
    empty = msa_metrics.compute(msa_metrics.empty_stats())
    assert empty["example_count"] == 0
    assert all(math.isnan(v) for k, v in empty.items() if k != "example_count")
    # rounding half to even, like numpy
    assert msa_metrics.rounded_class(np.array([0.5, 1.5, 2.5, -0.5, -2.5, 9.0]), 3).tolist() == \
        [0, 2, 2, 0, -2, 3]
    # the constant predictor's MAE, and NaN constants are ignored
    stats = msa_metrics.batch_stats([1.0, -1.0, 2.0], [0.0, 0.0, 0.0], [0.5, 0.5, math.nan])
    assert msa_metrics.compute(stats)["constant_mae"] == pytest.approx((0.5 + 1.5) / 2)


def test_statistics_merge_by_addition():
    y, p = mosi_like(np.random.default_rng(7), 500)
    parts = [msa_metrics.batch_stats(y[i:i + 33], p[i:i + 33]) for i in range(0, 500, 33)]
    merged = msa_metrics.merge(*parts)
    np.testing.assert_allclose(merged, msa_metrics.batch_stats(y, p), rtol=1e-12, atol=1e-9)
    assert_matches(msa_metrics.compute(merged), reference(y, p))
    conf = msa_metrics.confusion_7(merged)
    assert conf.sum() == 500
    assert np.trace(conf) / 500 == pytest.approx(reference(y, p)["acc7"])


def test_keras_metric_streams_the_same_numbers():
    import tensorflow as tf

    from trainer.metrics.keras_metrics import MSAMetrics

    y, p = mosi_like(np.random.default_rng(3), 203)
    metric = MSAMetrics()
    for i in range(0, len(y), 16):  # streamed batch by batch, as in fit/evaluate
        metric.update_state(tf.constant(y[i:i + 16]), tf.constant(p[i:i + 16, None]))
    got = {k: float(v) for k, v in metric.result().items()}
    assert set(got) == set(msa_metrics.TRAINING_METRIC_NAMES)
    assert_matches(got, reference(y, p), names=msa_metrics.TRAINING_METRIC_NAMES)
    metric.reset_state()
    metric.update_state(tf.constant([0.7, -0.2]), tf.constant([[0.5], [0.5]]))
    after = {k: float(v) for k, v in metric.result().items()}
    assert math.isnan(after["corr"]) and after["mae"] == pytest.approx(0.45)


@pytest.mark.parametrize("name,y,p", HARD_CASES, ids=[c[0] for c in HARD_CASES])
def test_keras_metric_on_the_hard_cases(name, y, p):
    import tensorflow as tf

    from trainer.metrics.keras_metrics import MSAMetrics

    y, p = np.float32(y), np.float32(p)
    metric = MSAMetrics()
    for i in range(0, len(y), 4):
        metric.update_state(tf.constant(y[i:i + 4]), tf.constant(p[i:i + 4, None]))
    got = {k: float(v) for k, v in metric.result().items()}
    assert_matches(got, reference(y, p), names=msa_metrics.TRAINING_METRIC_NAMES, where=f"{name}: ")


# --------------------------------------------------------------------------
# The TF ops behind the Keras metric (trainer.metrics.msa_metrics_tf: XLA-compilable)

# Exact counts; sums of errors and moments to float64 rounding (numpy sums pairwise).
COUNT_INDICES = [msa_metrics.N, msa_metrics.CONST_N, msa_metrics.CONST_ABS_ERR,
                 *range(msa_metrics.HAS0.start, msa_metrics.STATS_SIZE)]
SUM_INDICES = [msa_metrics.ABS_ERR, msa_metrics.SUM_Y, msa_metrics.SUM_P, msa_metrics.SUM_YY,
               msa_metrics.SUM_PP, msa_metrics.SUM_YP]
TF_CASES = HARD_CASES + [
    ("empty", [], []),
    ("zeros_both", [0.0, -0.0, 0.0, 1.0], [0.0, 0.0, -0.0, 0.0]),
    # every .5 tie from -3.5 to 3.5, both as labels and as predictions
    ("halves", list(np.arange(-3.5, 4.0, 1.0)), list(np.arange(3.5, -4.0, -1.0))),
    ("beyond_3", [-3.5, 3.5, -100.0, 1e3, 2.5, -2.5], [4.0, -4.0, 3.49, -3.51, 50.0, -7.0]),
    ("infinite_pred", [1.0, -1.0], [np.inf, -np.inf]),
]


def _tf_stats_runners():
    import tensorflow as tf

    from trainer.metrics import msa_metrics_tf

    def eager(y, p):
        return msa_metrics_tf.batch_stats(tf.constant(y), tf.constant(p)).numpy()

    # reduce_retracing (unknown batch size), as Keras compiles its train step
    graph = tf.function(msa_metrics_tf.batch_stats, reduce_retracing=True)
    xla = tf.function(msa_metrics_tf.batch_stats, jit_compile=True, reduce_retracing=True)
    return {"eager": eager,
            "tf.function": lambda y, p: graph(tf.constant(y), tf.constant(p)).numpy(),
            "jit_compile": lambda y, p: xla(tf.constant(y), tf.constant(p)).numpy()}


def _assert_same_stats(got, want, where):
    assert got.shape == want.shape == (msa_metrics.STATS_SIZE,), where
    np.testing.assert_array_equal(got[COUNT_INDICES], want[COUNT_INDICES], err_msg=where)
    np.testing.assert_allclose(got[SUM_INDICES], want[SUM_INDICES], rtol=1e-12, atol=1e-12,
                               err_msg=where)


def _tf_cases():
    rng = np.random.default_rng(21)
    cases = [(f"random_{n}", *mosi_like(rng, n)) for n in (1, 2, 32, 686)]
    cases += [(name, np.float32(y), np.float32(p)) for name, y, p in TF_CASES]
    return cases


def test_tf_batch_stats_equal_numpy_batch_stats():
    """Eagerly, in a graph and compiled by XLA: the numpy reference's vector."""
    runners = _tf_stats_runners()
    for name, y, p in _tf_cases():
        want = msa_metrics.batch_stats(y, p)
        # (batch,) labels and (batch, 1) predictions, as Keras passes them
        for how, run in runners.items():
            _assert_same_stats(run(y, p[:, None]), want, f"{name} ({how})")


def test_tf_compute_equals_numpy_compute():
    import tensorflow as tf

    from trainer.metrics import msa_metrics_tf

    xla = tf.function(lambda s: msa_metrics_tf.compute(s, NAMES), jit_compile=True)
    for name, y, p in _tf_cases():
        stats = msa_metrics.batch_stats(y, p)
        want = msa_metrics.compute(stats)
        for how, got in (("eager", msa_metrics_tf.compute(tf.constant(stats), NAMES)),
                         ("jit_compile", xla(tf.constant(stats)))):
            assert_matches({k: float(v) for k, v in got.items()}, want, tol=1e-12,
                           where=f"{name} ({how}): ")
    both = msa_metrics_tf.compute(tf.constant(msa_metrics.batch_stats(
        [1.0, -1.0, 2.0], [0.0, 0.0, 0.0], [0.5, 0.5, math.nan])), ["constant_mae"])
    assert float(both["constant_mae"]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown metric"):
        msa_metrics_tf.compute(tf.constant(msa_metrics.empty_stats()), ["mea"])


def test_tf_batch_stats_with_nan_is_the_same_with_and_without_xla():
    """numpy's rounded_class has no class for NaN; the TF ops leave such an example out
    of the 7/5-class counts (mae and corr become NaN), compiled or not."""
    y = np.float32([0.4, np.nan, -1.2, 2.0])
    p = np.float32([np.nan, 0.3, -1.0, 2.2])
    runs = {how: run(y, p) for how, run in _tf_stats_runners().items()}
    for how, got in runs.items():
        np.testing.assert_array_equal(got, runs["eager"], err_msg=how)
    got = runs["eager"]
    assert got[msa_metrics.N] == 4 and np.isnan(got[msa_metrics.ABS_ERR])
    assert got[msa_metrics.C7].sum() == 2 and got[msa_metrics.C5].sum() == 2
    finite = msa_metrics.batch_stats(y[2:], p[2:])
    np.testing.assert_array_equal(got[msa_metrics.C7], finite[msa_metrics.C7])
    assert got[msa_metrics.HAS0].sum() == 4  # NaN >= 0 is false, as in numpy


def test_keras_metric_runs_inside_an_xla_compiled_step():
    import tensorflow as tf

    from trainer.metrics.keras_metrics import MSAMetrics

    y, p = mosi_like(np.random.default_rng(4), 96)
    metric = MSAMetrics()

    @tf.function(jit_compile=True)
    def step(y_batch, p_batch):
        metric.update_state(y_batch, p_batch)
        return metric.result()

    for i in range(0, len(y), 32):
        got = step(tf.constant(y[i:i + 32]), tf.constant(p[i:i + 32, None]))
    got = {k: float(v) for k, v in got.items()}
    assert_matches(got, reference(y, p), names=msa_metrics.TRAINING_METRIC_NAMES)


def test_compiled_model_logs_the_metrics_for_validation():
    import tensorflow as tf

    from trainer.training.keras_model import compile_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0, 0.5])).astype(np.float32)
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
    compile_model(model, TrainerConfig(), "float32", total_steps=4)
    history = model.fit(x, y, validation_data=(x, y), epochs=1, batch_size=16, verbose=0)
    for name in ("mae", "corr", "acc2_has0", "acc2_non0", "f1_has0", "f1_non0", "acc7"):
        assert f"val_{name}" in history.history, sorted(history.history)
    # validation values are over the whole split, not a mean of batch values
    want = reference(y, model.predict(x, verbose=0).reshape(-1))
    assert history.history["val_corr"][0] == pytest.approx(want["corr"], abs=1e-6)
    assert history.history["val_mae"][0] == pytest.approx(want["mae"], abs=1e-6)


# --------------------------------------------------------------------------
# The Evaluator's TFMA metrics, run through TFMA's own Beam pipeline


def _frame(rng):
    """Random 'overall' data plus the hard cases, each its own slice (feature 'case')."""
    import pandas as pd

    rows = []
    y, p = mosi_like(rng, 300)
    rows += [("random", a, b) for a, b in zip(y, p)]
    for name, ys, ps in HARD_CASES:
        rows += [(name, a, b) for a, b in zip(np.float32(ys), np.float32(ps))]
    frame = pd.DataFrame(rows, columns=["case", "label", "prediction"])
    frame["label"] = frame["label"].astype(np.float32)
    frame["prediction"] = frame["prediction"].astype(np.float32)
    frame["video_id"] = [f"v{i % 5}" for i in range(len(frame))]
    return frame


def _raw_data_config(min_slice_size=10, corr_floor=0.1):
    import tensorflow_model_analysis as tfma

    from pipeline import evaluation

    config = evaluation.build_eval_config(
        blessing.BlessingSettings(corr_floor=corr_floor, min_slice_size=min_slice_size))
    del config.model_specs[:]
    config.model_specs.add(label_key="label", prediction_key="prediction")
    del config.slicing_specs[:]
    config.slicing_specs.extend([tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["case"]),
                                 tfma.SlicingSpec(feature_keys=["video_id"])])
    # No Transform here, so no train-mean constant: drop the constant's metrics.
    spec = config.metrics_specs[0]
    constant = {metric_names.TFMA_CLASSES[k] for k in metric_names.CONSTANT_METRICS}
    kept = [m for m in spec.metrics if m.class_name not in constant]
    del spec.metrics[:]
    spec.metrics.extend(kept)
    return tfma.utils.update_eval_config_with_defaults(config, has_baseline=False,
                                                       rubber_stamp=True)


def _analyze(frame, config, out):
    import tensorflow_model_analysis as tfma

    result = tfma.analyze_raw_data(frame, config, output_path=out)
    metrics = {}
    for slice_key, by_output in result.slicing_metrics:
        values = by_output[""][""]
        metrics[slice_key] = {k: (v["doubleValue"] if "doubleValue" in v else v)
                              for k, v in values.items()}
    return metrics, tfma.load_validation_result(out)


@pytest.fixture(scope="module")
def tfma_run(tmp_path_factory):
    frame = _frame(np.random.default_rng(11))
    out = str(tmp_path_factory.mktemp("tfma_raw"))
    metrics, validation = _analyze(frame, _raw_data_config(), out)
    return frame, metrics, validation


def _value(v):
    if isinstance(v, str):  # TFMA's JSON view writes NaN as the string "NaN"
        return float(v)
    return float(v)


def test_tfma_metrics_match_reference_per_slice(tfma_run):
    frame, metrics, _ = tfma_run
    overall = {k: _value(v) for k, v in metrics[()].items() if k in NAMES}
    assert_matches(overall, reference(frame.label, frame.prediction), where="overall: ")
    for case in ["random"] + [c[0] for c in HARD_CASES]:
        got = {k: _value(v) for k, v in metrics[(("case", case),)].items() if k in NAMES}
        part = frame[frame.case == case]
        assert_matches(got, reference(part.label, part.prediction), tol=1e-6, where=f"{case}: ")


def test_tfma_confusion_matrix_and_small_slices(tfma_run):
    frame, metrics, _ = tfma_run
    confusion = metrics[()]["confusion_matrix_7"]["arrayValue"]
    counts = np.asarray([int(v) for v in confusion["int64Values"]]).reshape(confusion["shape"])
    want = np.zeros((7, 7), int)
    for y, p in zip(msa_metrics.rounded_class(frame.label.to_numpy(), 3),
                    msa_metrics.rounded_class(frame.prediction.to_numpy(), 3)):
        want[y + 3, p + 3] += 1
    np.testing.assert_array_equal(counts, want)
    # small slices are reported and marked, not hidden
    assert metrics[(("case", "single_example"),)]["small_slice"] == 1.0
    assert metrics[(("case", "single_example"),)]["example_count"] == 1.0
    assert metrics[(("case", "random"),)]["small_slice"] == 0.0


def test_gate_looks_at_the_overall_slice_only(tfma_run):
    _, metrics, validation = tfma_run
    # a slice with constant predictions has corr NaN, yet the run validates
    assert math.isnan(_value(metrics[(("case", "constant_pred"),)]["corr"]))
    assert validation.validation_ok, validation


def test_nan_corr_fails_the_gate(tmp_path):
    import pandas as pd

    y = np.float32(np.linspace(-2, 2, 40))
    frame = pd.DataFrame({"label": y, "prediction": np.full(40, 0.25, np.float32),
                          "case": "c", "video_id": "v"})
    _, validation = _analyze(frame, _raw_data_config(), str(tmp_path))
    assert not validation.validation_ok
    failed = {f.metric_key.name for s in validation.metric_validations_per_slice
              for f in s.failures}
    assert failed == {"corr"}


def test_corr_floor_is_configurable(tmp_path):
    rng = np.random.default_rng(5)
    y = np.float32(rng.uniform(-3, 3, 200))
    p = np.float32(0.3 * y + rng.normal(0, 1.0, 200))  # r about 0.45
    import pandas as pd

    frame = pd.DataFrame({"label": y, "prediction": p, "case": "c", "video_id": "v"})
    r = reference(y, p)["corr"]
    _, low = _analyze(frame, _raw_data_config(corr_floor=r - 0.05), str(tmp_path / "low"))
    _, high = _analyze(frame, _raw_data_config(corr_floor=r + 0.05), str(tmp_path / "high"))
    assert low.validation_ok and not high.validation_ok


def _recorded(rng, n=686, gain=None, baseline_noise=None):
    """Recorded test-split predictions: labels, a candidate, the train-mean constant and,
    with ``baseline_noise``, a baseline model's predictions."""
    import pandas as pd

    y = np.float32(np.clip(rng.normal(0.0, 1.8, n), -3, 3))
    constant = np.float32(0.1)
    # `gain` scales how much of the label the candidate tracks (0.03 with seed
    # 5: r = 0.16 and 0.4% of the constant's MAE removed, like the model).
    p = np.float32(constant + gain * (y - constant) + rng.normal(0.0, 0.4, n))
    frame = pd.DataFrame({"label": y, "prediction": p,
                          "label_train_mean": np.full(n, constant, np.float32)})
    if baseline_noise is not None:
        frame["baseline_prediction"] = np.float32(y + rng.normal(0.0, baseline_noise, n))
    return frame


def _gate(frame, out, **settings):
    """TFMA's verdict with the default gate on recorded predictions: {check: value} failed."""
    import tensorflow_model_analysis as tfma

    from pipeline import evaluation

    config = evaluation.build_eval_config(blessing.BlessingSettings(**settings))
    del config.model_specs[:]
    config.model_specs.add(name="candidate", label_key="label", prediction_key="prediction")
    baseline = "baseline_prediction" in frame
    if baseline:
        config.model_specs.add(name="baseline", label_key="label",
                               prediction_key="baseline_prediction", is_baseline=True)
    del config.slicing_specs[:]
    config.slicing_specs.append(tfma.SlicingSpec())
    config = tfma.utils.update_eval_config_with_defaults(config, has_baseline=baseline,
                                                         rubber_stamp=True)
    metrics, validation = _analyze(frame, config, out)
    failed = {f.metric_key.name: f.metric_value.double_value.value
              for s in validation.metric_validations_per_slice for f in s.failures}
    assert validation.validation_ok == (not failed)
    return metrics[()], failed


def test_gate_refuses_a_gain_over_the_constant_within_the_noise(tmp_path):
    """A model like the issue's useless one (0.4% of the constant's MAE, r = 0.16 on 686
    examples) is refused by the significance test and by the minimum gain; corr alone let it through."""
    frame = _recorded(np.random.default_rng(5), gain=0.03)
    ref = reference(frame.label, frame.prediction)
    assert ref["corr"] > blessing.CORR_FLOOR  # the old gate's checks all pass
    metrics, failed = _gate(frame, str(tmp_path))
    assert 0 < metrics["mae_gain_over_constant"] < 0.01 * metrics["constant_mae"]
    assert set(failed) == {"gain_over_constant_p", "relative_gain_over_constant"}
    assert failed["gain_over_constant_p"] > 0.05


def test_gate_blesses_a_clearly_better_model_not_significantly_worse_than_the_baseline(
        tmp_path):
    """A useful candidate is blessed even when its MAE is a little above the baseline's:
    within the noise of 686 examples, it is not called worse."""
    rng = np.random.default_rng(1)
    frame = _recorded(rng, gain=0.8)
    # The baseline is the same model; the candidate moves each prediction by 0.05 at random.
    frame["baseline_prediction"] = frame.prediction
    frame["prediction"] = np.float32(frame.prediction + rng.choice([-0.05, 0.05], len(frame)))
    ref = reference(frame.label, frame.prediction)
    base = reference(frame.label, frame.baseline_prediction)
    metrics, failed = _gate(frame, str(tmp_path), mae_tolerance=0.0)
    assert ref["mae"] > base["mae"], (ref["mae"], base["mae"])
    assert failed == {}
    assert metrics["gain_over_constant_p"] < 1e-6
    assert metrics["worse_than_baseline_p"] > 0.01


def test_gate_refuses_a_model_significantly_worse_than_the_baseline(tmp_path):
    frame = _recorded(np.random.default_rng(2), gain=0.8, baseline_noise=0.1)
    metrics, failed = _gate(frame, str(tmp_path))
    assert set(failed) == {"worse_than_baseline_p"}
    assert failed["worse_than_baseline_p"] < 1e-6
    assert metrics["relative_gain_over_constant"] > blessing.MIN_RELATIVE_GAIN


def test_eval_config_attaches_thresholds_to_the_metric_keys():
    """The thresholds' keys are the keys the metrics produce (else TFMA ignores them)."""
    from tensorflow_model_analysis.metrics import metric_specs

    from pipeline import evaluation

    config = evaluation.build_eval_config(blessing.BlessingSettings(0.03, 0.2, 7))
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(config.metrics_specs, config)
    produced = {key for key, _, _ in metric_specs.keys_and_metrics_from_specs(
        config, config.metrics_specs)}
    names = {(k.name, k.is_diff) for k in thresholds}
    assert names == {("gain_over_constant_p", False), ("relative_gain_over_constant", False),
                     ("corr", False), ("worse_than_baseline_p", False)}
    for key, entries in thresholds.items():
        assert key._replace(is_diff=False) in produced, key
        for spec, _ in entries:
            assert spec is not None and not spec.feature_keys  # overall slice only


def test_metric_names_are_the_one_list():
    """trainer.core.metric_names names each TFMA class and the key it computes; the EvalConfig,
    the Keras metric and the SmallSlice default follow it."""
    from pipeline import blessing, evaluation
    from trainer.metrics import tfma_metrics

    for key, class_name in metric_names.TFMA_CLASSES.items():
        assert getattr(tfma_metrics, class_name).METRIC == key, class_name
    config = evaluation.build_eval_config()
    assert ([m.class_name for m in config.metrics_specs[0].metrics]
            == list(metric_names.TFMA_CLASSES.values()))
    assert metric_names.QUALITY == msa_metrics.TRAINING_METRIC_NAMES
    assert set(metric_names.TFMA_CLASSES) - {metric_names.CONFUSION_7, metric_names.SMALL_SLICE} \
        <= set(msa_metrics.DEFINITIONS)
    assert tfma_metrics.SmallSlice().get_config()["min_slice_size"] == blessing.MIN_SLICE_SIZE
