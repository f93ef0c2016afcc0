"""Notebook 06's checks (linear collapse, bottleneck, logic gates, piece
targets) with right and wrong answers, and the pieces explorer."""
from __future__ import annotations

import numpy as np
import pytest

from course_lib.checks import CheckFailure
from course_lib.checks import representation as R
from course_lib.pieces import sawtooth
from course_lib.figures.pieces import PIECES_TITLE, pieces_explorer, pieces_figure, view
from course_lib.figures.views import view_state


# ---------------------------------------------------------------- collapse
def collapse_loop(Ws, bs):
    W, b = np.eye(Ws[0].shape[1]), np.zeros(Ws[0].shape[1])
    for Wi, bi in zip(Ws, bs):
        W, b = Wi @ W, Wi @ b + bi
    return W, b


def collapse_probe(Ws, bs):
    """Another correct way: read the affine map off f(0) and f(e_j)."""
    f = lambda x: __import__("functools").reduce(lambda h, Wb: Wb[0] @ h + Wb[1], zip(Ws, bs), x)  # noqa: E731
    n = Ws[0].shape[1]
    b = f(np.zeros(n))
    return np.stack([f(e) - b for e in np.eye(n)], axis=1), b.reshape(-1, 1)


def collapse_reversed(Ws, bs):
    W, b = collapse_loop(Ws, bs)
    M = np.eye(Ws[-1].shape[0]) if Ws[-1].shape[0] == Ws[0].shape[1] else None
    for Wi in Ws:
        M = M @ Wi if M is not None and M.shape[1] == Wi.shape[0] else None
    return (M if M is not None else W.T), b


def collapse_last_bias(Ws, bs):
    return collapse_loop(Ws, bs)[0], bs[-1]


def collapse_bias_sum(Ws, bs):
    W, _ = collapse_loop(Ws, bs)
    return W, sum(bs[i] if bs[i].shape == bs[-1].shape else 0 for i in range(len(bs)))


def collapse_one_thing(Ws, bs):
    return collapse_loop(Ws, bs)[0]


@pytest.mark.parametrize("fn", [collapse_loop, collapse_probe])
def test_collapse_right(fn, capsys):
    R.check_collapse(fn)
    R.check_collapse(fn, seed=2026, hard=True)
    assert capsys.readouterr().out.count("PASSED: collapse") == 2


@pytest.mark.parametrize("fn, phrase", [
    (collapse_reversed, r"W has shape .* The first layer acts first|first layer acts first, so it stands on the RIGHT"),
    (collapse_last_bias, "only the last bias"),
    (collapse_bias_sum, "Is each earlier bias multiplied by the weights of every later layer|only the last bias"),
    (collapse_one_thing, "return a pair"),
])
def test_collapse_wrong(fn, phrase):
    with pytest.raises(CheckFailure, match=phrase):
        R.check_collapse(fn, hard=True)


def test_collapse_square_stacks_name_the_reversed_product():
    def reversed_square(Ws, bs):
        W, b = collapse_loop(Ws, bs)
        if any(Wi.shape != Ws[0].shape or Wi.shape[0] != Wi.shape[1] for Wi in Ws):
            return W, b
        P = np.eye(Ws[0].shape[1])
        for Wi in Ws:
            P = P @ Wi                      # W_1 W_2 ... W_L: the wrong order
        return P, b

    with pytest.raises(CheckFailure, match="stands on the RIGHT"):
        R.check_collapse(reversed_square, hard=True)


# ---------------------------------------------------------------- bottleneck and gates
def test_bottleneck():
    R.check_bottleneck(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0], [0.0], [2.0]]))
    with pytest.raises(CheckFailure, match=r"W1 should be 1×3"):
        R.check_bottleneck(np.ones((3, 3)), np.ones((3, 3)))
    with pytest.raises(CheckFailure, match="zero map"):
        R.check_bottleneck(np.zeros((1, 3)), np.ones((3, 1)))


@pytest.mark.parametrize("gate, w, b", [("AND", [1, 1], -1.5), ("AND", np.array([[2.0, 3.0]]), np.array([-4.0])),
                                        ("OR", [1, 1], -0.5), ("OR", (5.0, 5.0), -1)])
def test_gates_right(gate, w, b, capsys):
    R.check_gate(w, b, gate)
    assert f"computes the truth table of {gate}" in capsys.readouterr().out


@pytest.mark.parametrize("gate, w, b, phrase", [
    ("AND", [1, 1], -0.5, r"for x = \(0, 1\), w · x \+ b = 0.5, so the perceptron outputs 1, but 0 AND 1 is 0"),
    ("AND", [1, 1], -2.0, r"exactly 0"),
    ("OR", [1, 1], 0.5, r"for x = \(0, 0\).*outputs 1, but 0 OR 0 is 0"),
    ("OR", [1, 1, 1], -0.5, "2 weights"),
    ("OR", [1, 1], [0.1, 0.2], "one number"),
    ("OR", "ab", -0.5, "array of numbers"),
])
def test_gates_wrong(gate, w, b, phrase):
    with pytest.raises(CheckFailure, match=phrase):
        R.check_gate(w, b, gate)


# ---------------------------------------------------------------- piece targets
def test_pieces_target():
    R.check_pieces_target(sawtooth(3), 8, (0.0, 1.0), max_depth=3, max_width=2)
    with pytest.raises(CheckFailure, match=r"has 4 linear pieces .* not 8"):
        R.check_pieces_target(sawtooth(2), 8, (0.0, 1.0))
    with pytest.raises(CheckFailure, match=r"hidden widths \[2, 2, 2, 2\]; this task allows at most 3"):
        R.check_pieces_target(sawtooth(4), 16, (0.0, 1.0), max_depth=3, max_width=2)
    with pytest.raises(CheckFailure, match="cannot be read"):
        R.check_pieces_target([(np.ones((2, 3)), np.zeros(2))], 2)


# ---------------------------------------------------------------- explorer
def test_views_and_static_figure():
    result, text = view("sawtooth", 4, 2)
    assert result.count == 16 and "κ(f) = 16 pieces; bound 2^D·∏W_d = 256" in text
    fig = pieces_figure(depths=range(1, 4), widths=(2, 3))
    steps = fig.layout.sliders[0].steps
    assert len(steps) == 3 * 2 + 3 and len(fig.data) == 2 * len(steps)
    for k, step in enumerate(steps):
        visible = step.args[0]["visible"]
        assert [i for i, v in enumerate(visible) if v] == [2 * k, 2 * k + 1]
    assert steps[-1].label == "sawtooth D=3" and "κ(f) = 8 pieces" in view_state(steps[-1])
    assert [t.visible for t in fig.data[:4]] == [True, True, False, False]     # "random D=3 W=4" is not among them
    shown = pieces_figure(depths=range(1, 4), widths=(2, 4))
    assert shown.layout.sliders[0].active == 5 and [i for i, t in enumerate(shown.data) if t.visible] == [10, 11]
    assert shown.layout.title.text == PIECES_TITLE                     # names the figure in every view
    assert shown.layout.title.subtitle.text.startswith("random network (D = 3, widths 4)")


def test_live_explorer_redraws_on_every_control():
    panel = pieces_explorer(max_depth=5, max_width=4)
    construction, (depth, width, seed), info = panel.children[0], panel.children[1].children, panel.children[2]
    assert depth.max == 5 and width.max == 4 and "κ(f) = " in info.value
    seen = [info.value]
    depth.value = 5
    seen.append(info.value)
    construction.value = "sawtooth"
    seen.append(info.value)
    assert len(set(seen)) == 3
    assert "κ(f) = 32</b>" in seen[-1] and "1,024" in seen[-1]      # sawtooth, D = 5
    assert width.disabled and seed.disabled                        # the sawtooth has width 2 and no seed


def test_xor_needs_the_hidden_layer():
    from course_lib.figures.xor import train_xor

    line, bent = train_xor(hidden=None), train_xor(hidden=8)
    assert line.accuracy <= 0.75 < 0.95 <= bent.accuracy
    assert line.name == "one linear layer" and "8 units" in bent.name
    assert (bent.score(0.9, 1.1) > 0) == (bent.y[bent.X.index(min(bent.X, key=lambda p: (p[0] - 1) ** 2 + (p[1] - 1) ** 2))] > 0)


def test_xor_figure_switches_between_the_two_models():
    from course_lib.book.figures import xor_figure

    fig = xor_figure()
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["one linear layer", "Linear → ReLU (8 units) → Linear"]
    shown = [[i for i, v in enumerate(b.args[0]["visible"]) if v] for b in buttons]
    assert shown[0] and shown[1] and not set(shown[0]) & set(shown[1])
    assert set(shown[0]) | set(shown[1]) == set(range(len(fig.data)))
    assert "50%" in view_state(buttons[0]) and "100%" in view_state(buttons[1])
    assert "%" not in fig.layout.title.text and view_state(buttons[0]) == fig.layout.title.subtitle.text
