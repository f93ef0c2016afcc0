"""Student ids: the one rule the student side (``course-submit`` names its zip) and the grader
(``course-grade`` reads ids from file and folder names, CSVs) share."""
from __future__ import annotations

import re

#: Runs of characters a student id may not hold.
BAD_ID = re.compile(r"[^A-Za-z0-9._@-]+")


def clean_id(name: str) -> str:
    """``name`` with runs of characters outside ``A-Za-z0-9._@-`` made ``_``, no leading or
    trailing ``.``/``_``; may be empty."""
    return BAD_ID.sub("_", str(name).strip()).strip("._")
