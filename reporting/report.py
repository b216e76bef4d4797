"""``msa-report``: what the Evaluator said about a run, readable without a notebook.

    msa-report --output-dir DIR [--run latest|RUN_ID] [--all-slices] [--no-predictions]
               [--html PATH]

Everything is found through ML Metadata (``DIR/metadata.sqlite``): the run's
Evaluator execution, the ModelEvaluation it wrote, the candidate and baseline
models and the examples it read, the ExampleGen's data root (for
``noise_floor.json``) and what the Pusher did. It prints

* a table of slices x metrics (the Evaluator's numbers: TFMA, computed in
  Beam); slices smaller than the run's ``min_slice_size`` are marked;
* the blessing verdict with each threshold, its bound and its value (change
  thresholds are "skipped" when there was no blessed baseline yet);
* the comparison with the baseline model when there was one;
* on a data root of spans, the run's span, the drift distances against the
  previous span and the previous span's own evaluation;

and writes ``DIR/report/index.html``, a self-contained page (inline CSS,
charts as inline SVG images) with the same tables, a scatter plot of
prediction vs label, the 7-class confusion matrix and per-slice bars of MAE
and Acc-2 with example counts and, for the built-in data, the noise floor.

The confusion matrix is the Evaluator's (``confusion_matrix_7``). The
scatter plot needs per-example predictions, which the Evaluator does not
keep: the pipeline's BulkInferrer writes them (the evaluated model's
``serving_default`` on the evaluated split) as a tracked InferenceResult,
and the report reads them from there and checks that their MAE reproduces
the Evaluator's. ``--no-predictions`` skips this (the scatter plot is left
out). When the run tuned, the Tuner's trials are shown too.

The parts: :mod:`reporting.data` (slices, noise floor),
:mod:`reporting.predictions` (the BulkInferrer's output),
:mod:`reporting.tuning` (the Tuner's trials),
:mod:`reporting.checks` (blessing thresholds and verdicts),
:mod:`reporting.tables` (the text) and :mod:`reporting.page` (the page, from
``templates/report.html.j2``; charts in :mod:`reporting.charts`).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
from typing import Optional, Sequence

from pipeline import configs
from pipeline import console as console_lib
from reporting import store_check

# The report's parts, re-exported: other code and tests use them as report.X.
from reporting.checks import blessing_checks, min_slice_size, parse_eval_config
from reporting.data import (
    NO_BASELINE,
    OVERALL,
    Check,
    Predictions,
    Report,
    SliceKey,
    SliceRow,
    import_tfma,
    noise_floor,
    read_slices,
    reference_maes,
    sort_rows,
)
from reporting.predictions import read_predictions
from reporting.tables import (
    COLUMNS,
    COMPARED,
    CONSOLE_ROWS_PER_FAMILY,
    HIGHER_IS_BETTER,
    KINDS,
    baseline_text,
    check_line,
    compared_rows,
    fmt,
    slice_table,
    summary,
    verdict_text,
)
from reporting.tuning import read_trials
from trainer.core.metric_names import MAE
from trainer.keras_choice import use_tf_keras

__all__ = [
    "COLUMNS", "COMPARED", "CONSOLE_ROWS_PER_FAMILY", "HIGHER_IS_BETTER", "KINDS", "NO_BASELINE",
    "OVERALL", "Check", "Predictions", "Report", "SliceKey", "SliceRow", "baseline_text",
    "blessing_checks", "build_parser", "check_line", "compared_rows", "fmt", "load", "main",
    "read_predictions", "read_slices", "slice_table", "sort_rows", "summary", "verdict_text",
]


def load(output_dir: str, run: str = "latest", predictions: bool = True) -> Report:
    """Everything the report shows, for one run in ``output_dir``."""
    from pipeline import results

    metadata = configs.metadata_path(output_dir)
    if not os.path.exists(metadata):
        raise LookupError(f"no ML Metadata store at {metadata}; is {output_dir} a pipeline "
                          "--output-dir?")
    run_eval = results.run_evaluation(metadata, run)
    tfma = import_tfma()
    rows = read_slices(run_eval.evaluation_uri)
    if not any(not r.key for r in rows):
        raise LookupError(f"evaluation {run_eval.evaluation_uri} has no overall slice")
    eval_config = parse_eval_config(run_eval.eval_config_json)
    validation = tfma.load_validation_result(run_eval.evaluation_uri)
    split = run_eval.example_splits[0] if run_eval.example_splits else configs.EVAL_SPLIT
    overall = next(r for r in rows if not r.key)
    from pipeline import span_results

    span_lines = span_results.report_lines(metadata, run_eval.run_id)
    data_root = span_results.evaluated_folder(metadata, run_eval.run_id, run_eval.data_root)
    floor, floor_path = noise_floor(data_root, split)
    references = reference_maes(data_root, split)
    report = Report(
        run=run_eval, split=split, rows=rows,
        checks=blessing_checks(eval_config, validation, overall,
                               run_eval.baseline_model_uri is not None),
        validation_ok=bool(validation.validation_ok),
        min_slice_size=min_slice_size(eval_config),
        noise_floor=floor, noise_floor_path=floor_path, references=references,
        trials=read_trials(run_eval.tuner_results_uri))
    report.span_lines = span_lines
    if run_eval.data_overlap:
        report.notes.append("warning: this run's splits were not disjoint (--allow-overlap): "
                            + run_eval.data_overlap)
    if run_eval.blessed is not None and run_eval.blessed != report.validation_ok:
        report.notes.append("warning: the ModelBlessing artifact and TFMA's validation result "
                            "disagree")
    if predictions:
        try:
            report.predictions = read_predictions(run_eval)
        except LookupError as err:
            report.notes.append(f"no scatter plot: {err}")
            return report
        mae = overall.candidate.get(MAE, math.nan)
        gap = abs(report.predictions.mae_recomputed - mae)
        if not gap <= 1e-4:
            report.notes.append(
                f"warning: MAE from the BulkInferrer's predictions ({report.predictions.mae_recomputed:.5f}) "
                f"differs from the Evaluator's ({mae:.5f})")
    return report


# --------------------------------------------------------------------------
# CLI


def build_parser():
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
    reason = store_check.problem(output_dir)  # before anything is written anywhere
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    use_tf_keras()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    # The library log goes beside the store when this user may write there.
    log_path = os.path.join(output_dir, "report.log") if os.access(output_dir, os.W_OK) \
        else os.path.join(tempfile.gettempdir(), f"msa-report-{os.getpid()}.log")
    html_path = args.html or os.path.join(output_dir, "report", "index.html")
    try:
        with console_lib.quiet_libraries(log_path) as (console, _):
            try:
                report = load(output_dir, args.run, predictions=not args.no_predictions)
            except LookupError as err:
                console.write(f"error: {err}\n")
                return 1
            except Exception as err:  # a store MLMD cannot read: one line, the rest logged
                logging.exception("msa-report: reading %s failed", output_dir)
                console.write(f"error: cannot read the run from {configs.metadata_path(output_dir)} "
                              f"({_first_line(err)}); full traceback in {log_path}\n")
                return 1
            from reporting import page

            try:
                page.write(report, html_path)
            except OSError as err:
                console.write(f"error: cannot write the report page {html_path} "
                              f"({err.strerror or _first_line(err)}); expected a folder this "
                              "user can write (choose one with --html)\n")
                return 1
            console.write(summary(report, args.all_slices))
            console.write(f"  report: {html_path}\n")
    except OSError as err:  # the log itself could not be written
        print(f"error: cannot write the report's log {log_path} "
              f"({err.strerror or _first_line(err)}); expected a folder this user can write",
              file=sys.stderr)
        return 1
    except Exception as err:  # anything else: one line here, the traceback in the log
        _append_traceback(log_path)
        print(f"error: msa-report stopped: {_first_line(err)} (full traceback in {log_path})",
              file=sys.stderr)
        return 1
    return 0


def _append_traceback(log_path: str) -> None:
    import traceback

    try:
        with open(log_path, "a") as f:
            f.write(traceback.format_exc())
    except OSError:
        pass  # the one line on the console is what matters


def _first_line(err: BaseException) -> str:
    lines = [ln for ln in str(err).splitlines() if ln.strip()]
    return lines[0][:200] if lines else type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
