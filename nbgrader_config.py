# nbgrader configuration for Problem Set 1, "backpropagation from scratch".
#
# nbgrader (0.9.6) reads this file from the current working directory, so run
# every `nbgrader ...` command from the repository root (the course root).
# `alembic` must be on PATH when nbgrader creates the gradebook: put
# .venv/bin first on PATH (the Makefile does).
#
# Grading flow: nbgrader generate_assignment ps1   (source_notebooks/ -> release/)
#               collect into submitted/<student>/ps1/
#               nbgrader autograde ps1
#               grade written answers in formgrader
#               nbgrader generate_feedback ps1
# or, all of it with student code confined and checked for tampering, then
# the rest of the loop (see README, "For instructors"):
#               course-grade submitted/   (or a folder of LMS zips)
#               course-grade rubric       (the page to keep beside formgrader)
#               grade written answers in formgrader
#               course-grade final        (late policy, LMS CSVs, feedback pages)
# `make release` (python -m course_lib.instructor.release) regenerates release/
# with the same settings in a scratch course root, so it touches no gradebook.
import os

c = get_config()  # noqa: F821  (injected by traitlets when it loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))

# --- the course --------------------------------------------------------------
# One id for the course; the gradebook records it with every assignment.
c.CourseDirectory.course_id = "backprop-ps1"

# The course root is the folder of this file, not the shell's cwd, so a
# command run from elsewhere (or a copy of this file in a scratch course, as the
# tests do) still finds its own folders.
c.CourseDirectory.root = HERE

# Folder names under the root. source/release are renamed to match the
# repository layout; submitted/autograded/feedback keep nbgrader's names
# (all three are gitignored: they hold students' work).
c.CourseDirectory.source_directory = "source_notebooks"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# The gradebook: SQLite in the course root (gitignored). It stores the source
# cells, hidden tests included, so it must never be shared with students.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

# Never copy these into release/ or autograded/ (nbgrader's defaults, plus
# editor and OS litter).
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    ".DS_Store",
]

# --- generate_assignment -----------------------------------------------------
# Create the assignment in the gradebook on the fly: no `nbgrader db
# assignment add` (and no student list) is needed before generating.
c.GenerateAssignment.create_assignment = True

# What replaces a code solution region in the student's notebook. It raises,
# so a blank notebook fails its test cells instead of passing them silently.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# What replaces a written answer (markdown solution cell).
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Strip `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` from release
# notebooks (on by default; stated so nobody turns it off by accident).
# autograde puts them back from the gradebook.
c.ClearHiddenTests.enabled = True

# Solution regions inside CUDA C strings (`/// BEGIN SOLUTION`) become a C
# comment, so a kernel's skeleton stays valid C: course_lib's ClearSolutions,
# in nbgrader's own list of GenerateAssignment preprocessors.
from nbgrader.preprocessors import (  # noqa: E402
    CheckCellMetadata as _CheckCellMetadata,
    ClearHiddenTests as _ClearHiddenTests,
    ClearMarkScheme as _ClearMarkScheme,
    ClearOutput as _ClearOutput,
    ComputeChecksums as _ComputeChecksums,
    IncludeHeaderFooter as _IncludeHeaderFooter,
    InstantiateTests as _InstantiateTests,
    LockCells as _LockCells,
    SaveCells as _SaveCells,
)

from course_lib.instructor.clear_solutions import ClearSolutions as _ClearSolutions  # noqa: E402

c.GenerateAssignment.preprocessors = [
    _IncludeHeaderFooter, _InstantiateTests, _LockCells, _ClearSolutions, _ClearOutput, _CheckCellMetadata,
    _ComputeChecksums, _SaveCells, _ClearHiddenTests, _ClearMarkScheme, _ComputeChecksums, _CheckCellMetadata,
]

# --- autograde ---------------------------------------------------------------
# Students are created in the gradebook when first autograded: no roster is
# needed up front (`nbgrader db student import` stays optional).
c.Autograde.create_student = True

# If a student deleted a graded cell (a test cell or a written answer), put the
# stored copy back instead of silently scoring it None. The re-added test cell
# then runs against the student's code like any other; a re-added written
# answer is flagged for manual grading.
c.OverwriteCells.add_missing_cells = True
# ... with course_lib's OverwriteCells: nbgrader 0.9.6's own raises KeyError
# (and fails the student's whole assignment) when the deleted cell follows a
# locked read-only cell, as every written answer here follows its locked
# question. Same preprocessor list as nbgrader's, that one class swapped.
# (course_lib is installed wherever notebooks are graded: they import it.)
from nbgrader.preprocessors import (  # noqa: E402
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
)

from course_lib.instructor.overwrite_cells import OverwriteCells  # noqa: E402

c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
]

# Seconds each cell may run under autograde (nbgrader's default is 30). The
# later notebooks (Fashion-MNIST training, DeepDream) need minutes on a CPU
# grading machine.
c.Execute.timeout = 300
# On a timeout, interrupt the kernel (SIGINT) and record a CellTimeoutError in
# that cell, then go on with the next cells instead of abandoning the notebook.
# Supported by nbgrader 0.9.6's Execute preprocessor (True is its default).
c.Execute.interrupt_on_timeout = True
# Execute.allow_errors is NOT configurable in nbgrader 0.9.6: the Execute
# preprocessor redefines it without `config=True`, fixed to True, so an error in
# one cell (a failing test) never stops the rest of the notebook being graded.
# Setting it here would be silently ignored, so it is not set.

# --- feedback ------------------------------------------------------------------
# nbgrader's feedback renders the autograded notebook, where autograde has put
# the hidden tests back. course_lib's HideHiddenTests removes them (and any
# output line quoting them) before `nbgrader generate_feedback` or formgrader's
# Generate Feedback button renders a page. course-grade writes its own pages
# (feedback/<student>/ps1/feedback.html), built from data, never from test code.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from course_lib.instructor.hide_hidden_tests import HideHiddenTests  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]

# --- deadline, late policy, extensions -----------------------------------------
# The deadline is nbgrader's: the assignment's duedate in the gradebook, e.g.
#     nbgrader db assignment add ps1 --duedate="2026-10-09 23:59:00 Europe/London"
# The submission time is nbgrader's timestamp.txt (its exchange writes it) or, for
# LMS zips, the LMS's record: submission_times.csv beside the zips (student,
# submitted_at). `course-grade final` applies this policy once, to autograded +
# written-answer points, and writes the penalty where `nbgrader export` reads it.
c.LatePolicy.percent_per_day = 10    # percent of the total per started day late
c.LatePolicy.max_percent = 50        # the penalty never exceeds this
c.LatePolicy.zero_after_days = 7     # more than 7 days late: 0 points
c.LatePolicy.grace_minutes = 15      # an upload that ends 15 minutes late is on time
# Per-student extensions: a CSV in the course root with columns student and
# either days (extra days) or due (that student's deadline). Written into
# nbgrader's own per-student extension when the final grades are made.
c.LatePolicy.extensions_file = "extensions.csv"
