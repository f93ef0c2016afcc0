"""Plotly figures for the notebooks. Each builds a figure that stays
interactive in a static page (buttons and sliders switch precomputed traces,
no kernel needed)."""
from .activations import ACTIVATIONS, activation_figure
from .gpu import block_tiling_figure, matmul_benchmark_figure
from .images import predictions_figure
from .optim import adam_first_steps_figure
from .training import decision_regions_figure, loss_figure, training_curves_figure

__all__ = [
    "ACTIVATIONS", "activation_figure", "adam_first_steps_figure", "block_tiling_figure", "decision_regions_figure",
    "loss_figure", "matmul_benchmark_figure", "predictions_figure", "training_curves_figure",
]
