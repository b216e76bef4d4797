"""Shared test set-up.

Keras 2 (tf_keras) must be selected before TensorFlow loads. Pipeline runs
are expensive (~1 min of fixed TFX overhead each), so the end-to-end tests
share session-scoped runs on small generated datasets: one output folder
carries a chain of five runs (first run, unchanged rerun, worse model,
better model, warm start), each test reading the runs it is about.
"""

import ast
import functools
import os
from typing import Optional

import pytest

from msa_data import synth
from tests.runner_util import run_local_runner

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The session fixtures below that run whole pipelines. A test that uses one
# (directly or through another fixture) is marked slow: `make test-fast`
# leaves it out while developing; `make test` runs everything. Modules that
# are slow for other reasons (their own runs, long training loops) say so
# themselves: `pytestmark = pytest.mark.slow`.
PIPELINE_RUNS = ("pipeline_chain", "tuned_run", "span_runs")


# `make test` spreads the tests over pytest-xdist workers. A session fixture
# lives once per worker, so every module that uses one pipeline fixture goes,
# whole, to one worker (a work unit named after the fixture): its runs happen
# once. A module whose module-scoped fixture is expensive (a tf.Transform run,
# the Kubeflow compilation) marks itself `one_worker`, and is a unit of its
# own: pytest tears module fixtures down when a worker moves to another
# module, so a spread module rebuilds its fixture once per switch. Every
# other test is a unit of its own. (Decided from the module's source: the
# scheduler sees node ids only. Not xdist_group marks: pytest 9 ignores the
# node ids xdist 3.8 rewrites for --dist loadgroup.)
@functools.lru_cache(maxsize=None)
def work_unit(path: str) -> Optional[str]:
    """The unit a test module's tests share, or None (each test on its own)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    used = {arg.arg for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for arg in node.args.args}
    runs = [name for name in PIPELINE_RUNS if name in used]
    if len(runs) > 1:
        raise pytest.UsageError(f"{path} uses {runs}: one pipeline fixture per module, or "
                                "both fixtures' runs happen on one worker")
    if runs:
        return runs[0]
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets) \
                and "one_worker" in ast.unparse(node.value):
            return os.path.basename(path)
    return None


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    root = str(config.rootpath)

    class WorkUnitScheduling(LoadScopeScheduling):
        """Largest units first (xdist's default reordering), so the chain starts at once."""

        def _split_scope(self, nodeid):
            return work_unit(os.path.join(root, nodeid.split("::", 1)[0])) or nodeid

    return WorkUnitScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        runs = fixtures.intersection(PIPELINE_RUNS)
        if runs:
            item.add_marker(pytest.mark.slow)
            unit = work_unit(str(item.path))
            if unit not in runs:  # e.g. a fixture reached in a way the scan does not see
                raise pytest.UsageError(
                    f"{item.nodeid} uses {sorted(runs)}, but its module is not scheduled "
                    "with it; take the fixture as a test or fixture argument in that module")


@pytest.fixture
def rng():
    """A numpy generator seeded the same for every test."""
    import numpy as np

    return np.random.default_rng(0)


@pytest.fixture
def tf_seed():
    """TensorFlow's, numpy's and Python's seeds at 0 (Keras initializers, dropout)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("tiny_data"))
    synth.generate(root, size="mosi", seed=0, limit_per_split=60, overwrite=True)
    return root


@pytest.fixture(scope="session")
def blessing_data(tmp_path_factory):
    """Enough segments for a model to learn from (see runner_util.BLESSING_SEGMENTS)."""
    from tests.runner_util import BLESSING_SEGMENTS

    root = str(tmp_path_factory.mktemp("blessing_data"))
    synth.generate(root, size="mosi", seed=0, limit_per_split=BLESSING_SEGMENTS,
                   overwrite=True)
    return root


@pytest.fixture(scope="session")
def pipeline_chain(blessing_data, tmp_path_factory):
    """Five pipeline runs into one output folder, each building on the last.

    ``good`` (``GOOD_STEPS``), ``rerun`` (the same again on unchanged inputs),
    ``worse`` (``WORSE_STEPS``), ``better`` (``BETTER_STEPS``), ``warm``
    (``--warm-start`` from ``better``, the last blessed model), all with
    ``runner_util.CHAIN_FLAGS``.

    Returns ``{name: (outcome, run_id, serving)}`` where ``serving`` maps each
    version folder under serving_model/ to a digest of its files, right after
    that run.
    """
    from tests.runner_util import (
        BETTER_STEPS,
        CHAIN_FLAGS,
        GOOD_STEPS,
        WORSE_STEPS,
        latest_run_id,
        serving_snapshot,
    )

    out = str(tmp_path_factory.mktemp("chain_out"))
    steps = {"good": GOOD_STEPS, "rerun": GOOD_STEPS, "worse": WORSE_STEPS,
             "better": BETTER_STEPS, "warm": GOOD_STEPS}
    runs = {}
    for name, n in steps.items():
        flags = list(CHAIN_FLAGS)
        flags[flags.index("--train-steps") + 1] = str(n)
        if name == "warm":
            flags.append("--warm-start")
        outcome = run_local_runner(["--data-root", blessing_data, "--output-dir", out, *flags])
        runs[name] = (outcome, latest_run_id(out), serving_snapshot(out))
    return runs


@pytest.fixture(scope="session")
def tuned_run(tiny_data, tmp_path_factory):
    """A ``--tune`` run (its own output folder) of the default architecture.

    The chain's runs use the text-only baseline (it learns reliably from little
    data, which the blessing tests need); this run takes the default
    sequence-level model through every component, its trials included.
    ``--word-fusion auto`` is set, like the model flags, so the search must
    leave the text model's layout alone.
    """
    from tests.runner_util import TINY_MODEL_FLAGS, TUNE_FLAGS

    out = str(tmp_path_factory.mktemp("tuned_out"))
    return run_local_runner(["--data-root", tiny_data, "--output-dir", out,
                             *TINY_MODEL_FLAGS, "--word-fusion", "auto", *TUNE_FLAGS])


@pytest.fixture(scope="session")
def span_runs(tmp_path_factory):
    """A data root of three built-in spans, span 3's video shifted, and two runs into
    one output folder: ``span2`` (``--span 2 --span-window 2``: checked against
    span 1, trained on spans 1-2, evaluated on span 2, blessed; ``--serving-data``
    holds requests like span 3's, skewed) and ``span3`` (the latest span,
    refused by the drift gate before Transform). Returns ``(data_root, {name:
    (outcome, serving snapshot)})``.
    """
    from msa_data import contract, synth_spans
    from tests.runner_util import BLESSING_SEGMENTS, CHAIN_FLAGS, serving_snapshot

    root = str(tmp_path_factory.mktemp("span_data"))
    synth.generate_spans(root, 3, shift_span=3, seed=0,
                               limit_per_split=BLESSING_SEGMENTS, overwrite=True)
    served = str(tmp_path_factory.mktemp("served"))  # requests like span 3's: skewed
    synth_spans.write_serving_requests(contract.span_dir(root, 3), "test", served)
    out = str(tmp_path_factory.mktemp("span_out"))
    runs = {}
    for name, flags in (("span2", ["--span", "2", "--span-window", "2", "--serving-data", served]),
                        ("span3", [])):
        outcome = run_local_runner(["--data-root", root, "--output-dir", out, *CHAIN_FLAGS,
                                    *flags])
        runs[name] = (outcome, serving_snapshot(out))
    return root, runs
