"""Notebook 03, part 1 (a tiny neural-network library on the student's scalar
``Value``) under the path its test cells import from (``from
course_lib.checks.mlp_scalar import check_mlp``). The checks live by concept:
:mod:`.neurons` (Perceptron, Layer, MLP: ``parameters()``, forward and backward
against torch) and :mod:`.mlp_training` (``zero_grad`` and the trained classifier),
with the shared network description and torch oracle in :mod:`._scalar_net`.
"""
from .mlp_training import check_trained_classifier, check_zero_grad
from .neurons import check_layer, check_mlp, check_perceptron

__all__ = ["check_perceptron", "check_layer", "check_mlp", "check_zero_grad", "check_trained_classifier"]
