"""The report's charts, as standalone SVG documents.

Drawn here rather than with matplotlib (not part of the pinned stack); SVG
stays sharp at any zoom. The SVG is built as text, so every text it shows
(slice values come from the data) goes through :func:`_esc`. :func:`data_url`
makes one a ``data:image/svg+xml;base64`` URL for the page's ``<img>``, so the
page needs no external files.
"""

from __future__ import annotations

import base64
import html
import math
from typing import List, Optional, Sequence

import numpy as np

from reporting.data import SliceRow
from trainer.core.metric_names import ACC2_HAS0, ACC2_NON0, MAE
from trainer.metrics import msa_metrics


def _esc(text) -> str:
    """``text`` escaped for SVG (XML) text and attribute values."""
    return html.escape(str(text), quote=True)


def _svg(width: int, height: int, body: List[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" '
            f'font-size="11"><title>{_esc(title)}</title>'
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>{"".join(body)}</svg>')


def data_url(svg: str) -> str:
    """``svg`` as a ``data:`` URL (base64: nothing in it needs escaping in HTML)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


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
                   family: str, text_only: Optional[float] = None) -> str:
    """Per-slice MAE and Acc-2 (both conventions) bars, with example counts.

    Reference lines on the MAE panel: the overall MAE, and when known the
    text-only ceiling and the noise floor of the built-in data.
    """
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
    maes = [r.candidate.get(MAE) for r in rows]
    finite = [v for v in maes + [overall.candidate.get(MAE), noise_floor, text_only]
              if v is not None and not math.isnan(v)]
    vmax = max(finite + [0.1]) * 1.15
    refs = [(overall.candidate.get(MAE), "#34495e", "overall"),
            (text_only, "#8e44ad", "text alone"),
            (noise_floor, "#c0392b", "noise floor")]
    _bar_panel(body, label_w, top, panel_w, rows, [maes], vmax, ["#5d8aa8"], refs, "MAE",
               lambda v: f"{v:.3f}", lambda v: f"{v:.2f}")
    acc = [[r.candidate.get(ACC2_HAS0) for r in rows], [r.candidate.get(ACC2_NON0) for r in rows]]
    _bar_panel(body, label_w + panel_w + gap, top, panel_w, rows, acc, 1.0,
               ["#2e8b57", "#9bbf5a"], [(0.5, "#8a6d00", "chance (balanced)")],
               "Acc-2 %: has0 (dark), non0 (light)", lambda v: f"{100 * v:.1f}",
               lambda v: f"{100 * v:.0f}")
    return _svg(width, height, body, f"per-slice MAE and Acc-2: {family}")
