"""Notebook 05 tried as a student would (issue 21): the answer cells run as
written in the source notebook, with the edits a student makes.

* A kernel that does not compile is reported by its check as "your kernel
  `matmul` does not compile: line N: ..." whether it never compiled (no bare
  ``NameError``) or compiled before (the old kernel is not tested).
* A missing guard in doublify gets a 1-D hint.
* Line numbers are the student's (line 1: the first line after ``r\"\"\"``),
  also in nvcc's messages on a GPU.
* ``gpu_setup`` shows one readable line: backend, mode, device.
* A written answer says "YOUR ANSWER HERE" once in the release.
* A slow build says so while it runs.
"""
from __future__ import annotations

import ast
import copy
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_lib import gpu
from course_lib.checks import CheckFailure
from course_lib.checks.gpu import check_doublify, check_matmul
from course_lib.gpu import backends, worker

NOTEBOOK = Path(__file__).resolve().parents[1] / "source_notebooks" / "ps1" / "05_gpu.ipynb"


def _cells() -> dict[str, str]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}


CELLS = _cells()


def run_cell(grade_id: str, namespace: dict, edit: tuple[str, str] | None = None) -> dict:
    """Run the notebook's cell ``grade_id`` (as the source notebook has it, solution
    filled in), with ``edit`` = (old, new) applied, in ``namespace``, as Jupyter would."""
    source = CELLS[grade_id]
    if edit is not None:
        assert edit[0] in source, edit
        source = source.replace(*edit)
    exec(compile(source, f"<cell {grade_id}>", "exec"), namespace)
    return namespace


def fresh_namespace() -> dict:
    return {"gpu": gpu, "np": np}


BREAK_MATMUL = ("float sum = 0.0f;", "float sum = 0.0f")       # line 7 of the kernel as the student counts
BREAK_DOUBLIFY = ("a[i] = 2.0f * a[i];", "a[i] = 2.0f * a[i]")  # line 6


# ---------------------------------------------------------------- 1. the check tests what the cell defines now
def test_a_first_compile_error_is_reported_by_the_check_not_as_a_name_error(capsys):
    with gpu.using("cpu"):
        ns = run_cell("matmul", fresh_namespace(), BREAK_MATMUL)       # the cell runs to its end
    printed = capsys.readouterr().err
    assert "KERNEL DOES NOT COMPILE" in printed and "line 7: expected ';' at end of declaration" in printed
    assert isinstance(ns["matmul_kernel"], gpu.UncompiledKernel) and callable(ns["matmul"])
    with pytest.raises(CheckFailure) as info:
        check_matmul(ns["matmul"])
    assert str(info.value).startswith("matmul: your kernel `matmul` does not compile: line 7: expected ';' at end "
                                      "of declaration `float sum = 0.0f`"), str(info.value)


def test_a_kernel_edited_so_that_it_no_longer_compiles_is_not_tested_in_its_old_version(capsys):
    ns = fresh_namespace()
    with gpu.using("cpu"):
        run_cell("matmul", ns)
        check_matmul(ns["matmul"])
        assert "PASSED: matmul" in capsys.readouterr().out
        run_cell("matmul", ns, BREAK_MATMUL)
    with pytest.raises(CheckFailure) as info:
        check_matmul(ns["matmul"])
    assert "matmul: your kernel `matmul` does not compile: line 7: expected ';'" in str(info.value)
    assert "PASSED" not in capsys.readouterr().out
    with gpu.using("cpu"):
        run_cell("matmul", ns)                                          # fixed: tested again
        check_matmul(ns["matmul"])
    assert "PASSED: matmul" in capsys.readouterr().out


def test_doublify_that_never_compiled_and_the_cells_that_launch_it_say_so(capsys):
    ns = run_cell("doublify", fresh_namespace(), BREAK_DOUBLIFY)
    with pytest.raises(CheckFailure, match=r"^doublify: your kernel `doublify` does not compile: line 6: expected "
                                           r"';' after expression `a\[i\] = 2.0f \* a\[i\]`"):
        check_doublify(ns["doublify"])
    with pytest.raises(gpu.KernelDoesNotCompile, match="your kernel `doublify` does not compile: line 6"):
        run_cell("doublify_time", ns)                                   # the given cell that launches it
    with pytest.raises(CheckFailure, match="your kernel `doublify` does not compile"):
        check_doublify(ns["doublify_kernel"])                           # handed the kernel itself


def test_a_wrong_kernel_name_is_named():
    ns = run_cell("matmul", fresh_namespace(), ('compile_kernel(MATMUL_SRC, "matmul")',
                                                'compile_kernel(MATMUL_SRC, "matmult")'))
    with pytest.raises(CheckFailure, match=r"there is no kernel named `matmult` in its source \(its kernels: "
                                           r"matmul\)"):
        check_matmul(ns["matmul"])


def test_a_kernel_that_cannot_run_on_the_cpu_is_reported_as_such():
    ns = run_cell("doublify", fresh_namespace(), ("a[i] = 2.0f * a[i];", "a[i] = clock();"))
    with pytest.raises(CheckFailure, match=r"your kernel `doublify` cannot run on the CPU backends: line 6: "
                                           r"`a\[i\] = clock\(\);` `clock` cannot run"):
        check_doublify(ns["doublify"])


def test_a_source_module_whose_kernel_clang_cannot_name_still_marks_the_old_kernel_stale():
    """Kernels bound with SourceModule(...).get_function(...) directly (an older notebook)."""
    from test_gpu_translation import MATMUL, _matmul_cell

    with gpu.using("cpu"):
        matmul = _matmul_cell(MATMUL)
        with pytest.raises(gpu.CompileError):
            _matmul_cell(MATMUL.replace("int p)", "int p"))          # no `)`: clang sees no kernel
    with pytest.raises(CheckFailure, match="the kernel `matmul` in the cell above does not compile"):
        check_matmul(matmul)
    with gpu.using("cpu"):
        _matmul_cell(MATMUL)


# ---------------------------------------------------------------- 2. a 1-D hint for the 1-D kernel
def test_doublify_without_its_guard_gets_a_one_dimensional_hint():
    ns = run_cell("doublify", fresh_namespace(), ("    if (i < n)\n", ""))
    with pytest.raises(CheckFailure) as info:
        check_doublify(ns["doublify"])
    message = str(info.value)
    assert "out-of-bounds read of a[1]" in message and "line 5 of your kernel: `a[i] = 2.0f * a[i];`" in message
    assert "guard the access with `if (i < n)`" in message
    assert "row" not in message and "col" not in message and "matrix" not in message


# ---------------------------------------------------------------- 3. lines as the student counts them
def test_line_one_is_the_first_line_after_the_quotes_in_every_message():
    ns = run_cell("matmul", fresh_namespace(), ("int row = blockIdx.y", "int row = blockIdy.y"))
    assert "line 4: use of undeclared identifier 'blockIdy'" in ns["matmul_kernel"].summary
    source = CELLS["matmul"].split('r"""')[1].split('"""')[0]
    assert source.startswith("\n") and source.splitlines()[4].strip().startswith("int row")  # [0] is the blank


class _FakeNvcc:
    """PyCUDA's SourceModule as far as the CUDA backend uses it: wraps the source in
    extern "C" {} like PyCUDA, and fails with nvcc's message at the given line of it."""

    def __init__(self, bad: str):
        self.bad, self.seen = bad, []

    def __call__(self, source: str):
        wrapped = 'extern "C" {\n' + source + "\n}\n"
        self.seen.append(wrapped)
        physical = next(i for i, line in enumerate(wrapped.splitlines(), 1) if self.bad in line)
        directive = next(i for i, line in enumerate(wrapped.splitlines(), 1) if line.startswith("#line 1"))
        reported = physical - directive      # what nvcc prints after `#line 1`
        raise RuntimeError(f"nvcc compilation of /tmp/tmpab12/kernel.cu failed\n[command: nvcc --cubin kernel.cu]\n"
                           f"[stderr:\n/tmp/tmpab12/kernel.cu({reported}): error: expected a \";\"\n\n"
                           f"1 error detected in the compilation of \"/tmp/tmpab12/kernel.cu\".\n]")


def test_nvcc_messages_on_a_gpu_count_lines_as_the_student_does():
    cuda = backends.CudaBackend.__new__(backends.CudaBackend)
    source = CELLS["matmul"].split('r"""')[1].split('"""')[0].replace(*BREAK_MATMUL)
    cuda._SourceModule = _FakeNvcc("float sum = 0.0f")
    with pytest.raises(gpu.CompileError) as info:
        cuda.compile(source)
    assert str(info.value) == ("your CUDA C does not compile (nvcc):\n"
                               "line 7: expected a \";\" `float sum = 0.0f`"), str(info.value)


# ---------------------------------------------------------------- 4. gpu_setup: one readable line
def test_gpu_setup_shows_one_readable_line_with_backend_mode_and_device(capsys):
    for name, phrases in (("cpu", ["CPU (fast mode)", "PoCL on ", " cores"]),
                          ("checked", ["CPU (checked mode)", "Oclgrind simulator"])):
        chosen = gpu.use(name)
        shown = capsys.readouterr().out
        assert shown.count("\n") == 1 and shown.startswith("course_lib.gpu: kernels run on the "), shown
        for phrase in phrases:
            assert phrase in shown and phrase in repr(chosen), (phrase, shown, repr(chosen))
        assert "object at 0x" not in repr(chosen) and "\n" not in repr(chosen)
    gpu.use("cpu", quiet=True)
    cell = ast.parse(CELLS["gpu_setup"])
    assert not isinstance(cell.body[-1], ast.Expr), "the cell's last line would echo the backend a second time"


# ---------------------------------------------------------------- 5. YOUR ANSWER HERE, once
def test_each_written_answer_says_your_answer_here_once_in_the_release():
    from nbgrader.preprocessors import ClearSolutions

    nb = nbformat.read(NOTEBOOK, as_version=4)
    answers = [c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")]
    assert answers
    released, _ = ClearSolutions(text_stub="YOUR ANSWER HERE").preprocess(copy.deepcopy(nb), {})
    for cell in released.cells:
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            assert cell.source.count("YOUR ANSWER HERE") == 1, cell.source


# ---------------------------------------------------------------- 6. a slow build says so
def test_a_build_that_takes_longer_than_a_moment_says_so(monkeypatch, capsys):
    monkeypatch.setattr(worker, "NOTICE_S", 0.0)
    with gpu.using("cpu"):
        gpu.SourceModule("__global__ void notice_me(float *a) { a[threadIdx.x] += 3.0f; }")
    assert "course_lib.gpu: compiling your CUDA C for the CPU (PoCL), once" in capsys.readouterr().out
