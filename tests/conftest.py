"""Shared test set-up.

Keras 2 (tf_keras) must be selected before TensorFlow loads. Pipeline runs
are expensive (~1 min of fixed TFX overhead each), so the end-to-end tests
share session-scoped runs on small generated datasets: one output folder
carries a chain of five runs (first run, unchanged rerun, worse model,
better model, warm start), each test reading the runs it is about.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from msa_data import synth
from tests.runner_util import run_local_runner  # noqa: E402

# Tests that need a whole pipeline run (these session fixtures, or one of
# their own) are marked slow: `make test-fast` leaves them out while
# developing; `make test` runs everything.
PIPELINE_FIXTURES = {"pipeline_chain", "tuned_run", "cli_run", "source_run"}
# Modules whose tests start their own pipeline runs, long training loops, or
# compile the Kubeflow pipeline in subprocesses. Single tests that start the
# runner carry @pytest.mark.slow themselves.
SLOW_MODULES = {"test_faults", "test_interrupt", "test_learnability", "test_resume", "test_trainer",
                "test_kubeflow", "test_kfp_conformance", "test_vertex_conformance"}


# `make test` spreads the tests over pytest-xdist workers. Session fixtures
# live once per worker, so the modules that share a pipeline fixture form one
# work unit, sent whole to one worker: its runs happen once. (By module, not
# xdist_group marks: pytest 9 ignores the node ids xdist 3.8 rewrites for
# --dist loadgroup.) Modules whose module-scoped fixture is expensive are
# units too: split over the workers, each worker that ran one of their tests
# built the fixture again (test_trainer's tf.Transform run, test_preprocessing's,
# test_kubeflow's compilation: ~50 s of repeats a suite). Every other test is a
# unit of its own.
MODULE_GROUPS = {"test_pipeline_e2e": "chain", "test_blessing": "chain", "test_report": "chain",
                 "test_faults": "chain", "test_tuning": "tuned",
                 "test_convert_pipeline": "source", "test_trainer": "trainer",
                 "test_preprocessing": "preprocessing", "test_kubeflow": "kubeflow",
                 "test_kfp_conformance": "kfp_conformance",
                 "test_vertex_conformance": "vertex_conformance"}
FIXTURE_GROUPS = {"pipeline_chain": "chain", "cli_run": "chain", "tuned_run": "tuned",
                  "source_run": "source"}


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class FixtureGroupScheduling(LoadScopeScheduling):
        """Largest units first (xdist's default reordering), so the chain starts at once."""

        def _split_scope(self, nodeid):
            return MODULE_GROUPS.get(_module(nodeid), nodeid)

    return FixtureGroupScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = _module(item.nodeid)
        fixtures = set(getattr(item, "fixturenames", ()))
        if module in SLOW_MODULES or PIPELINE_FIXTURES & fixtures:
            item.add_marker(pytest.mark.slow)
        for fixture in fixtures & FIXTURE_GROUPS.keys():
            if MODULE_GROUPS.get(module) != FIXTURE_GROUPS[fixture]:
                raise pytest.UsageError(
                    f"{item.nodeid} uses {fixture}: list {module} under "
                    f"{FIXTURE_GROUPS[fixture]!r} in tests/conftest.py MODULE_GROUPS, or "
                    "its worker runs that fixture's pipeline runs again")


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
