"""Shared test set-up.

Keras 2 (tf_keras) must be selected before TensorFlow loads. Pipeline runs
are expensive (~1 min of fixed TFX overhead each), so the end-to-end tests
share one session-scoped pair of runs on a tiny generated dataset.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from tests.runner_util import TINY_MODEL_FLAGS, run_local_runner  # noqa: E402

# Tests that need a whole pipeline run (these session fixtures, or one of
# their own) are marked slow: `make test-fast` leaves them out while
# developing; `make test` runs everything.
PIPELINE_FIXTURES = {"pipeline_runs", "blessing_runs", "tuned_runs", "cli_run",
                     "transform_output", "source_run"}
# Modules whose tests start their own pipeline runs, long training loops, or
# compile the Kubeflow pipeline in subprocesses. Single tests that start the
# runner carry @pytest.mark.slow themselves.
SLOW_MODULES = {"test_faults", "test_interrupt", "test_learnability", "test_resume",
                "test_kubeflow"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = getattr(item.module, "__name__", "").rsplit(".", 1)[-1]
        if module in SLOW_MODULES or PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    from msa_data import synth

    root = str(tmp_path_factory.mktemp("tiny_data"))
    synth.generate(root, size="mosi", seed=0, limit_per_split=60, overwrite=True)
    return root


@pytest.fixture(scope="session")
def blessing_data(tmp_path_factory):
    """Enough segments for a model to learn from (see runner_util.BLESSING_SEGMENTS)."""
    from msa_data import synth
    from tests.runner_util import BLESSING_SEGMENTS

    root = str(tmp_path_factory.mktemp("blessing_data"))
    synth.generate(root, size="mosi", seed=0, limit_per_split=BLESSING_SEGMENTS,
                   overwrite=True)
    return root


@pytest.fixture(scope="session")
def pipeline_runs(tiny_data, tmp_path_factory):
    """Two runs of the whole pipeline on the same unchanged inputs.

    Both use the DirectRunner in multi_processing mode (2 workers), so the
    Beam components run in worker processes that import the user code by its
    dotted path, as they do for users.
    """
    out = str(tmp_path_factory.mktemp("pipeline_out"))
    args = ["--data-root", tiny_data, "--output-dir", out, "--beam-workers", "2",
            *TINY_MODEL_FLAGS]
    first = run_local_runner(args)
    second = run_local_runner(args)
    return first, second


@pytest.fixture(scope="session")
def blessing_runs(blessing_data, tmp_path_factory):
    """Four pipeline runs sharing one output dir (so the later ones have a baseline).

    good, worse, better (steps from runner_util), then ``better`` again on
    unchanged inputs.

    Returns a list of ``(outcome, run_id, serving)`` where ``serving`` maps each
    version folder under serving_model/ to a digest of its files, right after
    that run.
    """
    from tests.runner_util import (BETTER_STEPS, BLESSING_MODEL_FLAGS, GOOD_STEPS, WORSE_STEPS,
                                   latest_run_id, serving_snapshot)

    out = str(tmp_path_factory.mktemp("blessing_out"))
    flags = list(BLESSING_MODEL_FLAGS)
    at = flags.index("--train-steps") + 1
    runs = []
    for steps in (GOOD_STEPS, WORSE_STEPS, BETTER_STEPS, BETTER_STEPS):
        flags[at] = str(steps)
        outcome = run_local_runner(["--data-root", blessing_data, "--output-dir", out, *flags])
        runs.append((outcome, latest_run_id(out), serving_snapshot(out)))
    return runs


@pytest.fixture(scope="session")
def tuned_runs(blessing_data, tmp_path_factory):
    """A ``--tune`` run, then a ``--warm-start`` run from its blessed model (one output dir).

    Both fix ``--word-fusion auto`` so the Tuner leaves the text model's
    layout alone and the second run's architecture matches the first's.
    """
    from tests.runner_util import BLESSING_MODEL_FLAGS, TUNE_FLAGS

    out = str(tmp_path_factory.mktemp("tuned_out"))
    common = ["--data-root", blessing_data, "--output-dir", out, *BLESSING_MODEL_FLAGS,
              "--word-fusion", "auto"]
    tuned = run_local_runner([*common, *TUNE_FLAGS])
    warm = run_local_runner([*common, "--warm-start"])
    return tuned, warm
