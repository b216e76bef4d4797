"""The Kubeflow image: Dockerfile sanity and Python 3.10 compatibility.

No Docker engine exists here, so the image itself is not built. What can be
checked: the Dockerfile copies only files that exist and installs the project
without replacing the base image's TFX stack, and every project module is
valid for the image's Python 3.10 (vermin for APIs/syntax by version, ruff
for syntax errors under target-version py310).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.runner_util import REPO

PROJECT_CODE = ["msa_data", "trainer", "components", "pipeline", "reporting", "benchmarks",
                "local_runner.py", "kubeflow_runner.py"]


def _dockerfile_instructions():
    text = open(os.path.join(REPO, "Dockerfile")).read().replace("\\\n", " ")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def test_dockerfile_base_image_and_install_step():
    instructions = _dockerfile_instructions()
    assert instructions[0] == "FROM gcr.io/tfx-oss-public/tfx:1.16.0"
    runs = " ".join(i for i in instructions if i.startswith("RUN "))
    # the project goes in without dependencies: the image's TFX stack stays
    assert "pip install --no-deps" in runs
    assert not re.search(r"pip install(?![^&]*--no-deps)", runs)
    assert any("TF_USE_LEGACY_KERAS=1" in i for i in instructions if i.startswith("ENV"))


def test_dockerfile_copies_only_existing_files():
    copies = [i.split()[1:-1] for i in _dockerfile_instructions() if i.startswith("COPY ")]
    assert copies
    for sources in copies:
        for source in sources:
            assert os.path.exists(os.path.join(REPO, source)), source
    copied = {s.rstrip("/") for sources in copies for s in sources}
    # every package the pipeline imports by dotted path is in the image
    for package in ("msa_data", "trainer", "components", "pipeline", "schema"):
        assert package in copied, package


def _python_files():
    files = []
    for entry in PROJECT_CODE:
        path = os.path.join(REPO, entry)
        files += [path] if path.endswith(".py") else glob.glob(f"{path}/**/*.py", recursive=True)
    return sorted(files)


def _tool(name):
    path = os.path.join(os.path.dirname(sys.executable), name)
    assert os.path.exists(path), f"{name} missing from the venv; run `make venv`"
    return path


def _vermin(paths):
    return subprocess.run([_tool("vermin"), "-t=3.10-", "--violations", "--no-tips",
                           "--eval-annotations", "--no-parse-comments", *paths],
                          capture_output=True, text=True)


def _ruff(paths):
    return subprocess.run([_tool("ruff"), "check", "--no-cache", "--target-version", "py310",
                           "--select", "E9,F63,F7,F82", *paths], capture_output=True, text=True)


def test_project_code_is_python_310_compatible():
    files = _python_files()
    assert len(files) > 20
    vermin = _vermin(files)
    assert vermin.returncode == 0, vermin.stdout + vermin.stderr
    ruff = _ruff(files)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


@pytest.mark.parametrize("snippet", [
    "import tomllib\n",                                  # 3.11 stdlib module
    "from typing import Self\n",                         # 3.11 typing name
    "d = {'a': 1}\nx = f\"{d[\"a\"]}\"\n",                # 3.12 f-string quotes
    "try:\n    pass\nexcept* ValueError:\n    pass\n",   # 3.11 syntax
])
def test_compatibility_check_catches_newer_python(tmp_path, snippet):
    path = tmp_path / "newer.py"
    path.write_text(snippet)
    assert _vermin([str(path)]).returncode != 0 or _ruff([str(path)]).returncode != 0


_COMPILE_ALL = ("import sys\n"
                "for path in sys.argv[1:]:\n"
                "    compile(open(path, encoding='utf-8').read(), path, 'exec')\n")


def test_byte_compiles():
    """Compiles every module to bytecode in memory (nothing is written)."""
    proc = subprocess.run([sys.executable, "-c", _COMPILE_ALL, *_python_files()],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_runtime_python_310_when_available():
    """The real 3.10 grammar, when a 3.10 interpreter exists on this machine."""
    python310 = shutil.which("python3.10")
    candidates = [python310] if python310 else []
    candidates += glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10"))
    usable = [c for c in candidates
              if subprocess.run([c, "--version"], capture_output=True).returncode == 0]
    if not usable:
        pytest.skip("no Python 3.10 interpreter here; vermin/ruff above cover the rules")
    proc = subprocess.run([usable[0], "-c", _COMPILE_ALL, *_python_files()],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
