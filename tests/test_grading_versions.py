"""``course-grade`` records the course_lib version it grades with, and says when a submission
was released with another one (a scratch course of notebook 01, tests/grading_course.py).

A notebook of another release carries another version stamp and the setup cell that
release's ``make release`` wrote: it is graded as usual (full marks when solved, not
flagged: the cell is the course's template), and the summary and ``grades.csv`` say so.
"""
from __future__ import annotations

import csv

import pytest

import course_lib
import grading_course as G
from course_lib import nbmeta
from course_lib.instructor import stamp
from course_lib.instructor.setup_cell import setup_cell_source

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

OTHER = "0.0.9"


def test_course_grade_records_and_compares_course_lib_versions(tmp_path):
    root = G.make_course(tmp_path / "course")
    G.submit(root, "alice", G.solved(root))
    old = G.solved(root)
    stamp.stamp(old, OTHER)
    next(c for c in old.cells if nbmeta.grade_id(c) == "setup").source = setup_cell_source(version=OTHER, url="")
    G.submit(root, "olga", old)
    proc = G.course_grade(root, "submitted", "--jobs", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    version = course_lib.__version__
    assert f"graded with course_lib {version}" in proc.stdout
    assert (f"WARNING: olga: released with course_lib {OTHER} (01_hand_gradients), graded with {version}"
            in proc.stdout), proc.stdout
    assert "WARNING: alice" not in proc.stdout
    with open(root / "grading" / "ps1" / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["alice"]["course_lib"] == rows["olga"]["course_lib"] == version
    assert (rows["alice"]["released_with"], rows["olga"]["released_with"]) == (version, OTHER)
    for student in ("alice", "olga"):          # graded the same: the other release's setup cell is not a finding
        assert rows[student]["auto_score"] == rows[student]["auto_max"] != "0", rows[student]
        assert rows[student]["flagged"] == "", rows[student]["flagged"]
