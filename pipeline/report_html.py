"""The report as one self-contained HTML page (``msa-report``).

No external resources: the CSS is inline and every chart is an SVG drawn
here and embedded as a ``data:image/svg+xml;base64`` image (matplotlib is
not part of the pinned stack, and SVG stays sharp at any zoom). The page
works offline and from a file:// URL.
"""

from __future__ import annotations

import base64
import html
import math
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from pipeline.report import (COLUMNS, KINDS, NO_BASELINE, Report, SliceRow, compared_rows,
                             fmt)
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
# SVG helpers


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _svg(width: int, height: int, body: List[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" '
            f'font-size="11"><title>{_esc(title)}</title>'
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>{"".join(body)}</svg>')


def _img(svg: str, alt: str, css_class: str = "chart") -> str:
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img class="{css_class}" alt="{_esc(alt)}" src="data:image/svg+xml;base64,{data}">'


def _text(x, y, text, anchor="middle", size=11, fill="#1d2330", weight="normal", extra=""):
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}" font-weight="{weight}" {extra}>{_esc(text)}</text>')


_POLARITY_COLORS = {"negative": "#c0392b", "neutral": "#7f8c8d", "positive": "#2471a3"}


def scatter_svg(labels: np.ndarray, predictions: np.ndarray, size: int = 440) -> str:
    """Prediction vs label, both on [-3.5, 3.5], with the y = x line."""
    pad_l, pad_t, pad_r = 52, 16, 16
    plot = size - pad_l - pad_r
    lo, hi = -3.5, 3.5

    def sx(v):
        return pad_l + (min(max(v, lo), hi) - lo) / (hi - lo) * plot

    def sy(v):
        return pad_t + (hi - min(max(v, lo), hi)) / (hi - lo) * plot

    body = [f'<rect x="{pad_l}" y="{pad_t}" width="{plot}" height="{plot}" fill="#fbfcfd" '
            'stroke="#c9ced6"/>']
    for t in range(-3, 4):
        body.append(f'<line x1="{sx(t):.1f}" y1="{pad_t}" x2="{sx(t):.1f}" y2="{pad_t + plot}" '
                    f'stroke="{"#b8bec8" if t == 0 else "#e6e9ee"}"/>')
        body.append(f'<line x1="{pad_l}" y1="{sy(t):.1f}" x2="{pad_l + plot}" y2="{sy(t):.1f}" '
                    f'stroke="{"#b8bec8" if t == 0 else "#e6e9ee"}"/>')
        body.append(_text(sx(t), pad_t + plot + 15, t))
        body.append(_text(pad_l - 8, sy(t) + 4, t, anchor="end"))
    body.append(f'<line x1="{sx(lo):.1f}" y1="{sy(lo):.1f}" x2="{sx(hi):.1f}" y2="{sy(hi):.1f}" '
                'stroke="#34495e" stroke-dasharray="5,4"/>')
    radius = 2.2 if len(labels) > 1500 else 3.0
    for y, p in zip(labels, predictions):
        color = _POLARITY_COLORS["positive" if y > 0 else "negative" if y < 0 else "neutral"]
        body.append(f'<circle cx="{sx(y):.1f}" cy="{sy(p):.1f}" r="{radius}" fill="{color}" '
                    'fill-opacity="0.45"/>')
    outside = int(np.sum((np.abs(predictions) > hi)))
    body.append(_text(pad_l + plot / 2, size - 8, "label (true sentiment)", size=12))
    body.append(_text(14, pad_t + plot / 2, "prediction", size=12,
                      extra=f'transform="rotate(-90 14 {pad_t + plot / 2:.1f})"'))
    if outside:
        body.append(_text(pad_l + plot - 4, pad_t + 14, f"{outside} beyond ±3.5 drawn at the edge",
                          anchor="end", size=10, fill="#8a6d00"))
    return _svg(size, size, body, "prediction vs label")


def confusion_svg(confusion: np.ndarray, classes: Sequence[int] = msa_metrics.C7_CLASSES) -> str:
    """Counts per (true, predicted) rounded class; shade = share of the true row."""
    k = len(classes)
    cell, pad_l, pad_t = 50, 70, 46
    width, height = pad_l + k * cell + 16, pad_t + k * cell + 44
    confusion = np.asarray(confusion, np.int64)
    rows = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros(confusion.shape, np.float64), where=rows > 0)
    body = [_text(pad_l + k * cell / 2, 16, "predicted class", size=12)]
    for j, c in enumerate(classes):
        body.append(_text(pad_l + j * cell + cell / 2, pad_t - 8, c, weight="bold"))
    body.append(_text(16, pad_t + k * cell / 2, "true class", size=12,
                      extra=f'transform="rotate(-90 16 {pad_t + k * cell / 2:.1f})"'))
    for i, c in enumerate(classes):
        y = pad_t + i * cell
        body.append(_text(pad_l - 10, y + cell / 2 + 4, c, anchor="end", weight="bold"))
        for j in range(k):
            x = pad_l + j * cell
            s = float(share[i, j])
            r, g, b = (int(255 - s * (255 - v)) for v in (31, 97, 141))
            body.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
                        f'fill="rgb({r},{g},{b})" stroke="{"#1d2330" if i == j else "#ffffff"}" '
                        f'stroke-width="{1.5 if i == j else 1}"/>')
            body.append(_text(x + cell / 2, y + cell / 2 + 4, int(confusion[i, j]),
                              fill="#ffffff" if s > 0.55 else "#1d2330"))
    total = int(confusion.sum())
    correct = int(np.trace(confusion))
    acc = f"{100 * correct / total:.1f}%" if total else "n/a"
    body.append(_text(pad_l + k * cell / 2, height - 12,
                      f"diagonal: {correct} of {total} (Acc-7 {acc}); shade: share of the row",
                      size=11, fill="#5b6475"))
    return _svg(width, height, body, "7-class confusion matrix")


def _bar_panel(body, x0, y0, width, rows, values, vmax, colors, ref_lines, title, fmt_value,
               fmt_tick):
    """Horizontal bars of ``values`` (one list per series), one row per slice."""
    row_h = 22
    body.append(_text(x0 + width / 2, y0 - 18, title, size=12, weight="bold"))
    for t in np.linspace(0, vmax, 5):
        x = x0 + t / vmax * width
        body.append(f'<line x1="{x:.1f}" y1="{y0 - 4}" x2="{x:.1f}" '
                    f'y2="{y0 + len(rows) * row_h}" stroke="#eceff3"/>')
        body.append(_text(x, y0 - 6, fmt_tick(t), size=9, fill="#5b6475"))
    series = len(values)
    bar_h = (row_h - 6) / series
    for i, row in enumerate(rows):
        y = y0 + i * row_h + 3
        for s in range(series):
            v = values[s][i]
            if v is None or math.isnan(v):
                body.append(_text(x0 + 4, y + bar_h * (s + 1) - 2, "n/a", anchor="start", size=9,
                                  fill="#8a93a3"))
                continue
            w = max(0.0, min(v, vmax)) / vmax * width
            color = "#c3c8d1" if row.small else colors[s]
            body.append(f'<rect x="{x0}" y="{y + s * bar_h:.1f}" width="{w:.1f}" '
                        f'height="{bar_h - 1:.1f}" fill="{color}"/>')
            body.append(_text(x0 + w + 3, y + s * bar_h + bar_h - 2.5, fmt_value(v),
                              anchor="start", size=9, fill="#39404d"))
    for value, color, label in ref_lines:
        if value is None or math.isnan(value) or value > vmax:
            continue
        x = x0 + value / vmax * width
        body.append(f'<line x1="{x:.1f}" y1="{y0 - 2}" x2="{x:.1f}" y2="{y0 + len(rows) * row_h}" '
                    f'stroke="{color}" stroke-width="1.5" stroke-dasharray="4,3"/>')
        body.append(_text(x, y0 + len(rows) * row_h + 12, label, size=9, fill=color))


def slice_bars_svg(rows: Sequence[SliceRow], overall: SliceRow, noise_floor: Optional[float],
                   family: str) -> str:
    """Per-slice MAE and Acc-2 (both conventions) bars, with example counts."""
    label_w, panel_w, gap = 230, 300, 70
    row_h, top = 22, 46
    height = top + len(rows) * row_h + 40
    width = label_w + 2 * panel_w + gap + 40
    body = []
    for i, row in enumerate(rows):
        y = top + i * row_h + row_h / 2 + 4
        name = row.value if len(row.value) <= 26 else row.value[:25] + "~"
        suffix = " (too small)" if row.small else ""
        body.append(_text(label_w - 8, y, f"{name}  n={row.count}{suffix}", anchor="end",
                          fill="#8a93a3" if row.small else "#1d2330"))
    maes = [r.candidate.get("mae") for r in rows]
    finite = [v for v in maes + [overall.candidate.get("mae"), noise_floor]
              if v is not None and not math.isnan(v)]
    vmax = max(finite + [0.1]) * 1.15
    refs = [(overall.candidate.get("mae"), "#34495e", "overall"),
            (noise_floor, "#c0392b", "noise floor")]
    _bar_panel(body, label_w, top, panel_w, rows, [maes], vmax, ["#5d8aa8"], refs, "MAE",
               lambda v: f"{v:.3f}", lambda v: f"{v:.2f}")
    acc = [[r.candidate.get("acc2_has0") for r in rows], [r.candidate.get("acc2_non0") for r in rows]]
    _bar_panel(body, label_w + panel_w + gap, top, panel_w, rows, acc, 1.0,
               ["#2e8b57", "#9bbf5a"], [(0.5, "#8a6d00", "chance (balanced)")],
               "Acc-2 %: has0 (dark), non0 (light)", lambda v: f"{100 * v:.1f}",
               lambda v: f"{100 * v:.0f}")
    return _svg(width, height, body, f"per-slice MAE and Acc-2: {family}")


# --------------------------------------------------------------------------
# Tables


def _slice_table(rows: Sequence[SliceRow]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for _, h, _ in COLUMNS)
    out = [f'<table class="slices"><tr><th class="name">slice</th><th>n</th>{head}<th></th></tr>']
    for r in rows:
        css = "overall" if not r.key else ("small" if r.small else "")
        cells = "".join(f"<td>{_esc(fmt(r.candidate.get(k), kind))}</td>" for k, _, kind in COLUMNS)
        tag = '<span class="tag">too small</span>' if r.small else ""
        out.append(f'<tr class="{css}"><td class="name">{_esc(r.name)}</td><td>{r.count}</td>'
                   f"{cells}<td>{tag}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _checks_table(report: Report) -> str:
    out = ['<table class="checks"><tr><th class="name">check</th><th>value</th>'
           '<th class="name">must be</th><th class="name">slice</th>'
           '<th class="name">result</th><th class="name">note</th></tr>']
    for c in report.checks:
        value = "-" if c.value is None else fmt(c.value)
        what = f"{c.metric} vs baseline" if c.kind == "change" else c.metric
        out.append(f'<tr><td class="name">{_esc(what)}</td><td>{_esc(value)}</td>'
                   f'<td class="name">{_esc(c.bound)}</td><td class="name">{_esc(c.slice)}</td>'
                   f'<td class="name {c.status}">{_esc(c.status)}</td>'
                   f'<td class="name">{_esc(c.note)}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _baseline_table(report: Report) -> str:
    if not report.has_baseline:
        return (f"<p>No baseline: {_esc(NO_BASELINE)}. The MAE change check was skipped and "
                "this model was judged against the constant predictor and the correlation "
                "floor only.</p>")
    out = [f'<p class="meta">baseline model (the last blessed one): '
           f'<code>{_esc(report.run.baseline_model_uri)}</code></p>',
           '<table class="baseline"><tr><th class="name">metric</th><th>candidate</th>'
           '<th>baseline</th><th>candidate - baseline</th><th></th></tr>']
    for name, cand, base, diff, verdict in compared_rows(report):
        kind = KINDS.get(name, "num")
        label = name + (" %" if kind == "frac" else "")
        out.append(f'<tr><td class="name">{_esc(label)}</td><td>{fmt(cand, kind)}</td>'
                   f'<td>{fmt(base, kind)}</td><td>{fmt(diff, kind)}</td>'
                   f'<td class="{verdict}">{verdict}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _definitions() -> str:
    rows = "".join(f"<tr><td><code>{_esc(k)}</code></td><td>{_esc(v)}</td></tr>"
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
    families: Dict[str, List[SliceRow]] = {}
    for row in report.rows:
        if row.key:
            families.setdefault(row.family, []).append(row)

    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>MSA evaluation: run {_esc(run.run_id)}</title><style>{_CSS}</style></head><body>",
             f"<h1>MSA evaluation {badge}</h1>",
             f'<p class="meta">run <code>{_esc(run.run_id)}</code>'
             f'{" (cached execution)" if run.cached else ""}'
             f" &middot; split <code>{_esc(report.split)}</code> &middot; {overall.count} examples"
             f"<br>model <code>{_esc(run.model_uri)}</code>"
             f"<br>pushed: <code>{_esc(run.pushed_destination or 'not pushed')}</code>"
             f"<br>data <code>{_esc(run.data_root or 'unknown')}</code>"
             f" &middot; evaluation <code>{_esc(run.evaluation_uri)}</code></p>"]
    for note in report.notes:
        parts.append(f'<p class="note">{_esc(note)}</p>')

    # Overall
    ref = []
    if "constant_mae" in overall.candidate:
        ref.append("constant predictor (train label mean) MAE "
                   f"<b>{fmt(overall.candidate['constant_mae'])}</b>")
    if report.noise_floor is not None:
        ref.append(f"noise floor MAE <b>{report.noise_floor:.4f}</b> (irreducible: the built-in "
                   "data's label noise)")
    parts.append("<h2>Overall</h2>" + _slice_table([overall]))
    if ref:
        parts.append(f'<p class="meta">{" &middot; ".join(ref)}</p>')

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
        parts.append("<figure>" + _img(scatter_svg(pr.labels, pr.predictions), "scatter plot of "
                                       "prediction vs label", "chart scatter") +
                     f"<figcaption>Prediction vs label, {len(pr.labels)} examples, coloured by "
                     "true polarity; dashed: prediction = label. Predictions from the evaluated "
                     f"model's serving signature (MAE {pr.mae_recomputed:.4f}, the Evaluator's: "
                     f"{fmt(overall.candidate.get('mae'))}).</figcaption></figure>")
    else:
        parts.append("<p>Scatter plot left out (--no-predictions).</p>")
    if overall.confusion is not None:
        parts.append("<figure>" + _img(confusion_svg(overall.confusion), "7-class confusion "
                                       "matrix", "chart confusion") +
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
        parts.append(f"<h3>{_esc(family)}</h3>")
        shown = rows
        caption = ""
        if len(rows) > MAX_BARS:
            shown = sorted(rows, key=lambda r: (r.small, -r.candidate.get("mae", 0.0)))[:MAX_BARS]
            caption = (f" Showing the {MAX_BARS} slices with the highest MAE of {len(rows)}; "
                       "the table lists all.")
        parts.append('<figure>' + _img(slice_bars_svg(shown, overall, report.noise_floor, family),
                                       f"per-slice MAE and Acc-2 by {family}", "chart bars") +
                     f"<figcaption>Dashed lines: overall MAE"
                     f"{' and noise floor' if report.noise_floor is not None else ''}; Acc-2 "
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
