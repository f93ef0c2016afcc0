"""course_lib.book.layers: the softmax-temperature figure of the page on layers
and losses. Its slider must switch between precomputed bar charts (one visible at a
time), each a probability vector equal to softmax(z / T); each view's state (the
title's subtitle, or in the book the line under the slider) gives T and the entropy."""
from __future__ import annotations

import math
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from course_lib.book.layers import LOGITS, TEMPERATURES, softmax_temperature_figure
from course_lib.figures.views import view_state


def reference_softmax(z: np.ndarray) -> np.ndarray:
    """An independent softmax through log-sum-exp."""
    m = z.max()
    log_p = z - (m + math.log(np.exp(z - m).sum()))
    return np.exp(log_p)


@pytest.fixture(scope="module")
def fig() -> go.Figure:
    return softmax_temperature_figure()


@pytest.fixture(scope="module")
def steps(fig):
    assert len(fig.layout.sliders) == 1, "the figure should have exactly one slider"
    return fig.layout.sliders[0].steps


def step_temperature(step) -> float:
    return float(step.label)


def test_one_bar_trace_per_temperature(fig, steps):
    assert len(fig.data) == len(TEMPERATURES) == len(steps)
    assert all(isinstance(trace, go.Bar) for trace in fig.data)
    temps = [step_temperature(s) for s in steps]
    assert temps == sorted(temps), "slider steps should go from low to high temperature"
    assert temps[0] == pytest.approx(0.1) and temps[-1] == pytest.approx(5.0)


def test_each_step_shows_exactly_one_bar_trace(fig, steps):
    shown = []
    for step in steps:
        assert step.method == "update"
        visible = list(step.args[0]["visible"])
        assert len(visible) == len(fig.data)
        assert sum(bool(v) for v in visible) == 1, f"step {step.label}: {visible}"
        shown.append(visible.index(True))
    assert shown == list(range(len(fig.data))), "step k should show trace k, each trace once"


def test_initial_state_matches_active_step(fig, steps):
    active = fig.layout.sliders[0].active
    visible = [trace.visible is not False for trace in fig.data]
    assert sum(visible) == 1, "exactly one bar trace should be visible before the slider moves"
    assert visible.index(True) == active
    assert fig.layout.title.subtitle.text == view_state(steps[active])
    assert "entropy" not in fig.layout.title.text, "the title names the figure, the subtitle says the state"


def test_probabilities_sum_to_one_and_match_softmax(fig, steps):
    for step, trace in zip(steps, fig.data):
        p = np.asarray(trace.y, dtype=float)
        assert len(p) == len(LOGITS)
        assert (p >= 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-12), f"T = {step.label}: sum {p.sum()}"
        expected = reference_softmax(np.asarray(LOGITS, dtype=float) / step_temperature(step))
        np.testing.assert_allclose(p, expected, rtol=1e-10, atol=1e-15)


def test_low_temperature_concentrates_on_argmax(fig, steps):
    k = int(np.argmax(LOGITS))
    cold = np.asarray(fig.data[0].y, dtype=float)
    hot = np.asarray(fig.data[-1].y, dtype=float)
    assert step_temperature(steps[0]) <= 0.1 + 1e-12
    assert int(np.argmax(cold)) == k
    assert cold[k] > 0.95, f"at T = {steps[0].label} the argmax holds only {cold[k]:.3f}"
    assert hot.max() < 0.3, "at T = 5 the probabilities should be close to uniform"
    peaks = [float(np.max(trace.y)) for trace in fig.data]
    assert all(a >= b - 1e-12 for a, b in zip(peaks, peaks[1:])), \
        "the largest probability should shrink as the temperature grows"


def test_states_mention_temperature_and_entropy(fig, steps):
    for step, trace in zip(steps, fig.data):
        text = view_state(step)
        assert f"T = {step.label}" in text, text
        p = np.asarray(trace.y, dtype=float)
        h = -float((p[p > 0] * np.log(p[p > 0])).sum())
        match = re.search(r"entropy (\d+\.\d+)", text)
        assert match, f"no entropy in {text!r}"
        assert float(match.group(1)) == pytest.approx(h, abs=0.006)


def test_embeds_as_static_html(fig):
    from course_lib.figures.plotly_offline import figure_html

    html = figure_html(fig, div_id="fig-softmax-temperature-figure")
    assert "fig-softmax-temperature-figure" in html
    assert "sliders" in html and 'type="range"' in html     # plotly's slider (not drawn) and the keyboard one
