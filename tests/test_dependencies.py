"""Every third-party package the code imports is a declared dependency.

The runtime stack is installed from the pinned lock with --no-deps, so an
import of a package that only arrives as somebody else's dependency (h5py via
TensorFlow, tqdm via nltk...) works today and breaks silently when that other
package drops it. These checks keep three things in agreement:

* the imports: every absolute import (module level or inside a function) in
  the project's runtime code must come from a distribution in pyproject.toml's
  [project] dependencies, and every import in tests/ from those or the `dev`
  extra (modules mapped to distributions by importlib.metadata);
* pyproject.toml and requirements/runtime.in / requirements/dev.in: the same
  requirements, range for range;
* the lock: each declared range contains the version that
  requirements/tfx-1.16-py311.lock.txt (or, for the test tools,
  requirements/dev.txt) pins.

Source is read with `ast`; nothing here imports TensorFlow.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements"
LOCK = REQUIREMENTS / "tfx-1.16-py311.lock.txt"
DEV_PINS = REQUIREMENTS / "dev.txt"

# Runtime code: its imports must be [project] dependencies. A listed path that
# does not exist (yet) is skipped.
RUNTIME_CODE = ["pipeline", "reporting", "components", "trainer", "msa_data",
                "benchmarks", "local_runner.py", "kubeflow_runner.py"]
# Test code: runtime dependencies or the `dev` extra.
TEST_CODE = ["tests"]


# --- reading the declarations -------------------------------------------------

def _pyproject():
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def _by_name(requirements):
    """{canonical name: Requirement}; a name listed twice is an error."""
    out = {}
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name not in out, f"{req.name} is listed twice"
        out[name] = req
    return out


def _requirements_in(path: Path):
    """Requirement lines of a pip requirements file (comments, options skipped)."""
    lines = []
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            lines.append(line)
    return _by_name(lines)


def _pins(path: Path):
    """{canonical name: Version} of every `name==version` in a pip file,
    including those in comments (the lock's header pins tfx and
    ml-pipelines-sdk, which are installed on their own)."""
    pins = {}
    for match in re.finditer(r"(?<![\w.-])([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;,#]+)",
                             path.read_text()):
        pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def _runtime_declared():
    return _by_name(_pyproject().get("dependencies", []))


def _dev_declared():
    return _by_name(_pyproject().get("optional-dependencies", {}).get("dev", []))


# --- reading the imports ------------------------------------------------------

def _python_files(entries):
    files = []
    for entry in entries:
        path = REPO / entry
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def _own_top_level():
    """The project's own importable names: its top-level packages and modules."""
    names = {p.parent.name for p in REPO.glob("*/__init__.py")}
    names |= {p.stem for p in REPO.glob("*.py")}
    names |= set(RUNTIME_CODE + TEST_CODE)
    return {n.removesuffix(".py") for n in names}


def imported_modules(files):
    """[(dotted module, "file:line")] of every absolute import in `files`."""
    found = []
    for path in files:
        name = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [(alias.name, f"{name}:{node.lineno}") for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((node.module, f"{name}:{node.lineno}"))
    return found


@functools.cache
def _top_level_distributions():
    return importlib.metadata.packages_distributions()


@functools.cache
def _distributions_of(module: str):
    """Canonical names of the installed distributions that provide `module`.

    A top-level name several distributions share (the `google` namespace,
    `tfx` from tfx and ml-pipelines-sdk) is narrowed to those whose files hold
    the longest matching prefix of the dotted name."""
    parts = module.split(".")
    candidates = sorted({canonicalize_name(d) for d in _top_level_distributions().get(parts[0], [])})
    if len(candidates) <= 1:
        return candidates
    for depth in range(len(parts), 1, -1):
        prefix = "/".join(parts[:depth])
        providers = []
        for name in candidates:
            files = importlib.metadata.distribution(name).files or []
            if any(f.as_posix().startswith(prefix + "/") or f.as_posix() == prefix + ".py"
                   or f.as_posix().startswith(prefix + ".") for f in files):
                providers.append(name)
        if providers:
            return providers
    return candidates


def undeclared_imports(files, declared, own=None):
    """["module (distribution) at file:line"] for each third-party import in
    `files` that no distribution in `declared` (canonical names) provides."""
    own = _own_top_level() if own is None else own
    problems = []
    for module, where in imported_modules(files):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in own:
            continue
        providers = _distributions_of(module)
        if not providers:
            problems.append(f"{module} (not provided by any installed distribution) at {where}")
        elif not set(providers) & declared:
            problems.append(f"{module} ({' or '.join(providers)}) at {where}")
    return problems


# --- the checks ---------------------------------------------------------------

def test_runtime_imports_are_declared():
    files = _python_files(RUNTIME_CODE)
    assert len(files) > 20
    problems = undeclared_imports(files, set(_runtime_declared()))
    assert not problems, ("runtime code imports distributions missing from pyproject.toml "
                          "[project] dependencies and requirements/runtime.in:\n  "
                          + "\n  ".join(problems))


def test_test_imports_are_declared():
    files = _python_files(TEST_CODE)
    assert files
    declared = set(_runtime_declared()) | set(_dev_declared())
    problems = undeclared_imports(files, declared)
    assert not problems, ("tests import distributions missing from pyproject.toml "
                          "[project] dependencies and the `dev` extra (requirements/dev.in):\n  "
                          + "\n  ".join(problems))


def test_every_top_level_package_is_scanned():
    """A new top-level package or script must be added to RUNTIME_CODE or
    TEST_CODE, or its imports would go unchecked."""
    scanned = {entry.removesuffix(".py") for entry in RUNTIME_CODE + TEST_CODE}
    present = {p.parent.name for p in REPO.glob("*/__init__.py")} | {p.stem for p in REPO.glob("*.py")}
    assert present <= scanned, f"not scanned for imports: {sorted(present - scanned)}"


@pytest.mark.parametrize("declared, requirements_in", [
    (_runtime_declared, "runtime.in"), (_dev_declared, "dev.in")])
def test_pyproject_and_requirements_in_agree(declared, requirements_in):
    in_pyproject = {name: str(req) for name, req in declared().items()}
    in_file = {name: str(req) for name, req in _requirements_in(REQUIREMENTS / requirements_in).items()}
    assert in_pyproject, "nothing declared in pyproject.toml"
    only_pyproject = sorted(in_pyproject.keys() - in_file.keys())
    only_file = sorted(in_file.keys() - in_pyproject.keys())
    differ = sorted(f"{in_pyproject[n]} vs {in_file[n]}"
                    for n in in_pyproject.keys() & in_file.keys()
                    if Requirement(in_pyproject[n]).specifier != Requirement(in_file[n]).specifier
                    or Requirement(in_pyproject[n]).extras != Requirement(in_file[n]).extras
                    or Requirement(in_pyproject[n]).marker != Requirement(in_file[n]).marker)
    assert not (only_pyproject or only_file or differ), (
        f"pyproject.toml and requirements/{requirements_in} disagree: only in pyproject "
        f"{only_pyproject}, only in {requirements_in} {only_file}, different ranges {differ}")


def test_declared_ranges_contain_the_locked_versions():
    lock = _pins(LOCK)
    assert {"tensorflow", "tfx", "apache-beam"} <= lock.keys(), "lock (or its tfx header pin) unreadable"
    dev_pins = {**lock, **_pins(DEV_PINS)}
    problems = []
    for pins, declared, source in [(lock, _runtime_declared(), LOCK.name),
                                   (dev_pins, _dev_declared(), f"{LOCK.name} or {DEV_PINS.name}")]:
        for name, req in sorted(declared.items()):
            if name not in pins:
                problems.append(f"{req} is not pinned in {source}")
            elif not req.specifier.contains(pins[name], prereleases=True):
                problems.append(f"{req} excludes the pinned {name}=={pins[name]}")
    assert not problems, "\n".join(problems)


def test_the_scan_catches_an_undeclared_import(tmp_path):
    """The check is live: an import inside a function of a package that is
    installed but undeclared (requests, via kfp), and one of a module nothing
    provides, are both reported; stdlib, own and declared imports are not."""
    source = tmp_path / "new_module.py"
    source.write_text("import os\nimport numpy as np\nfrom pipeline import configs\n"
                      "from google.protobuf import json_format\n"
                      "def load(path):\n    import requests\n    from surely_missing_pkg.sub import x\n")
    problems = undeclared_imports([source], set(_runtime_declared()))
    assert len(problems) == 2, problems
    assert problems[0].startswith("requests (requests) at ")
    assert problems[1].startswith("surely_missing_pkg.sub (not provided")
