"""A catalogue of correct CUDA C kernels, in the styles public code and courses
use (naive, coalesced and shared-memory tiled matmuls, register blocking,
reductions, transposes, vector kernels, scans, stencils), each launched the
way its own host code launches it (``SourceModule``, ``get_function``,
``block=``, ``grid=``, ``shared=``, ``In/Out/InOut``, device memory).

None is the notebook's solution. :data:`CASES` maps a name to a
:class:`~cuda_catalogue.registry.Case`; :data:`CONSTRUCTS` lists what each
kernel exercises (every construct at least twice).
"""
from __future__ import annotations

from . import matmul, misc, reductions, transposes, vectors  # noqa: F401  (they register their cases)
from .registry import CASES, CONSTRUCTS, Case

__all__ = ["CASES", "CONSTRUCTS", "Case"]
