"""The report as text: slices x metrics, blessing verdict, baseline comparison.

:func:`summary` is what ``msa-report`` and the local runner print. The
column set, number formatting and baseline comparison here are shared with
the HTML page (:mod:`reporting.page`).
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

from reporting.data import (
    NO_BASELINE,
    OVERALL,
    REFERENCE_NAMES,
    Check,
    Report,
    SliceRow,
    group_by_family,
    highest_mae_first,
    signal_captured,
)
from trainer.core import metric_names as names
from trainer.core.metric_names import HIGHER_IS_BETTER

# Column headers of the quality metrics; "%" is added to the fractions.
_HEADERS = {names.MAE: "MAE", names.CORR: "Corr", names.ACC2_HAS0: "Acc2 has0",
            names.F1_HAS0: "F1 has0", names.ACC2_NON0: "Acc2 non0", names.F1_NON0: "F1 non0",
            names.ACC7: "Acc7", names.ACC5: "Acc5"}
# What the tables compare with the baseline: quality, then the constant predictor.
COMPARED = names.QUALITY + (names.CONSTANT_MAE, names.MAE_GAIN)
# Per metric, how it prints: "frac" values as percent.
KINDS = {key: "frac" if key in names.FRACTIONS else "num" for key in COMPARED}
# Slice table columns: (metric key, header, kind).
COLUMNS = tuple((key, _HEADERS[key] + ("%" if KINDS[key] == "frac" else ""), KINDS[key])
                for key in names.QUALITY)
# The console shows at most this many slices of one family unless --all-slices.
CONSOLE_ROWS_PER_FAMILY = 12


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
    for family, members in group_by_family(rows).items():
        if all_slices or len(members) <= CONSOLE_ROWS_PER_FAMILY:
            out.extend(members)
            continue
        shown_ids = {id(r) for r in highest_mae_first(members)[:CONSOLE_ROWS_PER_FAMILY]}
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


def check_value(c: Check) -> str:
    """The checked value as shown, "-" when there was none (a skipped check)."""
    if c.value is not None and c.metric in names.P_VALUES:
        return f"{c.value:.3g}"
    return "-" if c.value is None else fmt(c.value)


def check_line(c: Check) -> str:
    where = "" if c.slice == OVERALL else f" on {c.slice}"
    return (f"{c.status:<7} {c.label:<27} {check_value(c):>9}  must be {c.bound}{where}"
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
        return f"  baseline: none ({NO_BASELINE}; the comparison with it was skipped)"
    lines = [f"  baseline: {report.run.baseline_model_uri} (the last blessed model)",
             f"    {'metric':<24} {'candidate':>10} {'baseline':>10} {'diff':>10}"]
    for name, cand, base, diff, verdict in compared_rows(report):
        kind = KINDS.get(name, "num")
        label = name + ("  %" if kind == "frac" else "")
        lines.append(f"    {label:<24} {fmt(cand, kind, 10)} {fmt(base, kind, 10)} "
                     f"{fmt(diff, kind, 10)}  {verdict}".rstrip())
    return "\n".join(lines)


def reference_lines(report: Report) -> List[str]:
    """The model's MAE beside the reference MAEs, and the share of signal captured."""
    overall = report.overall
    refs = []
    constant = overall.candidate.get(names.CONSTANT_MAE)
    if constant is not None:
        refs.append(f"constant predictor {fmt(constant)}")
    for key, value in report.references.items():
        refs.append(f"{REFERENCE_NAMES[key]} {value:.4f}")
    if report.noise_floor is not None:
        refs.append(f"noise floor {report.noise_floor:.4f}")
    if not refs:
        return []
    lines = [f"MAE {fmt(overall.candidate.get(names.MAE))} | reference MAE: " + ", ".join(refs)]
    captured = signal_captured(overall.candidate.get(names.MAE), constant, report.noise_floor)
    if captured is not None:
        line = (f"the model closes {100 * captured:.1f}% of the gap from the constant "
                "predictor to the noise floor")
        text_only = report.references.get("text_part")
        if text_only is not None:
            beyond = text_only - overall.candidate.get(names.MAE, math.nan)
            line += (f"; {abs(beyond):.4f} {'below' if beyond >= 0 else 'above'} what the text "
                     "alone can reach")
        lines.append(line)
    return lines


def pushed_text(run) -> str:
    """Where the run pushed, or why it did not."""
    if run.pushed_destination:
        return run.pushed_destination
    if run.push_outcome == "unchanged":
        return (f"none (nothing changed: version {run.served_version} already serves "
                "this model)")
    return "none"


def summary(report: Report, all_slices: bool = False) -> str:
    """The console summary: header, slice table, verdict, baseline, pushed model."""
    run = report.run
    overall = report.overall
    head = [f"  run {run.run_id}: Evaluator on split {report.split!r} "
            f"({overall.count} examples){' (cached)' if run.cached else ''}",
            f"  model {run.model_uri}"]
    head.extend(f"  {line}" for line in reference_lines(report))
    head.extend(f"  {line}" for line in report.span_lines)
    parts = ["\n".join(head), slice_table(report, all_slices), verdict_text(report),
             baseline_text(report), f"  pushed model: {pushed_text(run)}"]
    if report.trials:
        from reporting.tuning import trials_text

        parts.append(trials_text(report.trials))
    parts.extend(f"  {n}" for n in report.notes)
    return "\n".join(parts) + "\n"
