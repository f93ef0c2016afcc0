"""Every correct answer passes every student's hidden inputs.

At grading the hidden calls draw their seed from the student (``course_lib.checks.seeds``),
so a check that is fair on seed 2026 only would reject some students' correct answers.
Each seeded hidden call runs here on the reference solutions with the seeds a class of
students would get (a fixed salt, 8 students), ``hard=True`` as in the hidden tests.
Notebook 05's matmul runs on a GPU backend and is swept in tests/test_gpu_*.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import layer_refs as L
from course_lib.checks import autograd as A
from course_lib.checks import layers as LY
from course_lib.checks import losses as LO
from course_lib.checks import matrix_grads as MG
from course_lib.checks import mlp_scalar as M
from course_lib.checks import optim as O
from course_lib.checks import representation as R
from course_lib.checks import seeds
from course_lib.engine import load_cells
from engines import fresh_value
from nb04_refs import reference

pytestmark = pytest.mark.timeout(900)
ROOT = Path(__file__).resolve().parents[1] / "source_notebooks" / "ps1"
STUDENTS = [f"student{i:02d}" for i in range(8)]


def class_seeds(default: int) -> list[int]:
    """``hidden_seed(default)`` as each student's graded kernel computes it."""
    out = []
    for student in STUDENTS:
        seeds.HIDDEN_SEED = seeds.student_seed("a fixed salt", "ps1", student)
        try:
            out.append(seeds.hidden_seed(default))
        finally:
            seeds.HIDDEN_SEED = None
    return out


def _scalar_classes():
    Value = fresh_value()
    ns = load_cells(ROOT / "03_mlp.ipynb", grade_ids=("perceptron", "layer", "mlp"), given={"Value": Value})
    return Value, ns


def _collapse():
    import numpy as np

    return load_cells(ROOT / "06_representation.ipynb", grade_ids=("collapse",), given={"np": np})["collapse"]


def _cases():
    Value = fresh_value()
    V3, ns3 = _scalar_classes()
    ref04 = reference()
    yield from ((f"02 {c.__name__}", lambda c=c: c, lambda: (Value,))
                for c in (A.check_backward, A.check_mul, A.check_sub, A.check_pow, A.check_truediv, A.check_relu,
                          A.check_sigmoid, A.check_tanh))
    yield "03 check_perceptron", lambda: M.check_perceptron, lambda: (ns3["Perceptron"], V3)
    yield "03 check_layer", lambda: M.check_layer, lambda: (ns3["Layer"], V3)
    yield "03 check_mlp", lambda: M.check_mlp, lambda: (ns3["MLP"], V3)
    yield "03 check_zero_grad", lambda: M.check_zero_grad, lambda: (ns3["MLP"], V3)
    for name, cls in (("linear", L.Linear), ("sigmoid", L.Sigmoid), ("tanh", L.Tanh), ("relu", L.ReLU),
                      ("gelu", L.GELU), ("swish", L.Swish), ("softmax", L.Softmax), ("sgd", L.SGD),
                      ("batchnorm", L.BatchNorm1d)):
        yield f"03 check_{name}", lambda name=name: getattr(LY, f"check_{name}"), lambda cls=cls: (cls,)
    yield "03 check_model", lambda: LY.check_model, lambda: (L.MLP1(), ["Linear(2, 3)", "ReLU", "Linear(3, 2)", "ReLU"])
    yield "04 check_mse", lambda: LO.check_mse, lambda: (ref04["MSELoss"],)
    yield "04 check_cross_entropy", lambda: LO.check_cross_entropy, lambda: (ref04["CrossEntropyLoss"],)
    yield "04 check_bce", lambda: LO.check_bce, lambda: (ref04["BCELoss"],)
    for fn, arg in (("check_regression", "grads_regression"), ("check_classification_mse", "grads_classification_mse"),
                    ("check_classification_bce", "grads_classification_bce"), ("check_relu_tanh", "grads_relu_tanh"),
                    ("check_expression_grads", "expression_grads")):
        yield f"04 {fn}", lambda fn=fn: getattr(MG, fn), lambda arg=arg: (ref04[arg],)
    yield "04 check_adam", lambda: O.check_adam, lambda: (ref04["Adam"],)
    yield "06 check_collapse", lambda: R.check_collapse, lambda: (_collapse(),)


CASES = {name: (check, args) for name, check, args in _cases()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_reference_passes_every_students_hidden_inputs(name, capsys):
    check, args = CASES[name]
    defaults = (2026, 7) if name == "02 check_backward" else (2026,)
    for default in defaults:
        for seed in class_seeds(default):
            check()(*args(), seed=seed, hard=True)
    assert "PASSED" in capsys.readouterr().out
