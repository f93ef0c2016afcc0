"""The one error the student commands raise: a message, never a traceback."""
from __future__ import annotations


class SubmitError(Exception):
    """Nothing was handed in; the message says why and what to do.

    Raised for a folder that is not there, a missing or corrupt notebook, a
    missing student id, or a validator that cannot be loaded. In Jupyter only
    the message is shown.
    """

    def _render_traceback_(self) -> list[str]:  # IPython hook: message only
        return ["NOT SUBMITTED", *str(self).splitlines()]
