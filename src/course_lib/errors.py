"""The one base of the errors a student reads: a plain message, never course_lib's traceback."""
from __future__ import annotations


class PlainError(Exception):
    """An error whose message is all a student needs. In Jupyter only ``heading`` and the
    message show (IPython's ``_render_traceback_`` hook), not course_lib's traceback."""

    heading = "ERROR"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:  # IPython hook: message only
        return [self.heading, *self.message.splitlines()]
