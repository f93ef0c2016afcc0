"""What the locked setup cell of every notebook calls."""
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


def setup_notebook(seed: int = 0) -> None:
    """Seed the random generators and print one line about the environment.

    It also imports torch once here, so that the first check cell does not
    pay for that import.
    """
    import random

    import numpy as np
    import torch

    from . import __version__

    from .plotly_offline import add_text_alternatives

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
