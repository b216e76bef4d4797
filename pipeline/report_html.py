"""The report as one self-contained HTML page (``msa-report``).

No external resources: the CSS is inline and every chart is an SVG
(:mod:`pipeline.report_charts`) embedded as a ``data:image/svg+xml;base64``
image. The page works offline and from a file:// URL.
"""

from __future__ import annotations

import os
from typing import Sequence

from pipeline.report_charts import confusion_svg, esc, scatter_svg, slice_bars_svg, svg_img
from pipeline.report_data import NO_BASELINE, Report, SliceRow, group_by_family, highest_mae_first
from pipeline.report_tables import (COLUMNS, KINDS, check_value, compared_rows, fmt,
                                    pushed_text, reference_lines)
from trainer import msa_metrics

# Per family, at most this many bars (the highest MAE first) in a chart.
MAX_BARS = 40

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330;
       margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px;
       border-bottom: 1px solid #d5d9e0; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: #5b6475; font-size: 13px; } .meta code { font-size: 12px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 9px; border-bottom: 1px solid #e6e9ee; text-align: right; }
th { background: #f3f5f8; font-weight: 600; } td.name, th.name { text-align: left; }
tr.small td { color: #8a93a3; } tr.overall td { font-weight: 600; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; font-weight: 600; }
.blessed { background: #d9f2e1; color: #17612f; } .notblessed { background: #fadcdc; color: #8a1c1c; }
.passed { color: #17612f; font-weight: 600; } .FAILED { color: #a61b1b; font-weight: 700; }
.skipped { color: #8a6d00; font-weight: 600; } .better { color: #17612f; } .worse { color: #a61b1b; }
.tag { font-size: 11px; background: #eef0f4; color: #5b6475; border-radius: 4px; padding: 1px 5px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 0; } figcaption { color: #5b6475; font-size: 12px; max-width: 520px; }
.defs td { text-align: left; } .note { color: #8a6d00; }
"""


# --------------------------------------------------------------------------
# Tables


def _slice_table(rows: Sequence[SliceRow]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for _, h, _ in COLUMNS)
    out = [f'<table class="slices"><tr><th class="name">slice</th><th>n</th>{head}<th></th></tr>']
    for r in rows:
        css = "overall" if not r.key else ("small" if r.small else "")
        cells = "".join(f"<td>{esc(fmt(r.candidate.get(k), kind))}</td>" for k, _, kind in COLUMNS)
        tag = '<span class="tag">too small</span>' if r.small else ""
        out.append(f'<tr class="{css}"><td class="name">{esc(r.name)}</td><td>{r.count}</td>'
                   f"{cells}<td>{tag}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _checks_table(report: Report) -> str:
    out = ['<table class="checks"><tr><th class="name">check</th><th>value</th>'
           '<th class="name">must be</th><th class="name">slice</th>'
           '<th class="name">result</th><th class="name">note</th></tr>']
    for c in report.checks:
        out.append(f'<tr><td class="name">{esc(c.label)}</td><td>{esc(check_value(c))}</td>'
                   f'<td class="name">{esc(c.bound)}</td><td class="name">{esc(c.slice)}</td>'
                   f'<td class="name {c.status}">{esc(c.status)}</td>'
                   f'<td class="name">{esc(c.note)}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _baseline_table(report: Report) -> str:
    if not report.has_baseline:
        return (f"<p>No baseline: {esc(NO_BASELINE)}. The MAE change check was skipped and "
                "this model was judged against the constant predictor and the correlation "
                "floor only.</p>")
    out = [f'<p class="meta">baseline model (the last blessed one): '
           f'<code>{esc(report.run.baseline_model_uri)}</code></p>',
           '<table class="baseline"><tr><th class="name">metric</th><th>candidate</th>'
           '<th>baseline</th><th>candidate - baseline</th><th></th></tr>']
    for name, cand, base, diff, verdict in compared_rows(report):
        kind = KINDS.get(name, "num")
        label = name + (" %" if kind == "frac" else "")
        out.append(f'<tr><td class="name">{esc(label)}</td><td>{fmt(cand, kind)}</td>'
                   f'<td>{fmt(base, kind)}</td><td>{fmt(diff, kind)}</td>'
                   f'<td class="{verdict}">{verdict}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _definitions() -> str:
    rows = "".join(f"<tr><td><code>{esc(k)}</code></td><td>{esc(v)}</td></tr>"
                   for k, v in msa_metrics.DEFINITIONS.items())
    return f'<table class="defs">{rows}</table>'


# --------------------------------------------------------------------------
# Page


def render(report: Report) -> str:
    run = report.run
    overall = report.overall
    blessed = run.blessed
    badge = ('<span class="badge blessed">BLESSED</span>' if blessed else
             '<span class="badge notblessed">NOT BLESSED</span>' if blessed is False else
             '<span class="badge">unknown</span>')
    families = group_by_family(r for r in report.rows if r.key)

    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>MSA evaluation: run {esc(run.run_id)}</title><style>{_CSS}</style></head><body>",
             f"<h1>MSA evaluation {badge}</h1>",
             f'<p class="meta">run <code>{esc(run.run_id)}</code>'
             f'{" (cached execution)" if run.cached else ""}'
             f" &middot; split <code>{esc(report.split)}</code> &middot; {overall.count} examples"
             f"<br>model <code>{esc(run.model_uri)}</code>"
             f"<br>pushed: <code>{esc(pushed_text(run))}</code>"
             f"<br>data <code>{esc(run.data_root or 'unknown')}</code>"
             f" &middot; evaluation <code>{esc(run.evaluation_uri)}</code></p>"]
    for note in report.notes:
        parts.append(f'<p class="note">{esc(note)}</p>')

    # Overall
    ref = [esc(line) for line in reference_lines(report)]
    parts.append("<h2>Overall</h2>" + _slice_table([overall]))
    if ref:
        parts.append(f'<p class="meta">{"<br>".join(ref)}</p>')

    # Blessing
    parts.append("<h2>Blessing</h2>")
    parts.append(f"<p>Verdict: {badge} (TFMA validation "
                 f"{'ok' if report.validation_ok else 'failed'}). The gate looks at the overall "
                 "slice only.</p>")
    parts.append(_checks_table(report))
    parts.append("<h3>Comparison with the baseline</h3>" + _baseline_table(report))

    # Charts
    parts.append('<h2>Predictions</h2><div class="charts">')
    if report.predictions is not None:
        pr = report.predictions
        parts.append("<figure>" + svg_img(scatter_svg(pr.labels, pr.predictions),
                                          "scatter plot of prediction vs label", "chart scatter") +
                     f"<figcaption>Prediction vs label, {len(pr.labels)} examples, coloured by "
                     "true polarity; dashed: prediction = label. Predictions from the evaluated "
                     f"model's serving signature (MAE {pr.mae_recomputed:.4f}, the Evaluator's: "
                     f"{fmt(overall.candidate.get('mae'))}).</figcaption></figure>")
    else:
        parts.append("<p>Scatter plot left out (--no-predictions).</p>")
    if overall.confusion is not None:
        parts.append("<figure>" + svg_img(confusion_svg(overall.confusion),
                                          "7-class confusion matrix", "chart confusion") +
                     "<figcaption>The Evaluator's 7-class confusion matrix (overall): rows are "
                     "round(clip(label)), columns round(clip(prediction)).</figcaption></figure>")
    parts.append("</div>")

    # Slices
    size = report.min_slice_size
    parts.append("<h2>Slices</h2>")
    parts.append(f'<p class="meta">Slices with fewer than {size} examples are marked '
                 "<span class=\"tag\">too small</span> and drawn grey: reported, not trusted. "
                 "Acc/F1 in %.</p>" if size else "")
    for family, rows in families.items():
        parts.append(f"<h3>{esc(family)}</h3>")
        shown = rows
        caption = ""
        if len(rows) > MAX_BARS:
            shown = highest_mae_first(rows)[:MAX_BARS]
            caption = (f" Showing the {MAX_BARS} slices with the highest MAE of {len(rows)}; "
                       "the table lists all.")
        text_only = report.references.get("text_part")
        bars = slice_bars_svg(shown, overall, report.noise_floor, family, text_only)
        lines = ["overall MAE"] + (["text part alone"] if text_only is not None else []) + (
            ["noise floor"] if report.noise_floor is not None else [])
        parts.append('<figure>' + svg_img(bars, f"per-slice MAE and Acc-2 by {family}",
                                          "chart bars") +
                     f"<figcaption>Dashed lines: {', '.join(lines)}; Acc-2 "
                     f"chance level 50%.{caption}</figcaption></figure>")
        parts.append(_slice_table(rows))

    parts.append("<h2>Definitions</h2>" + _definitions() +
                 '<p class="meta">Both Acc-2 conventions are in use in the CMU-MOSI/MOSEI '
                 "literature: <i>has0</i> keeps zero labels as non-negative, <i>non0</i> drops them. "
                 "Corr is NaN (n/a) when predictions or labels are constant.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(report: Report, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render(report))
    os.replace(tmp, path)
    return path
