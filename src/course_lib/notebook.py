"""What the locked setup cell of every notebook calls.

The setup cell first runs its bootstrap (:mod:`course_lib.student.bootstrap`), then
``course_lib.setup_notebook(version=...)`` with the course_lib version the
notebook was released with (``make release`` writes it into the cell; the
kernel cannot reliably know which notebook it runs). A different installed
version still runs, with a warning on stdout that says what to run: the
checks of another version may not be the ones the graders run.
"""
from __future__ import annotations

import os
import platform
import sys


def on_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


def grading() -> bool:
    """True while nbgrader executes the notebook (it sets NBGRADER_EXECUTION)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def version_warning(wanted: str | None, have: str) -> str:
    """The warning for a notebook released with course_lib ``wanted`` in a kernel that
    has ``have``; ``""`` when they agree (or the notebook names no version)."""
    if not wanted or wanted == have:
        return ""
    wheel = f"course_lib-{wanted}-py3-none-any.whl"
    fix = (f"upload {wheel} (from the student kit) into the Files pane (/content), then "
           "Runtime > Restart session and run this cell again" if on_colab() else
           f"in a terminal, in the student kit's folder, run `pip install {wheel}`, "
           "then restart the kernel and run this cell again")
    return (f"WARNING: this notebook was released with course_lib {wanted}, but this kernel has "
            f"course_lib {have}: its checks may differ from the graders'. To fix it, {fix}.")


def setup_notebook(seed: int = 0, version: str | None = None) -> None:
    """Seed the random generators and print one line about the environment.

    ``version`` is the course_lib version the notebook was released with (the
    setup cell passes it); when the installed one differs, a warning that says
    what to run follows (on stdout, like the rest).

    It also imports torch once here, so that the first check cell does not
    pay for that import.
    """
    import random

    import numpy as np
    import torch

    from . import __version__

    from .figures.plotly_offline import add_text_alternatives

    add_text_alternatives()  # every plotly figure is followed by its text description (screen readers)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    device = "CUDA GPU" if torch.cuda.is_available() else "CPU"
    where = "Colab" if on_colab() else platform.system()
    print(
        f"course_lib {__version__} ready: Python {platform.python_version()}, "
        f"torch {torch.__version__.split('+')[0]} on {device}, {where}."
    )
    warning = version_warning(version, __version__)
    if warning:
        print(warning)
