"""Notebook 03's numpy-layer checks under the path its test cells import from
(``from course_lib.checks.layers import check_linear``). The checks live by
concept: :mod:`.linear`, :mod:`.activations`, :mod:`.batchnorm`, :mod:`.model`
and, for SGD, :mod:`.optim`.
"""
from .activations import check_gelu, check_relu, check_sigmoid, check_softmax, check_swish, check_tanh
from .batchnorm import BN_EPS, check_batchnorm
from .linear import check_linear
from .model import check_model, describe_layers
from .optim import check_sgd

__all__ = [
    "check_linear",
    "check_sigmoid",
    "check_tanh",
    "check_relu",
    "check_gelu",
    "check_swish",
    "check_softmax",
    "check_sgd",
    "check_batchnorm",
    "check_model",
    "describe_layers",
    "BN_EPS",
]
