"""course_lib: the infrastructure of Problem Set 1, "backpropagation from scratch".

It checks students' work against independent oracles, draws computation
graphs and figures, loads data with offline fallbacks, and helps build and
grade the workbook. It holds no solution.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .notebook import setup_notebook

__all__ = ["__version__", "setup_notebook"]
