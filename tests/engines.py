"""The reference `Value` engine, taken from the source notebook 02 (never copied),
and ways to derive variants of it for the catalogue tests.

Loading goes through :func:`course_lib.engine.load_value`, the same code that
later notebooks use to load a student's engine, so there is one implementation.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from course_lib.engine import engine_cells as _engine_cells
from course_lib.engine import load_value

ROOT = Path(__file__).resolve().parents[1]
SOURCE_02 = ROOT / "source_notebooks" / "ps1" / "02_autograd.ipynb"


def engine_cells(path: Path = SOURCE_02) -> list[str]:
    """The code that defines Value: the given class cell and the cells tagged 'engine'."""
    return [cell.source for cell in _engine_cells(path)]


def fresh_value(path: Path = SOURCE_02) -> type:
    """A new, independent Value class with every method of the reference solution."""
    return load_value(path, check=False, quiet=True)


def variant(**methods: Callable) -> type:
    """A fresh reference Value with some methods replaced."""
    Value = fresh_value()
    for name, fn in methods.items():
        setattr(Value, name, fn)
    return Value
