"""Hidden test calls draw their seed from the student (``course_lib.checks.seeds``).

On a student's own run ``hidden_seed(2026)`` is 2026; under ``course-grade`` each
student's kernel gets a seed made from the course's secret salt and the student's
id, so two students meet different hidden inputs and a regrade meets the same.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import nbformat

from course_lib.checks import seeds
from course_lib.instructor.grading import worker
from course_lib.instructor.grading.kernel import ConfinedKernelManager
from course_lib.nbmeta import is_autograded_test

ROOT = Path(__file__).resolve().parents[1]


def test_a_students_own_run_uses_the_fixed_seeds():
    assert seeds.HIDDEN_SEED is None
    assert seeds.hidden_seed(2026) == 2026 and seeds.hidden_seed(7) == 7


def test_the_grader_seed_differs_per_student_and_is_stable(tmp_path):
    settings = worker.Settings(course=str(tmp_path), assignment="ps1")
    salt = worker.course_salt(settings)
    assert len(salt) == 32 and worker.course_salt(settings) == salt  # made once, then kept
    alice, bob = (seeds.student_seed(salt, "ps1", s) for s in ("alice", "bob"))
    assert alice != bob and alice == seeds.student_seed(salt, "ps1", "alice")
    assert seeds.student_seed("another course's salt", "ps1", "alice") != alice


def _hidden_seeds_in(env_seed: int | None) -> list[int]:
    code = "from course_lib.checks.seeds import hidden_seed; print(hidden_seed(2026), hidden_seed(7))"
    env = {"PATH": "/usr/bin:/bin"} | ({seeds.ENV: str(env_seed)} if env_seed is not None else {})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return [int(x) for x in out.stdout.split()]


def test_hidden_calls_follow_the_kernels_seed():
    assert _hidden_seeds_in(None) == [2026, 7]
    a, b = _hidden_seeds_in(123), _hidden_seeds_in(456)
    assert a != b and a == _hidden_seeds_in(123) and a[0] != a[1]


def test_a_graded_kernel_gets_its_students_seed_and_student_code_cannot_read_the_variable(tmp_path):
    async def run() -> str:
        km = ConfinedKernelManager(confine=False, submission=str(tmp_path), hidden_seed=123)
        await km.start_kernel(cwd=str(tmp_path))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=120)
            reply = await kc.execute_interactive(
                "import os\nfrom course_lib.checks.seeds import hidden_seed\n"
                "print(hidden_seed(2026), os.environ.get('COURSE_HIDDEN_SEED'))", timeout=60,
                output_hook=lambda msg: out.append(msg["content"].get("text", "")))
            assert reply["content"]["status"] == "ok"
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
        return "".join(out)

    out: list[str] = []
    printed = asyncio.run(run()).split()
    assert printed == [str(_hidden_seeds_in(123)[0]), "None"], printed


def test_every_seeded_hidden_call_uses_hidden_seed():
    """No hidden check call keeps a fixed seed (that students could test against at home); data a
    hidden test rebuilds to compare with the student's (notebook 03's moons) keeps its own."""
    fixed = []
    for path in sorted((ROOT / "source_notebooks" / "ps1").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if is_autograded_test(cell) and "BEGIN HIDDEN TESTS" in cell.source:
                hidden = cell.source.split("BEGIN HIDDEN TESTS", 1)[1]
                calls = [line for line in hidden.splitlines() if line.lstrip().startswith("check_")]
                if any("seed=" in line.replace("seed=hidden_seed(", "") for line in calls):
                    fixed.append(f"{path.name}: {cell.metadata['nbgrader']['grade_id']}")
    assert not fixed, fixed
