"""Figures for the notebooks and the book, with what makes them readable anywhere.

Each figure builds a plotly figure that stays interactive in a static page (buttons and
sliders switch precomputed traces, no kernel needed):

- :mod:`.activations`, :mod:`.gpu`, :mod:`.images`, :mod:`.optim`, :mod:`.training`:
  the notebooks' figures; :mod:`.pieces` (the linear-pieces explorer), :mod:`.xor`
  (the XOR net trained for a figure), :mod:`.graph` (computation graphs, graphviz);
- :mod:`.style` (series colours and symbols), :mod:`.text` (each figure's text
  alternative), :mod:`.views` (where a figure with a slider or buttons says the view
  shown: its title names the figure, one state line says the view) and
  :mod:`.plotly_offline` (the renderer that works offline and in the book).

Names are imported on first use, so ``from course_lib.figures import use_book_renderer``
does not import every figure module.
"""
from __future__ import annotations

import importlib

#: Public name -> the submodule that defines it.
_HOMES = {
    "ACTIVATIONS": "activations", "activation_figure": "activations",
    "block_tiling_figure": "gpu", "matmul_benchmark_figure": "gpu",
    "predictions_figure": "images",
    "adam_first_steps_figure": "optim",
    "decision_regions_figure": "training", "loss_figure": "training", "training_curves_figure": "training",
    "pieces_explorer": "pieces", "pieces_figure": "pieces",
    "train_xor": "xor",
    "draw_graph": "graph", "draw_hand_graph": "graph", "plain_node": "graph",
    "use_book_renderer": "plotly_offline", "figure_html": "plotly_offline",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'course_lib.figures' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
