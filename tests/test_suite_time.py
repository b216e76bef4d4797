"""What make bench-suite reads from pytest's --durations=0 output."""

from benchmarks import suite_time

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


def test_the_runners_finish_line_is_found():
    assert suite_time.FINISHED.search("  Pusher   done  0.0 s\nfinished in 218 s\n").group(1) \
        == "218"
