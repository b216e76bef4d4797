"""``msa-report`` on real runs, and its page in a real browser (headless Chromium).

Uses the shared chain's output folder (conftest ``pipeline_chain``): its
``better`` run has a baseline. Chromium comes from Debian's ``chromium``
package; ``make test`` installs it (scripts/ensure_chromium.sh). The
screenshot is kept as test-artifacts/report.png.
"""

from __future__ import annotations

import base64
import html as html_lib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.runner_util import REPO

ARTIFACTS = os.path.join(REPO, "test-artifacts")
SLICE_NAMES = ("overall", "polarity=negative", "polarity=positive", "dataset=synthetic",
               "text_len_bucket=6-10", "video_id=", "dataset x polarity=synthetic / negative")


def _msa_report() -> str:
    script = os.path.join(os.path.dirname(sys.executable), "msa-report")
    assert os.path.exists(script), (
        "the msa-report console script is missing: reinstall the project "
        "(.venv/bin/python -m pip install --no-deps --no-build-isolation -e .)")
    return script


@pytest.fixture(scope="module")
def cli_run(pipeline_chain):
    outcome, run_id, _ = pipeline_chain["better"]
    assert outcome.returncode == 0, outcome.console
    # That run (better model, with a baseline) is not the newest: name it.
    proc = subprocess.run([_msa_report(), "--output-dir", outcome.output_dir, "--run", run_id],
                          cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = os.path.join(outcome.output_dir, "report", "index.html")
    return outcome, run_id, proc.stdout, page


def _table(text: str):
    """The slice table's lines (header to footnote) from a console output."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if re.match(r"\s+slice\s+n\s+MAE", ln))
    end = next(i for i in range(start, len(lines)) if "fewer than" in lines[i])
    return lines[start:end + 1]


def test_cli_prints_slices_verdict_and_baseline(cli_run):
    _, run_id, stdout, page = cli_run
    assert f"run {run_id}" in stdout
    for name in SLICE_NAMES:
        assert name in stdout, name
    assert "verdict: BLESSED" in stdout
    for check in ("gain_over_constant_p", "relative_gain_over_constant", "corr",
                  "worse_than_baseline_p"):
        assert re.search(rf"passed\s+{re.escape(check)}\s", stdout), check
    assert "baseline: " in stdout and "candidate" in stdout and "better" in stdout
    assert "too small" in stdout
    # The model's MAE beside the built-in data's reference MAEs.
    line = next(l for l in stdout.splitlines() if "reference MAE:" in l)
    for name in ("constant predictor", "text part alone", "pooled oracle", "noise floor"):
        assert name in line, line
    assert re.search(r"closes -?\d+\.\d% of the gap from the constant predictor to the noise "
                     r"floor; \d\.\d{4} (below|above) what the text alone can reach", stdout)
    assert f"report: {page}" in stdout
    assert "Traceback" not in stdout and "Warning" not in stdout


def test_runner_prints_the_report_table(cli_run):
    outcome, _, stdout, _ = cli_run
    assert _table(outcome.console) == _table(stdout)


def test_unknown_run_is_one_line(cli_run):
    outcome = cli_run[0]
    proc = subprocess.run([_msa_report(), "--output-dir", outcome.output_dir, "--run", "nope",
                           "--no-predictions"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 1
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and "no pipeline run 'nope'" in lines[0] and "known runs" in lines[0]


def test_a_page_that_cannot_be_written_is_one_line(cli_run, tmp_path):
    outcome = cli_run[0]
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    html = blocker / "report" / "index.html"
    proc = subprocess.run([_msa_report(), "--output-dir", outcome.output_dir, "--html", str(html),
                           "--no-predictions"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 1
    console = proc.stdout + proc.stderr
    errors = [ln for ln in console.splitlines() if "error:" in ln]
    assert len(errors) == 1 and str(html) in errors[0] and "--html" in errors[0], console
    assert "Traceback" not in console and "Errno" not in errors[0]


def test_page_is_self_contained(cli_run):
    html = open(cli_run[3], encoding="utf-8").read()
    assert "<style>" in html
    assert not re.search(r"<link\b", html) and not re.search(r"<script\b[^>]*\bsrc=", html)
    for attr in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert attr.startswith("data:") or attr.startswith("#"), attr
    assert len(re.findall(r'<img [^>]*src="data:image/svg\+xml;base64,', html)) >= 3


# Appended to a copy of the page: waits for the load event, checks every image
# decoded with a size, and writes the findings into the DOM for --dump-dom.
_PROBE = """
<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var result = {
    images: imgs.length,
    broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                .map(function (i) { return i.alt; }),
    tables: document.querySelectorAll('table').length,
    rows: document.querySelectorAll('table tr').length,
    text: document.body.innerText
  };
  var pre = document.createElement('pre');
  pre.id = 'render-probe';
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("headless Chromium is missing; run scripts/ensure_chromium.sh "
                    "(make test does) to install Debian's chromium package")
    return path


def _browser(*args, timeout=120):
    return subprocess.run([_chromium(), "--headless", "--disable-gpu", "--no-sandbox",
                           "--no-first-run", "--disable-extensions", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_page_renders_in_chromium(cli_run, tmp_path):
    page = cli_run[3]
    probe = tmp_path / "probe.html"
    html = open(page, encoding="utf-8").read()
    probe.write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    proc = _browser("--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    match = re.search(r'<pre id="render-probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, proc.stdout[-2000:] + proc.stderr[-2000:]

    result = json.loads(html_lib.unescape(match.group(1)))
    assert result["broken"] == [], result["broken"]
    assert result["images"] >= 3  # scatter, confusion matrix, per-slice bars
    assert result["tables"] >= 5 and result["rows"] > 20
    for name in SLICE_NAMES + ("BLESSED", "Acc2 has0%", "noise floor", "text part alone",
                               "prediction vs label"):
        assert name.lower() in result["text"].lower(), name

    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "report.png")
    if os.path.exists(shot):
        os.remove(shot)
    proc = _browser("--hide-scrollbars", "--window-size=1280,4200", f"--screenshot={shot}",
                    "file://" + os.path.abspath(page))
    assert os.path.exists(shot), proc.stderr[-2000:]
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(shot) > 20_000  # a rendered page, not a blank one


def _fake_report(n_videos: int, value: str = "v", model_uri: str = "/m"):
    """A report over made-up slices (no pipeline run): many speakers, some small."""
    import numpy as np

    from pipeline.results import RunEvaluation
    from reporting import report

    rng = np.random.default_rng(0)

    def row(key, n):
        values = {"example_count": float(n), "mae": float(rng.uniform(0.5, 1.5)),
                  "corr": float(rng.uniform(-1, 1)), "acc2_has0": 0.7, "f1_has0": 0.7,
                  "acc2_non0": 0.72, "f1_non0": 0.71, "acc7": 0.3, "acc5": 0.35,
                  "small_slice": float(n < 10), "constant_mae": 1.4}
        return report.SliceRow(key, values, {}, {}, np.eye(7, dtype=np.int64) * 3)

    rows = [row((), 1000)] + [row((("video_id", f"{value}{i:03d}"),), 5 + i % 30)
                              for i in range(n_videos)]
    run = RunEvaluation(
        run_id="run-x", execution_id=1, cached=False, evaluation_uri="/e", blessing_uri=None,
        blessed=True, model_uri=model_uri, model_id=1, baseline_model_uri=None,
        baseline_model_id=None, examples_uri="/x", example_splits=["test"], eval_config_json="",
        data_root=None, pushed_destination=None)
    return report.Report(run, "test", report.sort_rows(rows), [], True, 10, 0.2, None,
                         report.Predictions(np.zeros(3), np.ones(3), 1.0))


def test_long_slice_families_are_cut_in_the_console_not_in_the_page():
    from reporting import page, report

    fake = _fake_report(150)
    short = report.slice_table(fake)
    assert sum(" video_id=" in ln for ln in short.splitlines()) == report.CONSOLE_ROWS_PER_FAMILY
    assert "138 more video_id slices" in short
    full = report.slice_table(fake, all_slices=True)
    assert sum(" video_id=" in ln for ln in full.splitlines()) == 150
    html = page.render(fake)
    assert html.count("video_id=v") == 150  # every slice in the page's table
    assert f"Showing the {page.MAX_BARS} slices" in html


def test_text_from_the_data_is_escaped_in_the_page_and_its_charts():
    """Slice values and paths are text: escaped once in the page and in every SVG."""

    from reporting import page

    evil = "<script>alert('x')</script>&\""
    text = page.render(_fake_report(3, value=evil, model_uri=f"/m/{evil}"))
    assert "<script" not in text.lower() and "&lt;script&gt;" in text
    # Escaped once, not twice: the browser shows the original text.
    assert "&amp;lt;" not in text
    assert f"video_id={evil}000" in html_lib.unescape(text)
    assert html_lib.unescape(text).count(f"/m/{evil}") == 1
    charts = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', text)
    assert len(charts) == 3  # scatter, confusion matrix, one slice family
    labels = []
    for data in charts:
        svg = ET.fromstring(base64.b64decode(data))  # well-formed XML
        assert not [e for e in svg.iter() if e.tag.endswith("script")]
        labels += [e.text or "" for e in svg.iter() if e.tag.endswith("text")]
    assert any(label.startswith(evil[:25]) for label in labels), labels  # bar labels are cut
