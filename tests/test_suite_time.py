"""What make bench-suite reads from pytest's --durations=0 output."""

import dataclasses

import pytest

from benchmarks import suite_time
from benchmarks.pipeline_run import PipelineRun

OUTPUT = """
============================= slowest durations ==============================
246.08s setup    tests/test_kfp_conformance.py::test_every_task_of_the_first_run_succeeds
0.50s call     tests/test_kfp_conformance.py::test_the_trainer_gets_the_runtime_train_steps
12.00s call     tests/test_kubeflow.py::test_bad_flags_write_nothing[args0---image]
0.01s teardown tests/test_kubeflow.py::test_bad_flags_write_nothing[args0---image]
======================= 366 passed in 837.72s (0:13:57) ========================
"""


def test_seconds_are_summed_per_module():
    assert suite_time.seconds_by_module(OUTPUT) == {
        "tests/test_kfp_conformance.py": 246.58, "tests/test_kubeflow.py": 12.01}


def test_a_runs_console_gives_its_times():
    run = PipelineRun(output_dir="/out", wall_seconds=230.0, started_at=0.0, console=(
        "pipeline msa_pipeline: data /d\n  Transform   done  14.2 s\n  Trainer   cached  0.0 s\n"
        "  Pusher   done  0.1 s\nfinished in 218 s\n"))
    assert run.pipeline_seconds() == 218.0
    assert run.component_seconds() == {"Transform": 14.2, "Trainer": 0.0, "Pusher": 0.1}
    unfinished = dataclasses.replace(run, console="  Transform   done  14.2 s\n")
    with pytest.raises(SystemExit, match="no 'finished in' line"):
        unfinished.pipeline_seconds()
