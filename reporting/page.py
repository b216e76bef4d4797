"""The report as one self-contained HTML page (``msa-report``).

The page is ``templates/report.html.j2`` (CSS: ``templates/report.css``),
rendered by an autoescaping jinja2 environment: slice values, paths and notes
are text and escaped there, never by hand. No external resources: the CSS is
inline and every chart is an SVG (:mod:`reporting.charts`) embedded as a
``data:image/svg+xml;base64`` URL, so the page works offline and from a
file:// URL.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import List

import jinja2

from reporting import charts
from reporting.data import (
    NO_BASELINE,
    Report,
    SliceRow,
    group_by_family,
    highest_mae_first,
)
from reporting.tables import (
    COLUMNS,
    KINDS,
    check_value,
    compared_rows,
    fmt,
    pushed_text,
    reference_lines,
)
from reporting.tuning import trial_columns
from trainer.metrics import msa_metrics

# Per family, at most this many bars (the highest MAE first) in a chart.
MAX_BARS = 40


@dataclasses.dataclass
class _Family:
    """One slice family's section: all its rows, and the bar chart of some."""

    name: str
    rows: List[SliceRow]
    shown: int  # rows in the chart
    bars: str  # the chart, as a data: URL


@functools.lru_cache(maxsize=None)
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("reporting", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.filters["check_value"] = check_value
    return env.get_template("report.html.j2")


def _families(report: Report) -> List[_Family]:
    text_only = report.references.get("text_part")
    out = []
    for family, rows in group_by_family(r for r in report.rows if r.key).items():
        shown = highest_mae_first(rows)[:MAX_BARS] if len(rows) > MAX_BARS else rows
        svg = charts.slice_bars_svg(shown, report.overall, report.noise_floor, family, text_only)
        out.append(_Family(family, rows, len(shown), charts.data_url(svg)))
    return out


def render(report: Report) -> str:
    overall = report.overall
    predictions = report.predictions
    scatter = (charts.data_url(charts.scatter_svg(predictions.labels, predictions.predictions))
               if predictions is not None else None)
    confusion = (charts.data_url(charts.confusion_svg(overall.confusion))
                 if overall.confusion is not None else None)
    return _template().render(
        report=report, run=report.run, overall=overall, columns=COLUMNS, kinds=KINDS,
        pushed=pushed_text(report.run), references=reference_lines(report),
        compared=compared_rows(report), no_baseline=NO_BASELINE, scatter=scatter,
        confusion=confusion, families=_families(report),
        text_only=report.references.get("text_part"), definitions=msa_metrics.DEFINITIONS,
        trial_columns=trial_columns(report.trials),
        missing_predictions=any(n.startswith("no scatter plot") for n in report.notes))


def write(report: Report, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render(report))
    os.replace(tmp, path)
    return path
