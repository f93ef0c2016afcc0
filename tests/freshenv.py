"""Fresh virtual environments for the tests that install course_lib as a student would.

A new venv holds nothing but Python and pip (pip is copied from the venv the
tests run in: ``python -m venv`` would otherwise run ensurepip, slower and
sometimes absent). Heavy packages (torch, ...) are not installed again: see
tests/test_fresh_env.py, which exposes them through a ``.pth`` file, read-only,
as Colab's system site-packages holds them.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def new_venv(folder: Path) -> tuple[Path, Path]:
    """A new venv in ``folder`` with pip only; returns (its python, its site-packages)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    pip = metadata.distribution("pip")
    shutil.copytree(Path(pip.locate_file("pip")), site / "pip", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(next(Path(pip.locate_file("")).glob("pip-*.dist-info")), site / f"pip-{pip.version}.dist-info")
    return python, site


def clean_env(venv: Path, **extra: str) -> dict[str, str]:
    """The environment of a process in ``venv``: its bin first on PATH, no PYTHONPATH,
    no user site-packages, nothing of the venv the tests run in."""
    import os

    keep = {k: v for k, v in os.environ.items() if k.startswith(("PIP_", "LANG", "LC_", "HOME", "TMPDIR"))}
    return {**keep, "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "VIRTUAL_ENV": str(venv),
            "PYTHONNOUSERSITE": "1", **extra}
