"""The code's shape: a TensorFlow-free core, no import cycles, one Keras choice.

These are properties a reader relies on (a name lookup never loads
TensorFlow, modules can be read bottom-up, one place decides the Keras), so
they are checked rather than hoped for.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("benchmarks", "components", "msa_data", "pipeline", "reporting", "schema", "trainer")
TOP_MODULES = ("local_runner", "kubeflow_runner")


def _import_in_fresh_process(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_light_core_and_the_name_users_import_without_tensorflow():
    light = ["trainer.core", "trainer.core.config", "trainer.core.features",
             "trainer.core.metric_names", "trainer.core.progress", "trainer.core.search_space",
             "trainer.metrics.msa_metrics", "pipeline.blessing", "pipeline.cli",
             "reporting.tables", "reporting.checks"]
    code = ("import importlib, sys\n"
            f"for name in {light!r}:\n"
            "    importlib.import_module(name)\n"
            "heavy = sorted(m for m in ('tensorflow', 'tensorflow_transform', 'tfx', 'keras')\n"
            "               if m in sys.modules)\n"
            "print('loaded:', heavy)\n"
            "assert not heavy, heavy\n")
    run = _import_in_fresh_process(code)
    assert run.returncode == 0, run.stdout + run.stderr


def test_evaluator_code_does_not_load_tf_transform():
    # The Evaluator's workers import the custom metrics and the slicing specs;
    # tf.Transform is the Transform component's business.
    code = ("import sys\n"
            "import trainer.metrics.tfma_metrics, pipeline.evaluation\n"
            "assert 'tensorflow_transform' not in sys.modules\n")
    run = _import_in_fresh_process(code)
    assert run.returncode == 0, run.stdout + run.stderr


def _project_modules():
    """{module name: path} for every project source file outside tests/."""
    found = {name: os.path.join(REPO, name + ".py") for name in TOP_MODULES}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(REPO, package)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(folder, f), REPO)[:-3].replace(os.sep, ".")
                    found[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = \
                        os.path.join(folder, f)
    return found


def _imports(path: str, modules) -> set:
    """Project modules ``path`` imports anywhere in it (functions included)."""
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name in modules:
                out.add(name)
    return out


def test_no_import_cycles_between_project_modules():
    modules = _project_modules()
    graph = {m: _imports(p, modules) - {m} for m, p in modules.items()}
    # A package's __init__ importing its own submodules is not a cycle a reader trips on.
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    cycles, state = [], {}

    def visit(module, stack):
        state[module] = "open"
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_keras_choice_is_made_in_one_place():
    setters = []
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in (
            "tests", "docs", "outputs", "test-artifacts", "__pycache__", "requirements")]
        for f in files:
            path = os.path.join(folder, f)
            if f.endswith((".md", ".pyc")):
                continue
            try:
                text = open(path, encoding="utf-8").read()
            except (UnicodeDecodeError, OSError):
                continue
            if "TF_USE_LEGACY_KERAS" in text:
                setters.append(os.path.relpath(path, REPO))
    # The Python choice, and the image's environment for any other Python in it.
    assert sorted(setters) == ["Dockerfile", os.path.join("trainer", "keras_choice.py")], setters


def test_the_trainer_package_makes_the_keras_choice_before_tensorflow_is_used():
    code = ("import tensorflow as tf\n"
            "import trainer.models\n"
            "print(tf.keras.layers.Dense.__module__)\n")
    run = _import_in_fresh_process(code)
    assert run.returncode == 0 and run.stdout.startswith("tf_keras"), run.stdout + run.stderr


def test_every_code_folder_is_a_package_the_wheel_ships():
    # The image installs the project as a wheel (setuptools' find, not namespace
    # packages): a folder without __init__.py would import here and be missing there.
    from setuptools import find_packages

    shipped = set(find_packages(REPO, include=[f"{p}*" for p in PACKAGES
                                                if p not in ("benchmarks", "schema")]))
    folders = set()
    for package in PACKAGES:
        if package in ("benchmarks", "schema"):
            continue
        for folder, dirs, files in os.walk(os.path.join(REPO, package)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if any(f.endswith(".py") for f in files):
                folders.add(os.path.relpath(folder, REPO).replace(os.sep, "."))
    assert folders <= shipped, sorted(folders - shipped)
