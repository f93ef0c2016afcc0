"""Figures of the book's optimisers page (course_lib.book.optim)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from course_lib.book.optim import (
    BETA1,
    BETA2,
    DESCENT_ETA,
    DESCENT_STEPS,
    TRACES_PER_STEP,
    bias_correction_figure,
    gradient_descent_steps_figure,
)
from course_lib.figures.plotly_offline import figure_html
from course_lib.figures.views import view_state

# Notebook 01's start values, written out here rather than imported.
START = (1.0, 0.5, 3.0)


def one_step(w1: float, w2: float, w3: float, eta: float) -> tuple[float, float, float]:
    """A gradient-descent step on L = (w1 + w2) * w3, with all gradients taken first."""
    return w1 - eta * w3, w2 - eta * w3, w3 - eta * (w1 + w2)


@pytest.fixture(scope="module")
def descent():
    return gradient_descent_steps_figure()


def iteration_traces(fig, t):
    return fig.data[TRACES_PER_STEP * t: TRACES_PER_STEP * (t + 1)]


def test_slider_has_one_step_per_iteration_showing_exactly_its_traces(descent):
    (slider,) = descent.layout.sliders
    n = DESCENT_STEPS + 1
    assert len(slider.steps) == n
    assert len(descent.data) == TRACES_PER_STEP * n
    for t, step in enumerate(slider.steps):
        assert step.method == "update"  # plotly.js only: works on a static page
        visible = step.args[0]["visible"]
        assert len(visible) == len(descent.data)
        shown = [i for i, v in enumerate(visible) if v]
        assert shown == list(range(TRACES_PER_STEP * t, TRACES_PER_STEP * (t + 1)))
        # each trace of iteration t holds the history up to step t
        for trace in iteration_traces(descent, t):
            assert list(trace.x) == list(range(t + 1))
    # before any slider move, the start (iteration 0) is what is shown
    assert [i for i, tr in enumerate(descent.data) if tr.visible] == list(range(TRACES_PER_STEP))
    assert slider.active == 0


def test_values_follow_the_gradient_descent_update(descent):
    w = START
    for t in range(DESCENT_STEPS + 1):
        traces = iteration_traces(descent, t)
        assert [tr.name for tr in traces] == ["w₁", "w₂", "w₃", "L"]
        current = [float(tr.y[-1]) for tr in traces]
        assert current == pytest.approx([*w, (w[0] + w[1]) * w[2]], rel=1e-12, abs=1e-12)
        w = one_step(*w, DESCENT_ETA)


def test_first_step_by_hand_and_the_state_reports_it(descent):
    traces = iteration_traces(descent, 1)
    # gradient at the start: (w3, w3, w1 + w2) = (4, 4, 1.5)
    expected = (1.0 - DESCENT_ETA * 3, 0.5 - DESCENT_ETA * 3, 3.0 - DESCENT_ETA * 1.5)
    assert [float(tr.y[1]) for tr in traces[:3]] == pytest.approx(expected)
    state = view_state(descent.layout.sliders[0].steps[1])
    assert state.startswith("step 1 of 20:")
    numbers = [float(x) for x in re.findall(r"(?:w[₁₂₃]|L) = (-?\d+\.\d+)", state)]
    assert numbers == pytest.approx([*expected, (expected[0] + expected[1]) * expected[2]], abs=1e-3)


def test_descent_runs_off_since_the_loss_has_no_minimum(descent):
    loss = np.array(iteration_traces(descent, DESCENT_STEPS)[3].y)
    assert loss[0] == pytest.approx(4.5)
    assert np.all(np.diff(loss) < 0)
    # late on, s = w1 + w2 and w3 grow by the eigenvalue 1 + sqrt(2) * eta per step
    w1, w2, w3 = (np.array(tr.y) for tr in iteration_traces(descent, DESCENT_STEPS)[:3])
    assert (w3[-1] / w3[-2]) == pytest.approx(1 + np.sqrt(2) * DESCENT_ETA, rel=5e-3)
    assert np.allclose(w1 - w2, 0.5)


def test_bias_correction_values_match_the_closed_form():
    fig = bias_correction_figure()
    m_raw, v_raw, corrected, step_raw, step_corrected = fig.data
    t = np.asarray(m_raw.x, dtype=float)
    assert t[0] == 1 and np.all(np.diff(t) > 0) and t[-1] >= 1000
    assert np.allclose(m_raw.y, 1 - 0.9 ** t, rtol=1e-12)
    assert np.allclose(v_raw.y, 1 - 0.999 ** t, rtol=1e-12)
    assert (BETA1, BETA2) == (0.9, 0.999)
    assert np.allclose(corrected.y, 1.0)
    assert np.allclose(step_corrected.y, 1.0)
    assert np.allclose(step_raw.y, (1 - 0.9 ** t) / np.sqrt(1 - 0.999 ** t), rtol=1e-12)
    # the first uncorrected step: 0.1 / sqrt(0.001), about 3.16 times the learning rate
    assert step_raw.y[0] == pytest.approx(0.1 / np.sqrt(0.001))


def test_a_constant_gradient_unrolled_gives_one_minus_beta_power():
    """The figure's formula is what the moment recursion gives for a constant gradient."""
    fig = bias_correction_figure()
    t = np.asarray(fig.data[0].x, dtype=int)
    m, v, g = 0.0, 0.0, 0.7
    raw_m, raw_v = {}, {}
    for step in range(1, 201):
        m = BETA1 * m + (1 - BETA1) * g
        v = BETA2 * v + (1 - BETA2) * g * g
        raw_m[step], raw_v[step] = m / g, v / g**2
    for i, step in enumerate(t[t <= 200]):
        assert fig.data[0].y[i] == pytest.approx(raw_m[step], rel=1e-10)
        assert fig.data[1].y[i] == pytest.approx(raw_v[step], rel=1e-10)


@pytest.mark.parametrize("make", [gradient_descent_steps_figure, bias_correction_figure])
def test_figures_render_without_fetching_anything(make):
    html = figure_html(make())
    assert "plotly-graph-div" in html
    assert "<script src" not in html
