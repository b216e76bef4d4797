"""``--schedule CRON``: the cron expression a Kubeflow Pipelines recurring run gets.

KFP parses a recurring run's cron with robfig/cron v1 (``cron.Parse`` in the
API server and the ScheduledWorkflow controller), whose fields start with
*seconds*: ``0 0 3 * * *`` is 03:00 every day. It also accepts five fields,
but reads them as seconds to months, so the usual crontab ``0 3 * * *``
would silently mean "at second 0 of minute 3 of every hour". The runner
therefore takes either form and always hands KFP six fields: a five-field
crontab line gets ``0`` seconds in front. Descriptors (``@daily``,
``@hourly``, ``@every 6h``, ...) pass as they are. Times are UTC (the
controller schedules in UTC).
"""

from __future__ import annotations

import re

_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                "@hourly")
_EVERY = re.compile(r"@every ((\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$")
_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
_DAYS = "SUN MON TUE WED THU FRI SAT".split()
# (name, lowest, highest, names for 0.. or 1..) of KFP's six fields.
_FIELDS = (("second", 0, 59, None), ("minute", 0, 59, None), ("hour", 0, 23, None),
           ("day of month", 1, 31, None), ("month", 1, 12, _MONTHS),
           ("day of week", 0, 6, _DAYS))


class ScheduleError(ValueError):
    """A cron expression KFP would refuse or misread; one line, naming the field."""


def _value(text: str, field) -> int:
    name, low, high, names = field
    if names and text.upper() in names:
        return names.index(text.upper()) + low
    if not text.isdigit() or not low <= int(text) <= high:
        raise ScheduleError(f"{name} {text!r}: expected {low}-{high}"
                            + (f" or {names[0]}-{names[-1]}" if names else ""))
    return int(text)


def _check_field(text: str, field) -> None:
    name = field[0]
    for item in text.split(","):
        body, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            raise ScheduleError(f"{name} {item!r}: the step after '/' must be a whole "
                                "number >= 1")
        if body in ("*", "?"):
            if body == "?" and name not in ("day of month", "day of week"):
                raise ScheduleError(f"{name} '?': only the day fields take '?'")
            continue
        low, _, high = body.partition("-")
        first = _value(low, field)
        if high and _value(high, field) < first:
            raise ScheduleError(f"{name} {item!r}: the range runs backwards")


def kfp_cron(expression: str) -> str:
    """The six-field expression for KFP; :class:`ScheduleError` says what is wrong."""
    text = " ".join(expression.split())
    if text.startswith("@"):
        if text in _DESCRIPTORS or _EVERY.match(text):
            return text
        raise ScheduleError(f"--schedule {expression!r}: unknown descriptor; expected one of "
                            f"{', '.join(_DESCRIPTORS)} or '@every DURATION' (e.g. @every 6h)")
    fields = text.split(" ")
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ScheduleError(f"--schedule {expression!r}: expected a cron expression of 5 fields "
                            "(minute hour day-of-month month day-of-week, e.g. '0 3 * * *') "
                            f"or KFP's 6 (seconds first), got {len(text.split(' '))}")
    for part, field in zip(fields, _FIELDS):
        try:
            _check_field(part, field)
        except ScheduleError as err:
            raise ScheduleError(f"--schedule {expression!r}: {err}") from None
    return " ".join(fields)
