"""``msa-report``: what the Evaluator said about a run, readable without a notebook.

    msa-report --output-dir DIR [--run latest|RUN_ID] [--all-slices] [--no-predictions]

Everything is found through ML Metadata (``DIR/metadata.sqlite``): the run's
Evaluator execution, the ModelEvaluation it wrote, the candidate and baseline
models and the examples it read, the ExampleGen's data root (for
``noise_floor.json``) and what the Pusher did. It prints

* a table of slices x metrics (the Evaluator's numbers: TFMA, computed in
  Beam); slices smaller than the run's ``min_slice_size`` are marked;
* the blessing verdict with each threshold, its bound and its value (change
  thresholds are "skipped" when there was no blessed baseline yet);
* the comparison with the baseline model when there was one;

and writes ``DIR/report/index.html``, a self-contained page (inline CSS,
charts as inline SVG images) with the same tables, a scatter plot of
prediction vs label, the 7-class confusion matrix and per-slice bars of MAE
and Acc-2 with example counts and, for the built-in data, the noise floor.

The confusion matrix is the Evaluator's (``confusion_matrix_7``). The
scatter plot needs per-example predictions, which the Evaluator does not
keep: the report runs the evaluated model's ``serving_default`` signature on
the evaluated split (the same Examples artifact the Evaluator read) and
checks that its MAE reproduces the Evaluator's. ``--no-predictions`` skips
this (no TensorFlow model is loaded; the scatter plot is left out).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np

from pipeline import configs

if TYPE_CHECKING:  # the real import is deferred: it loads TFX
    from pipeline.results import RunEvaluation

SliceKey = Tuple[Tuple[str, str], ...]

OVERALL = "overall"
# Table columns: (metric key, header, kind); "frac" values print as percent.
COLUMNS = (
    ("mae", "MAE", "num"),
    ("corr", "Corr", "num"),
    ("acc2_has0", "Acc2 has0%", "frac"),
    ("f1_has0", "F1 has0%", "frac"),
    ("acc2_non0", "Acc2 non0%", "frac"),
    ("f1_non0", "F1 non0%", "frac"),
    ("acc7", "Acc7%", "frac"),
    ("acc5", "Acc5%", "frac"),
)
COMPARED = ("mae", "corr", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc7", "acc5",
            "constant_mae", "mae_gain_over_constant")
KINDS = {key: kind for key, _, kind in COLUMNS}
HIGHER_IS_BETTER = {"corr", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc7", "acc5",
                    "mae_gain_over_constant"}
# Why a run had no baseline model (the Evaluator's inputs say it had none).
NO_BASELINE = "no blessed baseline yet, or the candidate is itself the last blessed model"
# The console shows at most this many slices of one family unless --all-slices.
CONSOLE_ROWS_PER_FAMILY = 12


@dataclasses.dataclass(eq=False)  # compared by identity (holds an array)
class SliceRow:
    key: SliceKey  # () for overall
    candidate: Dict[str, float]
    baseline: Dict[str, float]
    diff: Dict[str, float]
    confusion: Optional[np.ndarray]  # 7x7, true x predicted (candidate)

    @property
    def family(self) -> str:
        return " x ".join(c for c, _ in self.key) if self.key else OVERALL

    @property
    def value(self) -> str:
        return " / ".join(v for _, v in self.key) if self.key else OVERALL

    @property
    def name(self) -> str:
        return f"{self.family}={self.value}" if self.key else OVERALL

    @property
    def count(self) -> int:
        n = self.candidate.get("example_count", math.nan)
        return int(n) if math.isfinite(n) else 0

    @property
    def small(self) -> bool:
        return self.candidate.get("small_slice", 0.0) >= 0.5


@dataclasses.dataclass
class Check:
    """One blessing threshold: what it asks, the value, and how it went."""

    metric: str
    slice: str
    kind: str  # "value" or "change"
    bound: str
    value: Optional[float]
    status: str  # "passed", "FAILED" or "skipped"
    note: str = ""


@dataclasses.dataclass
class Predictions:
    labels: np.ndarray
    predictions: np.ndarray
    mae_recomputed: float


@dataclasses.dataclass
class Report:
    run: RunEvaluation
    split: str
    rows: List[SliceRow]
    checks: List[Check]
    validation_ok: Optional[bool]
    min_slice_size: Optional[int]
    noise_floor: Optional[float]
    noise_floor_path: Optional[str]
    predictions: Optional[Predictions] = None
    notes: List[str] = dataclasses.field(default_factory=list)

    @property
    def overall(self) -> SliceRow:
        return next(r for r in self.rows if not r.key)

    @property
    def has_baseline(self) -> bool:
        return self.run.baseline_model_uri is not None


# --------------------------------------------------------------------------
# Loading


def _tfma():
    import logging

    import tensorflow_model_analysis as tfma

    # tfma.load_* warn about TF's deprecated tf_record_iterator on every call.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return tfma


def _slice_value(single) -> str:
    if single.HasField("bytes_value"):
        return single.bytes_value.decode("utf-8", "replace")
    if single.HasField("int64_value"):
        return str(single.int64_value)
    return repr(single.float_value)


def _metric_value(value):
    if value.HasField("double_value"):
        return value.double_value.value
    if value.HasField("array_value"):
        array = value.array_value
        values = (list(array.int64_values) or list(array.int32_values)
                  or list(array.float64_values) or list(array.float32_values))
        return np.asarray(values).reshape(list(array.shape))
    return None


def read_slices(evaluation_uri: str) -> List[SliceRow]:
    """Every slice's candidate, baseline and diff metrics from a TFMA output."""
    tfma = _tfma()
    rows: Dict[SliceKey, SliceRow] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        if slice_metrics.HasField("cross_slice_key"):
            continue
        key = tuple((s.column, _slice_value(s)) for s in slice_metrics.slice_key.single_slice_keys)
        row = rows.setdefault(key, SliceRow(key, {}, {}, {}, None))
        for kv in slice_metrics.metric_keys_and_values:
            value = _metric_value(kv.value)
            if value is None:
                continue
            if kv.key.is_diff:
                target = row.diff
            elif kv.key.model_name == "baseline":
                target = row.baseline
            else:
                target = row.candidate
            if isinstance(value, np.ndarray):
                if kv.key.name == "confusion_matrix_7" and target is row.candidate:
                    row.confusion = value.astype(np.int64)
                continue
            target[kv.key.name] = float(value)
    return sort_rows(rows.values())


def _family_order():
    from pipeline import evaluation

    return {" x ".join(keys) if keys else OVERALL: i for i, keys in enumerate(evaluation.SLICES)}


def _value_order(family: str):
    from trainer import preprocessing

    orders = {
        preprocessing.POLARITY: preprocessing.POLARITY_NAMES,
        preprocessing.TEXT_LEN_BUCKET: tuple(n for n, _, _ in preprocessing.TEXT_LEN_BUCKETS),
    }
    order = orders.get(family)
    return {v: i for i, v in enumerate(order)} if order else None


def sort_rows(rows) -> List[SliceRow]:
    families = _family_order()

    def sort_key(row: SliceRow):
        parts = []
        for column, value in row.key:
            order = _value_order(column)
            parts.append((order.get(value, len(order)) if order else 0, value))
        return (families.get(row.family, len(families)), row.family, parts)

    return sorted(rows, key=sort_key)


def _eval_config(json_text: str):
    from google.protobuf import json_format

    tfma = _tfma()
    return json_format.Parse(json_text, tfma.EvalConfig()) if json_text else tfma.EvalConfig()


def _min_slice_size(eval_config) -> Optional[int]:
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            if metric.class_name == "SmallSlice":
                from tensorflow_model_analysis.metrics import metric_specs

                return int(metric_specs.metric_instance(metric).kwargs["params"]["min_slice_size"])
    return None


def _slice_spec_name(spec) -> str:
    if spec is None:
        return "every slice"
    keys = list(spec.feature_keys) + [f"{k}={v}" for k, v in spec.feature_values.items()]
    return " x ".join(keys) if keys else OVERALL


def _describe_threshold(threshold) -> Tuple[str, str]:
    """(kind, bound) of a TFMA value or change threshold."""
    from tensorflow_model_analysis.proto import config_pb2

    if isinstance(threshold, config_pb2.GenericValueThreshold):
        parts = []
        if threshold.HasField("lower_bound"):
            parts.append(f">= {threshold.lower_bound.value:g}")
        if threshold.HasField("upper_bound"):
            parts.append(f"<= {threshold.upper_bound.value:g}")
        return "value", " and ".join(parts) or "any"
    sign = "<=" if threshold.direction == config_pb2.MetricDirection.LOWER_IS_BETTER else ">="
    parts = []
    if threshold.HasField("absolute"):
        parts.append(f"{sign} baseline {threshold.absolute.value:+g}")
    if threshold.HasField("relative"):
        parts.append(f"{sign} baseline x (1 {threshold.relative.value:+g})")
    return "change", " and ".join(parts)


def blessing_checks(eval_config, validation, overall: SliceRow, has_baseline: bool) -> List[Check]:
    """Each configured threshold with its value and TFMA's verdict on it."""
    from tensorflow_model_analysis.metrics import metric_specs

    failures = []
    for per_slice in validation.metric_validations_per_slice:
        key = tuple((s.column, _slice_value(s)) for s in per_slice.slice_key.single_slice_keys)
        for failure in per_slice.failures:
            failures.append((key, failure))
    checks = []
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(
        eval_config.metrics_specs, eval_config=eval_config)
    for key, entries in thresholds.items():
        if key.model_name == "baseline":
            continue
        for spec, threshold in entries:
            kind, bound = _describe_threshold(threshold)
            slice_name = _slice_spec_name(spec)
            if kind == "change" and not has_baseline:
                checks.append(Check(key.name, slice_name, kind, bound, None, "skipped",
                                    NO_BASELINE + "; TFX's Evaluator drops change thresholds "
                                    "without one"))
                continue
            source = overall.diff if kind == "change" else overall.candidate
            value = source.get(key.name)
            overall_only = spec is not None and slice_name == OVERALL
            failed = [f for k, f in failures
                      if f.metric_key.name == key.name and f.metric_key.is_diff == key.is_diff
                      and (k == () or not overall_only)]
            note = ""
            if kind == "change" and key.name in overall.baseline:
                note = (f"candidate {overall.candidate.get(key.name, math.nan):.4f}, "
                        f"baseline {overall.baseline[key.name]:.4f}")
            if failed and failed[0].message.strip():
                note = (note + "; " if note else "") + failed[0].message.strip()
            checks.append(Check(key.name, slice_name, kind, bound, value,
                                "FAILED" if failed else "passed", note))
    order = {"mae_gain_over_constant": 0, "corr": 1, "mae": 2}
    return sorted(checks, key=lambda c: (order.get(c.metric, 9), c.metric, c.kind))


def _noise_floor(data_root: Optional[str], split: str):
    if not data_root:
        return None, None
    from msa_data import synth

    path = os.path.join(data_root, synth.NOISE_FLOOR_FILE)
    try:
        import tensorflow as tf

        with tf.io.gfile.GFile(path) as f:
            floor = json.load(f)
    except Exception:  # not the built-in data, or moved since the run
        return None, None
    value = floor.get(f"{split}_mae_noise_floor")
    return (float(value), path) if value is not None else (None, None)


def load(output_dir: str, run: str = "latest", predictions: bool = True) -> Report:
    """Everything the report shows, for one run in ``output_dir``."""
    from pipeline import results

    metadata = configs.metadata_path(output_dir)
    if not os.path.exists(metadata):
        raise LookupError(f"no ML Metadata store at {metadata}; is {output_dir} a pipeline "
                          "--output-dir?")
    run_eval = results.run_evaluation(metadata, run)
    tfma = _tfma()
    rows = read_slices(run_eval.evaluation_uri)
    if not any(not r.key for r in rows):
        raise LookupError(f"evaluation {run_eval.evaluation_uri} has no overall slice")
    eval_config = _eval_config(run_eval.eval_config_json)
    validation = tfma.load_validation_result(run_eval.evaluation_uri)
    split = run_eval.example_splits[0] if run_eval.example_splits else configs.EVAL_SPLIT
    overall = next(r for r in rows if not r.key)
    floor, floor_path = _noise_floor(run_eval.data_root, split)
    report = Report(
        run=run_eval, split=split, rows=rows,
        checks=blessing_checks(eval_config, validation, overall,
                               run_eval.baseline_model_uri is not None),
        validation_ok=bool(validation.validation_ok),
        min_slice_size=_min_slice_size(eval_config),
        noise_floor=floor, noise_floor_path=floor_path)
    if run_eval.blessed is not None and run_eval.blessed != report.validation_ok:
        report.notes.append("warning: the ModelBlessing artifact and TFMA's validation result "
                            "disagree")
    if predictions:
        report.predictions = predict(run_eval, split)
        mae = overall.candidate.get("mae", math.nan)
        gap = abs(report.predictions.mae_recomputed - mae)
        if not gap <= 1e-4:
            report.notes.append(
                f"warning: MAE from the report's own predictions ({report.predictions.mae_recomputed:.5f}) "
                f"differs from the Evaluator's ({mae:.5f})")
    return report


def predict(run_eval: RunEvaluation, split: str, batch_size: int = 256) -> Predictions:
    """Runs the evaluated model's serving signature on the evaluated split."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    from tfx.utils import path_utils

    from msa_data import contract
    from trainer import msa_metrics

    model = tf.saved_model.load(path_utils.serving_model_path(run_eval.model_uri))
    serve = model.signatures["serving_default"]
    # TFX's Examples layout: one Split-<name> folder per split.
    files = sorted(tf.io.gfile.glob(os.path.join(run_eval.examples_uri, f"Split-{split}", "*")))
    if not files:
        raise LookupError(f"no examples for split {split!r} under {run_eval.examples_uri}")
    compression = "GZIP" if files[0].endswith(".gz") else ""
    labels, predictions = [], []
    spec = {contract.LABEL: tf.io.FixedLenFeature([], tf.float32)}
    for batch in tf.data.TFRecordDataset(files, compression_type=compression).batch(batch_size):
        labels.append(tf.io.parse_example(batch, spec)[contract.LABEL].numpy())
        output = serve(examples=batch)
        predictions.append(np.asarray(next(iter(output.values()))).reshape(-1))
    y = np.concatenate(labels).astype(np.float64)
    p = np.concatenate(predictions).astype(np.float64)
    return Predictions(y, p, msa_metrics.evaluate(y, p)["mae"])


# --------------------------------------------------------------------------
# Text


def fmt(value: Optional[float], kind: str = "num", width: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        text = "n/a"
    elif kind == "frac":
        text = f"{100 * value:.1f}"
    elif kind == "int":
        text = f"{int(value)}"
    else:
        text = f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return text.rjust(width) if width else text


def _console_rows(rows: Sequence[SliceRow], all_slices: bool) -> List[object]:
    """Rows to print, with '... N more' notes for long families."""
    out: List[object] = []
    by_family: Dict[str, List[SliceRow]] = {}
    for row in rows:
        by_family.setdefault(row.family, []).append(row)
    for family, members in by_family.items():
        if all_slices or len(members) <= CONSOLE_ROWS_PER_FAMILY:
            out.extend(members)
            continue
        shown = sorted(members, key=lambda r: (r.small, -r.candidate.get("mae", 0.0)))
        shown_ids = {id(r) for r in shown[:CONSOLE_ROWS_PER_FAMILY]}
        shown = [r for r in members if id(r) in shown_ids]
        out.extend(shown)
        out.append(f"  ... {len(members) - len(shown)} more {family} slices (shown: the "
                   f"{len(shown)} with the highest MAE; --all-slices prints all)")
    return out


def slice_table(report: Report, all_slices: bool = False) -> str:
    """Slices x metrics, as printed by msa-report and the local runner."""
    name_width = max([len(r.name) for r in report.rows] + [24])
    name_width = min(name_width, 44)
    header = f"  {'slice':<{name_width}} {'n':>6} " + " ".join(
        f"{h:>{max(len(h), 7)}}" for _, h, _ in COLUMNS)
    lines = [header]
    for item in _console_rows(report.rows, all_slices):
        if isinstance(item, str):
            lines.append(item)
            continue
        name = item.name if len(item.name) <= name_width else item.name[:name_width - 1] + "~"
        cells = " ".join(fmt(item.candidate.get(k), kind, max(len(h), 7)) for k, h, kind in COLUMNS)
        mark = "  * too small" if item.small else ""
        lines.append(f"  {name:<{name_width}} {item.count:>6} {cells}{mark}")
    if report.min_slice_size:
        lines.append(f"  * fewer than {report.min_slice_size} examples: reported, too small to "
                     "trust; the blessing gate looks at the overall slice only")
    return "\n".join(lines)


def check_line(c: Check) -> str:
    value = "-" if c.value is None else fmt(c.value)
    what = f"{c.metric} vs baseline" if c.kind == "change" else c.metric
    where = "" if c.slice == OVERALL else f" on {c.slice}"
    return (f"{c.status:<7} {what:<24} {value:>8}  must be {c.bound}{where}"
            + (f"  ({c.note})" if c.note else ""))


def verdict_text(report: Report) -> str:
    verdict = {True: "BLESSED", False: "NOT BLESSED", None: "unknown"}[report.run.blessed]
    lines = [f"  verdict: {verdict}  (thresholds on the overall slice)"]
    lines.extend(f"    {check_line(c)}" for c in report.checks)
    return "\n".join(lines)


def compared_rows(report: Report):
    """(metric, candidate, baseline, diff, 'better'/'worse'/'') on the overall slice."""
    overall = report.overall
    out = []
    for name in COMPARED:
        if name not in overall.candidate:
            continue
        cand = overall.candidate.get(name)
        base = overall.baseline.get(name)
        diff = overall.diff.get(name)
        if diff is None and cand is not None and base is not None:
            diff = cand - base
        verdict = ""
        if diff is not None and not math.isnan(diff) and diff != 0:
            verdict = "better" if (diff > 0) == (name in HIGHER_IS_BETTER) else "worse"
        out.append((name, cand, base, diff, verdict))
    return out


def baseline_text(report: Report) -> str:
    if not report.has_baseline:
        return f"  baseline: none ({NO_BASELINE}; the MAE change check was skipped)"
    lines = [f"  baseline: {report.run.baseline_model_uri} (the last blessed model)",
             f"    {'metric':<24} {'candidate':>10} {'baseline':>10} {'diff':>10}"]
    for name, cand, base, diff, verdict in compared_rows(report):
        kind = KINDS.get(name, "num")
        label = name + ("  %" if kind == "frac" else "")
        lines.append(f"    {label:<24} {fmt(cand, kind, 10)} {fmt(base, kind, 10)} "
                     f"{fmt(diff, kind, 10)}  {verdict}".rstrip())
    return "\n".join(lines)


def summary(report: Report, all_slices: bool = False) -> str:
    """The console summary: header, slice table, verdict, baseline, pushed model."""
    run = report.run
    overall = report.overall
    head = [f"  run {run.run_id}: Evaluator on split {report.split!r} "
            f"({overall.count} examples){' (cached)' if run.cached else ''}",
            f"  model {run.model_uri}"]
    extra = []
    if "constant_mae" in overall.candidate:
        extra.append(f"constant predictor MAE {fmt(overall.candidate['constant_mae'])}")
    if report.noise_floor is not None:
        extra.append(f"noise floor MAE {report.noise_floor:.4f}")
    if extra:
        head.append("  " + ", ".join(extra))
    parts = ["\n".join(head), slice_table(report, all_slices), verdict_text(report),
             baseline_text(report),
             f"  pushed model: {run.pushed_destination or 'none'}"]
    parts.extend(f"  {n}" for n in report.notes)
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------
# CLI


def build_parser():
    import argparse

    p = argparse.ArgumentParser(prog="msa-report", description=__doc__.splitlines()[0])
    p.add_argument("--output-dir", default=configs.DEFAULT_OUTPUT_DIR,
                   help="the pipeline's --output-dir (holds metadata.sqlite)")
    p.add_argument("--run", default="latest",
                   help="pipeline run id (as printed by the runner), or 'latest' (default)")
    p.add_argument("--all-slices", action="store_true", help="print every slice")
    p.add_argument("--no-predictions", action="store_true",
                   help="do not run the model for the scatter plot (tables only)")
    p.add_argument("--html", default=None,
                   help="where to write the page (default: OUTPUT_DIR/report/index.html)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    output_dir = os.path.abspath(args.output_dir)
    if not os.path.exists(configs.metadata_path(output_dir)):
        print(f"error: no ML Metadata store at {configs.metadata_path(output_dir)}; "
              "--output-dir must be a pipeline's output folder", file=sys.stderr)
        return 1
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pipeline import console as console_lib

    log_path = os.path.join(output_dir, "report.log")
    try:
        with console_lib.quiet_libraries(log_path) as (console, _):
            try:
                report = load(output_dir, args.run, predictions=not args.no_predictions)
            except LookupError as err:
                console.write(f"error: {err}\n")
                return 1
            from pipeline import report_html

            html_path = args.html or os.path.join(output_dir, "report", "index.html")
            report_html.write(report, html_path)
            console.write(summary(report, args.all_slices))
            console.write(f"  report: {html_path}\n")
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
