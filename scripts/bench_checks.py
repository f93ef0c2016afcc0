"""Benchmark: the time of every check cell, and of nbgrader autograde, per notebook.

    .venv/bin/python scripts/bench_checks.py [NOTEBOOK_GLOB]     # or: make bench

1. Executes each source notebook (solutions filled in) in a fresh kernel, cell
   by cell, and prints the wall time of every autograded test cell (visible
   check plus hidden tests). Aim: each under 0.5 s on a 2-core CPU.
2. In a scratch course: generates the release, submits the solution-filled
   notebooks for one student and times ``nbgrader autograde`` for each notebook
   (the CLI, so it includes nbgrader's start-up).
Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from course_lib.instructor import nbmeta  # noqa: E402
from course_lib.instructor.release import solution_filled  # noqa: E402

AIM_S = 0.5


def time_cells(path: Path) -> list[tuple[str, float, bool]]:
    """(grade_id, seconds, errored) for every autograded test cell of ``path``."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    rows = []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            start = time.perf_counter()
            client.execute_cell(cell, index)
            seconds = time.perf_counter() - start
            if nbmeta.is_autograded_test(cell):
                errored = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
                rows.append((nbmeta.grade_id(cell) or f"cell {index}", seconds, errored))
    return rows


def time_autograde(sources: list[Path]) -> dict[str, float]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-course-") as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "source_notebooks", course / "source_notebooks")
        run = lambda *args: subprocess.run(["nbgrader", *args], cwd=course, env=env,  # noqa: E731
                                           capture_output=True, text=True)
        result = run("generate_assignment", "ps1", "--force")
        if result.returncode:
            raise SystemExit(f"generate_assignment failed:\n{result.stderr[-2000:]}")
        sub = course / "submitted" / "solved" / "ps1"
        sub.mkdir(parents=True)
        for src in sources:
            nbformat.write(solution_filled(course / "release" / "ps1" / src.name, src), sub / src.name)
        for src in sources:
            start = time.perf_counter()
            result = run("autograde", "ps1", "--student", "solved", "--notebook", src.stem, "--force")
            seconds[src.stem] = time.perf_counter() - start
            if result.returncode:
                print(f"  autograde of {src.stem} failed:\n{result.stderr[-1500:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("glob", nargs="?", default="*.ipynb", help="which source notebooks (default: all)")
    args = parser.parse_args()
    sources = sorted((ROOT / "source_notebooks" / "ps1").glob(args.glob))
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    print(f"{'notebook':<22} {'test cell':<18} {'seconds':>8}  status")
    slow = 0
    for path in sources:
        for grade_id, seconds, errored in time_cells(path):
            flag = "ERROR" if errored else ("over aim" if seconds > AIM_S else "ok")
            slow += seconds > AIM_S
            print(f"{path.stem:<22} {grade_id:<18} {seconds:8.3f}  {flag}")
    print(f"\ncheck cells over {AIM_S} s: {slow}\n")
    print(f"{'notebook':<22} {'nbgrader autograde (CLI, s)':>28}")
    for name, seconds in time_autograde(sources).items():
        print(f"{name:<22} {seconds:28.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
