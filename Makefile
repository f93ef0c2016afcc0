# The workbook's commands. `make all` is the main job, `make test` runs the tests.
# Both set up everything they need first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

.PHONY: all setup release wheel kit book book-instructor test test-fast bench grade clean

all: setup release book kit

setup:
	bash scripts/setup.sh

# Regenerate the student notebooks in release/ from source_notebooks/ with nbgrader.
release: setup
	$(BIN)/python -m course_lib.instructor.release

# The course_lib wheel, dist/course_lib-<version>-py3-none-any.whl, scanned for answers.
wheel: setup
	$(BIN)/python -m course_lib.instructor.kit --wheel-only

# The student kit: the wheel, dist/student/ (ps1/ + the wheel + START_HERE.md: push it as the
# public student repository named by repository.url in _config.yml) and dist/ps1-student.zip (LMS).
kit: release
	$(BIN)/python -m course_lib.instructor.kit

# Student build of the book into _build/html.
book: setup
	$(BIN)/python -m course_lib.instructor.book --audience student

# Instructor build (adds written-answer solutions) into _build/instructor/html.
book-instructor: setup
	$(BIN)/python -m course_lib.instructor.book --audience instructor

# Grade a class: `make grade SUBMISSIONS=path/to/zips-or-submitted [JOBS=4]` (see README, "For instructors").
SUBMISSIONS ?= submitted
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
grade: setup
	$(BIN)/course-grade $(SUBMISSIONS) --jobs $(JOBS)

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python scripts/bench_checks.py
	$(BIN)/python scripts/bench_mlp.py
	$(BIN)/python scripts/bench_gpu.py
	$(BIN)/python scripts/bench_pieces.py
	$(BIN)/python scripts/bench_dream.py
	$(BIN)/python scripts/bench_test_cells.py
	$(BIN)/python scripts/bench_grading.py

clean:
	rm -rf _build gradebook.db dist
