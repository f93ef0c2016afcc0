"""The figure of the book's GPU page."""
from __future__ import annotations

import numpy as np

from course_lib.book.gpu import INTENSITY_M, intensity_figure, loads_per_output
from course_lib.figures.plotly_offline import figure_html


def test_loads_per_output_counts_tiles():
    # Naive: a row of A and a column of B.
    assert loads_per_output(100, 1) == 200
    # A 16x16 block over m = 64 walks 4 tile pairs of 2 * 256 numbers for 256 outputs.
    assert loads_per_output(64, 16) == 4 * 2 * 256 / 256


def test_intensity_figure_halves_loads_per_doubling_of_the_tile():
    fig = intensity_figure()
    loads = fig.data[0]
    tiles = np.array(loads.x, dtype=float)
    y = np.array(loads.y, dtype=float)
    assert tiles[0] == 1 and tiles[-1] == 32
    assert np.allclose(y, 2 * INTENSITY_M / tiles)
    assert "2048 loads" in loads.text[0] and "16 flops per loaded number" in loads.text[4]
    # Annotations sit on the curve (plotly places them in log10 units on log axes).
    for note in fig.layout.annotations:
        tile = 10 ** note.x
        assert np.isclose(10 ** note.y, 2 * INTENSITY_M / tile)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_intensity_figure_embeds_without_a_kernel():
    html = figure_html(intensity_figure(), div_id="fig-intensity-figure")
    assert "plotly-graph-div" in html and "https://" not in html

