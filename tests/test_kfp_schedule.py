"""--schedule: the cron a Kubeflow Pipelines recurring run gets (pipeline/kubeflow/schedule.py)."""

from __future__ import annotations

import pytest

from pipeline.kubeflow.schedule import ScheduleError, kfp_cron


@pytest.mark.parametrize("given, sent", [
    ("0 3 * * *", "0 0 3 * * *"),            # crontab: 03:00 daily -> seconds added
    ("*/15 * * * *", "0 */15 * * * *"),
    ("0 2 * * MON-FRI", "0 0 2 * * MON-FRI"),
    ("30 0 3 1,15 * ?", "30 0 3 1,15 * ?"),  # already KFP's six fields
    ("  0  3 *  * * ", "0 0 3 * * *"),
    ("@daily", "@daily"),
    ("@every 6h", "@every 6h"),
    ("@every 1h30m", "@every 1h30m"),
])
def test_crontab_and_kfp_forms_reach_kfp_as_six_fields(given, sent):
    assert kfp_cron(given) == sent


@pytest.mark.parametrize("given, fragment", [
    ("0 3 * *", "expected a cron expression of 5 fields"),
    ("", "expected a cron expression of 5 fields"),
    ("1 2 3 4 5 6 7", "got 7"),
    ("61 * * * *", "minute '61': expected 0-59"),
    ("0 24 * * *", "hour '24': expected 0-23"),
    ("0 3 0 * *", "day of month '0': expected 1-31"),
    ("0 3 * 13 *", "month '13': expected 1-12 or JAN-DEC"),
    ("0 3 * * 7", "day of week '7': expected 0-6 or SUN-SAT"),
    ("*/0 * * * *", "the step after '/' must be"),
    ("0 5-2 * * *", "the range runs backwards"),
    ("? 3 * * *", "only the day fields take '?'"),
    ("@fortnightly", "unknown descriptor"),
    ("@every often", "unknown descriptor"),
])
def test_a_bad_schedule_is_one_line_naming_the_field(given, fragment):
    with pytest.raises(ScheduleError) as err:
        kfp_cron(given)
    message = str(err.value)
    assert fragment in message and "\n" not in message
    assert message.startswith(f"--schedule {given!r}")
