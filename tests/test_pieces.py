"""course_lib.pieces: exact piece counts against a brute-force counter on a fine grid,
the sawtooth construction, degenerate networks, and the checks of the inputs."""
from __future__ import annotations

import dataclasses
from math import prod

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.pieces import bound, count_pieces, random_net, sawtooth, to_sequential

GRID = 200_001  # points of the brute-force grid
N_NETS = 150  # random networks per family


# --------------------------------------------------------------------------
# An independent brute-force counter
# --------------------------------------------------------------------------
def forward(layers, x: np.ndarray) -> np.ndarray:
    """f(x) of a list of (W, b) pairs: Linear, ReLU, ..., ReLU, Linear (numpy, float64)."""
    h = np.asarray(x, dtype=np.float64)[None, :]  # one row per unit
    for i, (W, b) in enumerate(layers):
        h = np.asarray(W, dtype=np.float64) @ h + np.asarray(b, dtype=np.float64)[:, None]
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h[0]


def grid_kinks(layers, interval, n: int = GRID):
    """Kinks seen on a grid of n points: the x of each cluster of discrete-slope changes.

    A kink inside the cell (x_j, x_{j+1}) changes the discrete slope at x_j and at
    x_{j+1}; neighbouring detections are one kink. Returns (kinks, cell slopes, x, tol).
    """
    x = np.linspace(*interval, n)
    y = forward(layers, x)
    d = np.diff(y) / (x[1] - x[0])
    tol = 1e-6 * max(np.abs(d).max(), np.abs(y).max(), 1e-300)
    changed = np.flatnonzero(np.abs(np.diff(d)) > tol) + 1  # grid points where the slope changes
    clusters = np.split(changed, np.flatnonzero(np.diff(changed) > 1) + 1) if len(changed) else []
    return np.array([x[c].mean() for c in clusters]), d, x, tol


def resolvable(p, h: float, tol: float) -> bool:
    """Whether the grid can see every kink: kinks and ends 4 cells apart, slope changes > 10 tol."""
    gaps = np.diff(p.knots_x)
    return bool(gaps.min() > 4 * h and (np.abs(np.diff(p.slopes)) > 10 * tol).all())


def gaussian_net(depth: int, widths: list[int], rng: np.random.Generator):
    """Plain N(0, 1) weights and biases: breakpoints anywhere, many dead units."""
    sizes = [1, *widths, 1]
    return [(rng.normal(size=(o, i)), rng.normal(size=o)) for i, o in zip(sizes[:-1], sizes[1:])]


def nets(family: str):
    rng = np.random.default_rng({"he": 1, "gaussian": 2}[family])
    for k in range(N_NETS):
        depth = int(rng.integers(1, 7))
        widths = [int(w) for w in rng.integers(1, 9, size=depth)]
        if family == "he":
            yield k, widths, random_net(depth, widths, seed=k)
        else:
            yield k, widths, gaussian_net(depth, widths, rng)


@pytest.mark.parametrize("family, interval", [("he", (-1.0, 1.0)), ("gaussian", (-3.0, 2.0))])
def test_count_matches_brute_force(family: str, interval: tuple[float, float]) -> None:
    h = (interval[1] - interval[0]) / (GRID - 1)
    checked, skipped, failures = 0, [], []
    for k, widths, layers in nets(family):
        p = count_pieces(layers, interval)
        kinks, d, x, tol = grid_kinks(layers, interval)
        assert p.count <= p.bound == bound(widths)
        assert p.layer_counts[-1] <= prod(w + 1 for w in widths)  # the sharper bound
        assert p.count <= p.layer_counts[-1]
        if not resolvable(p, h, tol):
            skipped.append(k)
            continue
        checked += 1
        piece = np.searchsorted(p.breakpoints, (x[:-1] + x[1:]) / 2)  # of each grid cell
        plain = np.ones(len(d), dtype=bool)
        plain[np.searchsorted(x, p.breakpoints) - 1] = False  # cells holding a breakpoint
        ok = (p.count == len(kinks) + 1
              and np.allclose(p.breakpoints, kinks, rtol=0, atol=2 * h)
              and np.allclose(p.slopes[piece[plain]], d[plain], rtol=1e-6, atol=tol))
        if not ok:
            failures.append(f"net {k} widths {widths}: count {p.count}, grid {len(kinks) + 1}")
    assert not failures, "\n".join(failures)
    # the skips are explicit, and rare: most networks are compared
    assert checked >= 0.8 * N_NETS, f"only {checked} compared; skipped {skipped}"


# --------------------------------------------------------------------------
# Constructions and bounds
# --------------------------------------------------------------------------
@pytest.mark.parametrize("depth", range(1, 13))
def test_sawtooth_has_two_to_the_depth_pieces(depth: int) -> None:
    p = count_pieces(sawtooth(depth), (0.0, 1.0))
    assert p.count == 2**depth
    np.testing.assert_array_equal(p.breakpoints, np.arange(1, 2**depth) / 2**depth)
    np.testing.assert_array_equal(p.slopes, 2.0**depth * (-1.0) ** np.arange(2**depth))
    assert p.layer_counts == [2**d for d in range(1, depth + 1)]
    assert p.bound == 2**depth * 2**depth
    assert count_pieces(sawtooth(depth)).count == 2**depth + 1  # (-1, 1): constant 0 left of 0


def test_sawtooth_deep() -> None:
    assert count_pieces(sawtooth(16), (0.0, 1.0)).count == 2**16


def test_bound() -> None:
    assert bound([]) == 1
    assert bound([3]) == 6
    assert bound([2, 5, 1]) == 2**3 * 10
    with pytest.raises(ValueError, match="positive"):
        bound([2, 0])


def test_random_net_widths_and_breakpoints_inside() -> None:
    layers = random_net(3, [2, 5, 4], seed=3)
    assert [W.shape for W, _ in layers] == [(2, 1), (5, 2), (4, 5), (1, 4)]
    assert count_pieces(layers).layer_counts[0] == 3  # both first-layer units cross inside
    with pytest.raises(ValueError, match="widths"):
        random_net(2, [3])


# --------------------------------------------------------------------------
# Degenerate networks: the count is the smallest one
# --------------------------------------------------------------------------
def identity_net(depth: int, scales, shifts):
    """Each layer carries z as (relu(s z + t), relu(−s z − t)); their difference is s z + t."""
    layers = [(np.array([[1.0], [-1.0]]), np.zeros(2))]
    for s, t in zip(scales, shifts):
        layers.append((np.array([[s, -s], [-s, s]]), np.array([t, -t])))
    return layers + [(np.array([[1.0, -1.0]]), np.zeros(1))]


def test_straight_line_through_many_layers() -> None:
    rng = np.random.default_rng(0)
    for depth in (1, 5, 20):
        scales, shifts = rng.uniform(0.5, 2.0, depth - 1), rng.uniform(-0.3, 0.3, depth - 1)
        p = count_pieces(identity_net(depth, scales, shifts))
        assert p.count == 1 and len(p.breakpoints) == 0
        assert p.slopes[0] == pytest.approx(prod(scales))
        assert all(c >= 2 for c in p.layer_counts)  # every hidden layer has a kink


def test_collinear_pieces_merge() -> None:
    relu_minus_relu = [([[1.0], [-1.0]], [0.0, 0.0]), ([[1.0, -1.0]], [0.0])]  # relu(x) − relu(−x) = x
    assert count_pieces(relu_minus_relu).count == 1
    # 0.1 relu(x) + 0.2 relu(x) − 0.3 relu(x) is 5.6e-17 relu(x) in floating point: no kink
    cancel = [([[1.0], [1.0], [1.0]], [0.0, 0.0, 0.0]), ([[0.1, 0.2, -0.3]], [0.0])]
    assert count_pieces(cancel).count == 1
    # relu(x) + relu(x − 1/2) − relu(x − 1/2): one kink, at 0
    p = count_pieces([([[1.0], [1.0], [1.0]], [0.0, -0.5, -0.5]), ([[1.0, 1.0, -1.0]], [0.0])])
    assert p.count == 2 and p.breakpoints.tolist() == [0.0]


def test_small_kink_beside_a_steep_unit() -> None:
    # 1e-7 relu(x) + relu(1e6 (x − 1/2)): the steep unit is off where the small kink is,
    # so the tolerance there is that of the small terms and the kink at 0 counts
    p = count_pieces([([[1.0], [1e6]], [0.0, -0.5e6]), ([[1e-7, 1.0]], [0.0])])
    assert p.count == 3 and p.breakpoints.tolist() == [0.0, 0.5]


def test_dead_units_and_zero_weights() -> None:
    # relu(x − 2) and relu(−x − 3) are 0 on [−1, 1]; relu(x + 0.25) is not
    p = count_pieces([([[1.0], [-1.0], [1.0]], [-2.0, -3.0, 0.25]), ([[5.0, 7.0, 1.0]], [0.0])])
    assert p.count == 2 and p.breakpoints.tolist() == [-0.25]
    assert p.layer_counts == [2]
    dead_layer = [([[1.0], [2.0]], [-5.0, -5.0]), ([[1.0, 1.0]], [0.0]), ([[3.0]], [1.5])]
    p = count_pieces(dead_layer)
    assert p.count == 1 and p.slopes.tolist() == [0.0] and p.knots_y.tolist() == [1.5, 1.5]
    zeros = [(np.zeros((4, 1)), np.zeros(4)), (np.zeros((4, 4)), np.zeros(4)), (np.zeros((1, 4)), [2.0])]
    p = count_pieces(zeros)
    assert p.count == 1 and p.layer_counts == [1, 1] and p.knots_y.tolist() == [2.0, 2.0]


def test_breakpoints_at_the_interval_ends() -> None:
    # kinks at exactly −1 and 1 (and outside) are not pieces of f on [−1, 1]; the one at 0.5 is
    layers = [([[1.0], [-1.0], [1.0], [1.0]], [-1.0, -1.0, -0.5, 3.0]), ([[1.0, 1.0, 1.0, 1.0]], [0.0])]
    p = count_pieces(layers)
    assert p.count == 2 and p.breakpoints.tolist() == [0.5]
    assert count_pieces(sawtooth(3), (0.0, 0.5)).count == 4
    assert count_pieces(layers, (0.5, 1.0)).count == 1


def test_no_hidden_layer() -> None:
    p = count_pieces([([[2.0]], [1.0])], (0.0, 3.0))
    assert (p.count, p.bound, p.layer_counts) == (1, 1, [])
    assert p.knots_y.tolist() == [1.0, 7.0]


# --------------------------------------------------------------------------
# torch and list inputs; evaluation
# --------------------------------------------------------------------------
def test_sequential_and_pairs_agree() -> None:
    for seed in range(20):
        layers = random_net(1 + seed % 5, 1 + seed % 7, seed=seed)
        p, q = count_pieces(layers), count_pieces(to_sequential(layers))
        assert p.count == q.count
        np.testing.assert_array_equal(p.breakpoints, q.breakpoints)
        np.testing.assert_array_equal(p.slopes, q.slopes)
        listed = [(W.tolist(), b.tolist()) for W, b in layers]  # nested lists
        assert count_pieces(listed).count == p.count


def test_float32_sequential_and_trailing_relu() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 1, bias=False))
    pairs = [(m.weight.detach().double().numpy(),
              np.zeros(m.out_features) if m.bias is None else m.bias.detach().double().numpy())
             for m in net if isinstance(m, nn.Linear)]
    p = count_pieces(net)
    np.testing.assert_array_equal(p.breakpoints, count_pieces(pairs).breakpoints)
    # relu(relu(x) − 1/2): 0 up to 1/2, then x − 1/2
    net = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1), nn.ReLU())
    with torch.no_grad():
        for linear, bias in ((net[0], 0.0), (net[2], -0.5)):
            linear.weight.fill_(1.0)
            linear.bias.fill_(bias)
    p = count_pieces(net)
    assert (p.count, p.breakpoints.tolist(), p.layer_counts, p.bound) == (2, [0.5], [2, 2], 4)


def test_call_matches_forward() -> None:
    rng = np.random.default_rng(5)
    for seed in range(20):
        layers = random_net(1 + seed % 6, 1 + seed % 8, seed=seed)
        p = count_pieces(layers, (-2.0, 1.5))
        x = np.concatenate([rng.uniform(-2.0, 1.5, 1000), p.knots_x])
        with torch.no_grad():
            y = to_sequential(layers)(torch.from_numpy(x)[:, None])[:, 0].numpy()
        np.testing.assert_allclose(p(x), y, rtol=1e-9, atol=1e-9 * np.abs(y).max())
    assert isinstance(p(0.0), float)
    with pytest.raises(ValueError, match="interval"):
        p(1.6)


def test_pieces_is_frozen() -> None:
    p = count_pieces(sawtooth(2), (0.0, 1.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.count = 3
    with pytest.raises(ValueError):
        p.breakpoints[0] = 0.3
    assert len(p.slopes) == p.count == len(p.breakpoints) + 1 == len(p.knots_x) - 1


@pytest.mark.parametrize("net, message", [
    (nn.Sequential(nn.Conv1d(1, 1, 3), nn.ReLU(), nn.Linear(1, 1)), "Conv1d is not allowed"),
    (nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1)), "Tanh is not allowed"),
    (nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)), "first layer must take 1 input"),
    (nn.Sequential(nn.Linear(1, 4), nn.ReLU(), nn.Linear(4, 3)), "last layer must give 1 output"),
    (nn.Sequential(nn.Linear(1, 4), nn.ReLU(), nn.Linear(5, 1)), "shapes do not chain"),
    (nn.Sequential(nn.Linear(1, 4), nn.Linear(4, 1)), "two nn.Linear in a row"),
    (nn.Sequential(nn.ReLU(), nn.Linear(1, 1)), "must follow an nn.Linear"),
    (nn.Sequential(), "no layers"),
    (nn.Linear(1, 1), "expected an nn.Sequential"),
    ("net", "expected an nn.Sequential"),
    ([(np.ones((1, 1)), np.zeros(1), 0)], "expected a \\(W, b\\) pair"),
    ([(np.ones(3), np.zeros(3))], "W must have shape"),
    ([(np.ones((2, 1)), np.zeros(2)), (np.ones((1, 2)), np.zeros(3))], "b must have shape"),
    ([(np.ones((2, 1)), np.zeros(2)), (np.ones((1, 3)), np.zeros(1))], "shapes do not chain"),
    ([([[np.nan]], [0.0])], "finite"),
    ([([[1.0]], None)], "layer 0 b is missing"),
    ([([[1.0], [2.0, 3.0]], [0.0, 0.0])], "not an array of numbers"),
])
def test_bad_inputs(net, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        count_pieces(net)


@pytest.mark.parametrize("interval", [(1.0, -1.0), (0.0, 0.0), (0.0, np.inf)])
def test_bad_interval(interval) -> None:
    with pytest.raises(ValueError, match="interval"):
        count_pieces(sawtooth(1), interval)
