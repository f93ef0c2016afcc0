"""Notebook 07's DeepDream checks under the path its test cells import from (``from
course_lib.checks.dream import check_octaves``). The checks live by concept:
:mod:`.dream_descent` (``gradient_descent`` on the image, and the layer objective),
:mod:`.dream_options` (its refinements) and :mod:`.dream_octaves`, with the linear
test classifier in :mod:`._dream_spy`.
"""
from .dream_descent import check_gradient_descent, check_layer_objective
from .dream_octaves import check_octaves

__all__ = ["check_gradient_descent", "check_layer_objective", "check_octaves"]
