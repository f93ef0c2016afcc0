"""Property tests on generated inputs (shared strategies in tests/strategies.py).

- The exact piece counter (``course_lib.pieces.count_pieces``) against dense sampling of the
  network: its knots interpolate f everywhere, and its breakpoints are real kinks.
- Notebook 04's reference losses against torch, forward and backward.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings

import strategies as S
from course_lib.pieces import count_pieces, to_sequential
from nb04_refs import reference

REF = reference()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(S.relu_nets())
def test_the_exact_pieces_reproduce_the_network_and_every_breakpoint_is_a_kink(net):
    pieces = count_pieces(net, (-1.0, 1.0))
    x = np.linspace(-1.0, 1.0, 4001)
    with torch.no_grad():
        f = to_sequential(net)(torch.from_numpy(x[:, None])).numpy()[:, 0]
    scale = 1.0 + np.abs(f).max()
    assert np.abs(np.interp(x, pieces.knots_x, pieces.knots_y) - f).max() <= 1e-9 * scale, \
        "a breakpoint is missing: the pieces do not reproduce f"
    assert pieces.count == len(pieces.slopes) == len(pieces.breakpoints) + 1
    steps = np.abs(np.diff(pieces.slopes))
    assert (steps > 1e-12 * (1.0 + np.abs(pieces.slopes[:-1]))).all(), "a breakpoint where the slope does not change"


def _torch_loss(fn, A, Y):
    a = torch.tensor(A, dtype=torch.float64, requires_grad=True)
    loss = fn(a, torch.tensor(Y, dtype=torch.float64))
    loss.backward()
    return loss.item(), a.grad.numpy()


def _ours(cls, A, Y):
    loss = cls()
    return float(loss.forward(A.copy(), Y.copy())), np.asarray(loss.backward(), dtype=np.float64)


@SETTINGS
@given(S.batches().flatmap(lambda nc: S.arrays(*nc).flatmap(lambda A: S.arrays(*nc).map(lambda Y: (A, Y)))))
def test_mse_matches_torch(data):
    A, Y = data
    want, want_grad = _torch_loss(F.mse_loss, A, Y)
    got, grad = _ours(REF["MSELoss"], A, Y)
    assert np.isclose(got, want, rtol=1e-9, atol=1e-12) and np.allclose(grad, want_grad, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(S.logits_and_targets())
def test_cross_entropy_matches_torch_for_logits_up_to_1000(data):
    A, Y = data
    want, want_grad = _torch_loss(F.cross_entropy, A, Y)
    got, grad = _ours(REF["CrossEntropyLoss"], A, Y)
    assert np.isfinite(got) and np.isclose(got, want, rtol=1e-9, atol=1e-9)
    assert np.allclose(grad, want_grad, rtol=1e-7, atol=1e-12)


@SETTINGS
@given(S.probabilities_and_labels())
def test_bce_matches_torch(data):
    A, Y = data
    want, want_grad = _torch_loss(F.binary_cross_entropy, A, Y)
    got, grad = _ours(REF["BCELoss"], A, Y)
    assert np.isclose(got, want, rtol=1e-7, atol=1e-9) and np.allclose(grad, want_grad, rtol=1e-6, atol=1e-9)
