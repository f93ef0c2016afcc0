"""Figures and drawing helpers used by notebook 04."""
from __future__ import annotations

import json

import numpy as np
import pytest

from course_lib.figures import activation_figure, adam_first_steps_figure
from course_lib.figures.activations import ACTIVATIONS, curves
from course_lib.figures.graph import draw_graph, plain_node
from course_lib.figures.plotly_offline import figure_html

from nb04_refs import reference


def test_activation_curves_match_closed_forms():
    x = np.array([-3.0, -0.5, 0.7, 2.5])
    c = curves(x)
    s = 1 / (1 + np.exp(-x))
    assert np.allclose(c["ReLU"][1], (x > 0).astype(float))
    assert np.allclose(c["LeakyReLU(0.01)"][1], np.where(x > 0, 1.0, 0.01))
    assert np.allclose(c["Softplus(beta=1)"][0], np.log1p(np.exp(x)))
    assert np.allclose(c["Softplus(beta=1)"][1], s)
    assert np.allclose(c["sigmoid"][1], s * (1 - s))
    assert np.allclose(c["tanh"][1], 1 - np.tanh(x) ** 2)
    h = 1e-6
    gelu = ACTIVATIONS["GELU"]
    import torch
    fd = (gelu(torch.tensor(x + h)) - gelu(torch.tensor(x - h))).numpy() / (2 * h)
    assert np.allclose(c["GELU"][1], fd, atol=1e-6)


def test_activation_figure_switches_traces_without_a_kernel():
    fig = activation_figure()
    n = len(ACTIVATIONS)
    assert len(fig.data) == 2 * n
    (menu,) = fig.layout.updatemenus
    assert len(menu.buttons) == n + 1
    for i, button in enumerate(menu.buttons[1:]):
        assert button.method == "restyle"  # pure plotly.js: works in a static page
        visible = button.args[0]["visible"]
        assert [j for j, v in enumerate(visible) if v] == [2 * i, 2 * i + 1]
    assert all(menu.buttons[0].args[0]["visible"])
    html = figure_html(fig)
    assert "updatemenus" in html and "<script src" not in html
    # the menu, once: the book's <select>; plotly's own stays in the layout, not drawn
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(html, html.index("[", html.index("Plotly.newPlot(")))
    layout, _ = decoder.raw_decode(html, html.index("{", end))
    assert html.count("<select") == 1 and [m["visible"] for m in layout["updatemenus"]] == [False]


def test_adam_figure_shows_the_large_first_step_without_correction():
    Adam = reference()["Adam"]
    fig = adam_first_steps_figure(Adam, steps=10, lr=0.1)
    assert len(fig.data) == 4
    with_c, without = fig.data[0].y, fig.data[2].y
    assert with_c[0] == pytest.approx(0.1, rel=1e-6)
    assert without[0] == pytest.approx(0.1 * 0.1 / np.sqrt(0.001), rel=1e-6)


def test_plain_node_graph_draws_a_node_used_twice_once():
    x, y, z, o = (plain_node(v, label=k) for k, v in zip("xyzo", (1.0, 2.0, -1.0, 3.0)))
    a = plain_node(3.0, x, y, op="+", label="a")
    b = plain_node(-3.0, z, o, op="*", label="b")
    c = plain_node(-9.0, a, b, op="*", label="c")
    w = plain_node(-10.0, c, z, op="+", label="w")
    dot = draw_graph(w, show_grad=False)
    src = dot.source
    assert src.count(f"{id(z)} ->") == 2  # z feeds b and w
    assert "grad" not in src
    assert "Computation graph with 8 values" in dot.alt_text
