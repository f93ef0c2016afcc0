"""Deadlines, the late policy and extensions.

Where each piece lives:

- the **deadline** is nbgrader's: the assignment's ``duedate`` in the gradebook
  (``nbgrader db assignment add ps1 --duedate="2026-10-09 23:59:00 Europe/Berlin"``);
- the **policy** is :class:`LatePolicy`, set in ``nbgrader_config.py``
  (``c.LatePolicy.percent_per_day = 10`` ...);
- **extensions** are a small CSV (``LatePolicy.extensions_file``, default
  ``extensions.csv`` in the course root) with a ``student`` column and either
  ``days`` (extra days, may be fractional) or ``due`` (that student's own
  deadline); an optional ``assignment`` column limits a row to one assignment.
  They are written into nbgrader's own ``SubmittedAssignment.extension``;
- the **submission time** is nbgrader's: ``timestamp.txt`` in the submission
  folder, which nbgrader's exchange (``collect``) writes and autograde stores as
  the submission's ``timestamp``. For LMS zips, ``course-grade`` writes that file
  from the LMS's record, a CSV ``submission_times.csv`` beside the zips
  (columns ``student``, ``submitted_at``); a ``timestamp.txt`` inside a student's
  zip is never trusted. No known time: no penalty, and the student is flagged.

The penalty, for ``d`` = days late counted per *started* day after the (extended)
deadline plus ``grace_minutes``::

    percent = 100                                   if d_exact > zero_after_days
            = min(max_percent, percent_per_day * d)  otherwise
    penalty = percent / 100 * (autograded + manual points)
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

from traitlets import Float, Unicode
from traitlets.config import Configurable

DAY = 86400.0


class LatePolicy(Configurable):
    """The course's late policy (configure it in ``nbgrader_config.py``)."""

    percent_per_day = Float(0.0, help="percent of the total taken per started day late (0: no penalty)"
                            ).tag(config=True)
    max_percent = Float(100.0, help="the penalty never exceeds this percent").tag(config=True)
    zero_after_days = Float(None, allow_none=True,
                            help="later than this many days after the deadline the score is 0 (None: never)"
                            ).tag(config=True)
    grace_minutes = Float(0.0, help="minutes after the deadline that still count as on time").tag(config=True)
    extensions_file = Unicode("extensions.csv", help="per-student extensions, relative to the course root"
                              ).tag(config=True)

    def percent(self, seconds_late: float) -> float:
        """The penalty in percent for a submission ``seconds_late`` after the deadline."""
        late = seconds_late - 60.0 * self.grace_minutes
        if late <= 0:
            return 0.0
        if self.zero_after_days is not None and late > self.zero_after_days * DAY:
            return 100.0
        return min(self.max_percent, self.percent_per_day * math.ceil(late / DAY))

    def describe(self) -> str:
        """The policy in one sentence, for feedback pages and the README of an export."""
        if self.percent_per_day <= 0 and self.zero_after_days is None:
            return "no late penalty"
        parts = [f"{self.percent_per_day:g}% per started day late"] if self.percent_per_day > 0 else []
        if self.max_percent < 100:
            parts.append(f"at most {self.max_percent:g}%")
        if self.zero_after_days is not None:
            parts.append(f"0 points more than {self.zero_after_days:g} days late")
        if self.grace_minutes:
            parts.append(f"{self.grace_minutes:g} minutes' grace")
        return ", ".join(parts)


def load_policy(course: Path) -> LatePolicy:
    from ..release import load_config

    return LatePolicy(config=load_config(Path(course) / "nbgrader_config.py"))


def parse_time(text: str) -> dt.datetime:
    """A date-time in naive UTC, as nbgrader stores them: ISO 8601 (``2026-10-11T09:30+02:00``,
    ``...Z``), ``2026-10-11 09:30:00 +0200``, or ``YYYY-MM-DD HH:MM:SS ZONE`` with a zone name
    (``UTC``, ``Europe/Berlin``). A time without a zone is UTC. ValueError when it is not a time.

    (nbgrader's own ``parse_utc`` reads a third part ``+0200`` as 200 *seconds*; here it is +2 h.)
    """
    import dateutil.parser
    import dateutil.tz

    text = str(text).strip()
    parts = text.split(" ")
    try:
        if len(parts) == 3 and re.fullmatch(r"[A-Za-z_]+(/[A-Za-z_+-]+)*", parts[2]):
            zone = dateutil.tz.gettz(parts[2])
            if zone is None:
                raise ValueError(f"unknown time zone {parts[2]!r}")
            when = dateutil.parser.parse(" ".join(parts[:2])).replace(tzinfo=zone)
        else:
            when = dateutil.parser.parse(text)
    except (ValueError, OverflowError, TypeError) as err:
        raise ValueError(f"not a date-time: {text!r} ({err})") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


@dataclass
class Extension:
    student: str
    delta: dt.timedelta | None = None   # extra time, or
    due: dt.datetime | None = None      # the student's own deadline (naive UTC)

    def extension(self, duedate: dt.datetime) -> dt.timedelta:
        """The extension as nbgrader stores it: time added to the assignment's duedate."""
        return self.due - duedate if self.due is not None else self.delta


def read_extensions(path: Path, assignment: str) -> tuple[dict[str, Extension], list[str]]:
    """``({student: Extension}, [problems])`` from the extensions CSV (no file: none)."""
    from .submissions import clean_id

    if not Path(path).is_file():
        return {}, []
    out: dict[str, Extension] = {}
    problems: list[str] = []
    for n, row in enumerate(_rows(path), 2):
        student = clean_id(row.get("student", ""))
        if row.get("assignment") and row["assignment"] != assignment:
            continue
        try:
            if not student:
                raise ValueError("no student")
            if row.get("due"):
                out[student] = Extension(student, due=parse_time(row["due"]))
            elif row.get("days"):
                out[student] = Extension(student, delta=dt.timedelta(days=float(row["days"])))
            else:
                raise ValueError("neither a 'days' nor a 'due' value")
        except ValueError as err:
            problems.append(f"{Path(path).name} line {n}: {err}")
    return out, problems


def read_submission_times(path: Path) -> tuple[dict[str, dt.datetime], list[str]]:
    """``({student: submitted_at (naive UTC)}, [problems])`` from an LMS's submission-times CSV."""
    from .submissions import clean_id

    out: dict[str, dt.datetime] = {}
    problems: list[str] = []
    for n, row in enumerate(_rows(path), 2):
        student = clean_id(row.get("student", ""))
        try:
            if not student:
                raise ValueError("no student")
            out[student] = parse_time(row.get("submitted_at", ""))
        except ValueError as err:
            problems.append(f"{Path(path).name} line {n}: {err}")
    return out, problems


@dataclass
class Lateness:
    """How late one submission was, and what that costs."""

    due: dt.datetime | None          # the deadline that applied (extension included), naive UTC
    submitted: dt.datetime | None    # naive UTC; None: unknown
    extension: dt.timedelta | None
    seconds_late: float
    percent: float
    note: str = ""                   # e.g. "submission time unknown: no penalty applied"

    @property
    def days_late(self) -> int:
        """Started days late (0 when on time)."""
        return math.ceil(self.seconds_late / DAY) if self.seconds_late > 0 else 0

    def penalty(self, total: float) -> float:
        return round(total * self.percent / 100.0, 2)


def lateness(policy: LatePolicy, duedate: dt.datetime | None, submitted: dt.datetime | None,
             extension: dt.timedelta | None) -> Lateness:
    """Apply ``policy`` to one submission (every time naive UTC, as nbgrader stores them)."""
    if duedate is None:
        return Lateness(None, submitted, extension, 0.0, 0.0)
    due = duedate + (extension or dt.timedelta(0))
    if submitted is None:
        return Lateness(due, None, extension, 0.0, 0.0, "submission time unknown: no late penalty applied")
    seconds = max(0.0, (submitted - due).total_seconds())
    return Lateness(due, submitted, extension, seconds, policy.percent(seconds))
