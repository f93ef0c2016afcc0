"""Catalogues for notebook 03's layer checks: wrong layers are caught with a
message that names the method and the fault; correct layers written
differently all pass. The reference layers are notebook 03's solution cells
(loaded by layer_refs); the wrong and right variants subclass them."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import scipy.stats  # noqa: F401  (imported up front: the GELU variant uses it inside backward)

from course_lib.checks import CheckFailure
from course_lib.checks import activations as ACT
from course_lib.checks import layers as L
from course_lib.checks import optim as OPT

import layer_refs as R

CHECKS = {
    "Linear": (L.check_linear, R.Linear),
    "Sigmoid": (L.check_sigmoid, R.Sigmoid),
    "Tanh": (L.check_tanh, R.Tanh),
    "ReLU": (L.check_relu, R.ReLU),
    "GELU": (L.check_gelu, R.GELU),
    "Swish": (L.check_swish, R.Swish),
    "Softmax": (L.check_softmax, R.Softmax),
    "SGD": (L.check_sgd, R.SGD),
    "BatchNorm1d": (L.check_batchnorm, R.BatchNorm1d),
}


def _sig(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------- wrong layers
class LinearBiasNotSummed(R.Linear):
    def backward(self, dLdZ):
        out = super().backward(dLdZ)
        self.dLdb = dLdZ
        return out


class LinearWTransposed(R.Linear):
    def backward(self, dLdZ):
        out = super().backward(dLdZ)
        self.dLdW = self.A.T @ dLdZ
        return out


class LinearBiasFlat(R.Linear):
    def backward(self, dLdZ):
        out = super().backward(dLdZ)
        self.dLdb = dLdZ.sum(axis=0)
        return out


class LinearAveraged(R.Linear):
    def backward(self, dLdZ):
        out = super().backward(dLdZ)
        self.dLdW = self.dLdW / self.N
        return out


class LinearNoBias(R.Linear):
    def forward(self, A):
        super().forward(A)
        return A @ self.W.T


class LinearFlatBiasInit(R.Linear):
    def __init__(self, in_features, out_features):
        super().__init__(in_features, out_features)
        self.b = np.zeros(out_features)


class LinearNotImplemented(R.Linear):
    def backward(self, dLdZ):
        raise NotImplementedError()


class SigmoidFromInput(R.Sigmoid):
    def forward(self, Z):
        self.Z = Z
        return super().forward(Z)

    def backward(self, dLdA):
        return dLdA * self.Z * (1 - self.Z)


class SigmoidWrongSign(R.Sigmoid):
    def forward(self, Z):
        self.A = 1 / (1 + np.exp(Z))
        return self.A


class TanhFromInput(R.Tanh):
    def forward(self, Z):
        self.Z = Z
        return super().forward(Z)

    def backward(self, dLdA):
        return dLdA * (1 - self.Z ** 2)


class TanhNumpy(R.Tanh):
    def forward(self, Z):
        self.A = np.tanh(Z)
        return self.A


class TanhNoSquare(R.Tanh):
    def backward(self, dLdA):
        return dLdA * (1 - self.A)


class ReLULeaky(R.ReLU):
    def backward(self, dLdA):
        return dLdA.copy()


class ReLUMin(R.ReLU):
    def forward(self, Z):
        self.A = np.minimum(0, Z)
        return self.A


class GELUTanhApprox(R.GELU):
    def forward(self, Z):
        self.Z = Z
        return 0.5 * Z * (1 + np.tanh(math.sqrt(2 / math.pi) * (Z + 0.044715 * Z ** 3)))


class GELUMissingTerm(R.GELU):
    def backward(self, dLdA):
        return dLdA * 0.5 * (1 + R._erf(self.Z / math.sqrt(2)))


class SwishNoBetaInGrad(R.Swish):
    def backward(self, dLdA):
        super().backward(dLdA)                 # keeps dLdbeta right; only dLdZ is wrong
        Z, S = self.Z, self.S
        return dLdA * (S + Z * S * (1 - S))


class SwishBetaGradNoZ(R.Swish):
    def backward(self, dLdA):
        out = super().backward(dLdA)
        Z, S = self.Z, self.S
        self.dLdbeta = np.sum(dLdA * Z * S * (1 - S))
        return out


class SwishBetaGradNotSummed(R.Swish):
    def backward(self, dLdA):
        out = super().backward(dLdA)
        Z, S = self.Z, self.S
        self.dLdbeta = dLdA * Z * Z * S * (1 - S)
        return out


class SwishBetaGradAveraged(R.Swish):
    def backward(self, dLdA):
        out = super().backward(dLdA)
        Z, S = self.Z, self.S
        self.dLdbeta = np.mean(dLdA * Z * Z * S * (1 - S))
        return out


class SwishIgnoresBeta(R.Swish):
    def forward(self, Z):
        self.Z = Z
        self.S = _sig(Z)
        return Z * self.S


class SwishNoDLdbeta(R.Swish):
    def backward(self, dLdA):
        S, Z, beta = self.S, self.Z, self.beta
        return dLdA * (S + beta * Z * S * (1 - S))


class SoftmaxNoShift(R.Softmax):
    def forward(self, Z):
        E = np.exp(Z)
        self.A = E / E.sum(axis=1, keepdims=True)
        return self.A


class SoftmaxGlobalShift(R.Softmax):
    def forward(self, Z):
        E = np.exp(Z - Z.max())
        self.A = E / E.sum(axis=1, keepdims=True)
        return self.A


class SoftmaxColumns(R.Softmax):
    def forward(self, Z):
        E = np.exp(Z - Z.max(axis=0, keepdims=True))
        self.A = E / E.sum(axis=0, keepdims=True)
        return self.A


class SoftmaxDiagonalOnly(R.Softmax):
    def backward(self, dLdA):
        return dLdA * self.A * (1 - self.A)


class SGDUphill(R.SGD):
    def step(self):
        for i in range(self.L):
            self.v_W[i] = self.mu * self.v_W[i] + self.l[i].dLdW
            self.v_b[i] = self.mu * self.v_b[i] + self.l[i].dLdb
            self.l[i].W = self.l[i].W + self.lr * self.v_W[i]
            self.l[i].b = self.l[i].b + self.lr * self.v_b[i]


class SGDVelocityNotKept(R.SGD):
    def step(self):
        for i in range(self.L):
            v_W = self.mu * np.zeros_like(self.l[i].W) + self.l[i].dLdW
            v_b = self.mu * np.zeros_like(self.l[i].b) + self.l[i].dLdb
            self.l[i].W = self.l[i].W - self.lr * v_W
            self.l[i].b = self.l[i].b - self.lr * v_b


class SGDMomentumSign(R.SGD):
    def step(self):
        for i in range(self.L):
            self.v_W[i] = -self.mu * self.v_W[i] + self.l[i].dLdW
            self.v_b[i] = -self.mu * self.v_b[i] + self.l[i].dLdb
            self.l[i].W = self.l[i].W - self.lr * self.v_W[i]
            self.l[i].b = self.l[i].b - self.lr * self.v_b[i]


class SGDBiasFrozen(R.SGD):
    def step(self):
        for i in range(self.L):
            self.v_W[i] = self.mu * self.v_W[i] + self.l[i].dLdW
            self.l[i].W = self.l[i].W - self.lr * self.v_W[i]


class SGDUpdatesCopies(R.SGD):
    def __init__(self, model, lr=0.1, momentum=0):
        super().__init__(model, lr, momentum)
        self.W = [layer.W.copy() for layer in self.l]

    def step(self):
        for i in range(self.L):
            self.W[i] = self.W[i] - self.lr * self.l[i].dLdW


class SGDLrTwice(R.SGD):
    def step(self):
        for i in range(self.L):
            self.v_W[i] = self.mu * self.v_W[i] + self.lr * self.l[i].dLdW
            self.v_b[i] = self.mu * self.v_b[i] + self.lr * self.l[i].dLdb
            self.l[i].W = self.l[i].W - self.lr * self.v_W[i]
            self.l[i].b = self.l[i].b - self.lr * self.v_b[i]


class BNUnbiased(R.BatchNorm1d):
    def forward(self, Z, eval=False):
        if eval:
            return super().forward(Z, eval=True)
        self.Z, self.N = Z, Z.shape[0]
        self.M = Z.mean(axis=0, keepdims=True)
        self.V = Z.var(axis=0, ddof=1, keepdims=True)
        self.NZ = (Z - self.M) / np.sqrt(self.V + self.eps)
        self.running_M = self.alpha * self.running_M + (1 - self.alpha) * self.M
        self.running_V = self.alpha * self.running_V + (1 - self.alpha) * self.V
        return self.BW * self.NZ + self.Bb


class BNRunningUnbiased(R.BatchNorm1d):
    def forward(self, Z, eval=False):
        out = super().forward(Z, eval)
        if not eval:
            self.running_V = (self.running_V - (1 - self.alpha) * self.V) + (1 - self.alpha) * Z.var(
                axis=0, ddof=1, keepdims=True)
        return out


class BNUpdatesInEval(R.BatchNorm1d):
    def forward(self, Z, eval=False):
        out = super().forward(Z, eval)
        if eval:
            self.running_M = self.alpha * self.running_M + (1 - self.alpha) * Z.mean(axis=0, keepdims=True)
        return out


class BNAlphaSwapped(R.BatchNorm1d):
    def forward(self, Z, eval=False):
        old_M, old_V = self.running_M, self.running_V
        out = super().forward(Z, eval)
        if not eval:
            self.running_M = (1 - self.alpha) * old_M + self.alpha * self.M
            self.running_V = (1 - self.alpha) * old_V + self.alpha * self.V
        return out


class BNEvalBatchStats(R.BatchNorm1d):
    def forward(self, Z, eval=False):
        if eval:
            M, V = Z.mean(axis=0, keepdims=True), Z.var(axis=0, keepdims=True)
            return self.BW * (Z - M) / np.sqrt(V + self.eps) + self.Bb
        return super().forward(Z)


class BNBiasGradNotSummed(R.BatchNorm1d):
    def backward(self, dLdBZ):
        out = super().backward(dLdBZ)
        self.dLdBb = dLdBZ
        return out


class BNGradsSwapped(R.BatchNorm1d):
    def backward(self, dLdBZ):
        out = super().backward(dLdBZ)
        self.dLdBW, self.dLdBb = self.dLdBb, self.dLdBW
        return out


class BNDirectPathOnly(R.BatchNorm1d):
    def backward(self, dLdBZ):
        super().backward(dLdBZ)
        return dLdBZ * self.BW / np.sqrt(self.V + self.eps)


class TanhExpOverflows(R.Tanh):
    """The handout's formula as it stands: e^1000 is inf, inf / inf is nan."""

    def forward(self, Z):
        self.A = (np.exp(Z) - np.exp(-Z)) / (np.exp(Z) + np.exp(-Z))
        return self.A


class SigmoidExpOverflows(R.Sigmoid):
    def forward(self, Z):
        self.A = np.exp(Z) / (1 + np.exp(Z))
        return self.A


class SigmoidBackwardFromZ(R.Sigmoid):
    """Right forward; the derivative recomputed from Z: inf / inf at Z = -1000."""

    def forward(self, Z):
        self.Z = Z
        return super().forward(Z)

    def backward(self, dLdA):
        E = np.exp(-self.Z)
        return dLdA * E / (1 + E) ** 2


class SwishExpOverflows(R.Swish):
    def forward(self, Z):
        self.Z = Z
        E = np.exp(self.beta * Z)
        self.S = E / (1 + E)
        return Z * self.S


class SwishBackwardFromZ(R.Swish):
    """Right forward; dA/dZ recomputed from exp(-βZ): inf / inf far out."""

    def backward(self, dLdA):
        super().backward(dLdA)                 # keeps dLdbeta right; only dLdZ overflows
        E = np.exp(-self.beta * self.Z)
        return dLdA * (1 + E + self.beta * self.Z * E) / (1 + E) ** 2


class BNVarianceMinusEps(R.BatchNorm1d):
    """(V - eps) ** -1.5 where (V + eps) ** -1.5 belongs: invisible unless the variance is near eps."""

    def backward(self, dLdBZ):
        self.dLdBW = np.sum(dLdBZ * self.NZ, axis=0, keepdims=True)
        self.dLdBb = np.sum(dLdBZ, axis=0, keepdims=True)
        G = dLdBZ * self.BW
        D = self.Z - self.M
        inv = (self.V + self.eps) ** -0.5
        dLdV = -0.5 * np.sum(G * D, axis=0, keepdims=True) * (self.V - self.eps) ** -1.5
        dLdM = -np.sum(G, axis=0, keepdims=True) * inv - 2 / self.N * dLdV * np.sum(D, axis=0, keepdims=True)
        return G * inv + dLdV * 2 * D / self.N + dLdM / self.N


class BNTorchEps(R.BatchNorm1d):
    def __init__(self, num_features, alpha=0.9):
        super().__init__(num_features, alpha)
        self.eps = 1e-5


class BNGradColumn(R.BatchNorm1d):
    """dLdBW as a C × 1 column: BW - lr * dLdBW would broadcast to C × C."""

    def backward(self, dLdBZ):
        out = super().backward(dLdBZ)
        self.dLdBW = self.dLdBW.T
        return out


class BNForwardReturnsNone(R.BatchNorm1d):
    def forward(self, Z, eval=False):
        super().forward(Z, eval)


class BNLoopsForever(R.BatchNorm1d):
    def backward(self, dLdBZ):
        while True:
            pass


WRONG = {
    # name: (class, check name, text the message must start with, text it must contain)
    "Linear: dLdb not summed over the batch": (LinearBiasNotSummed, "Linear", "Linear.backward", "not summed"),
    "Linear: dLdW transposed": (LinearWTransposed, "Linear", "Linear.backward", "dLdW is transposed"),
    "Linear: dLdb flat": (LinearBiasFlat, "Linear", "Linear.backward", "column shape"),
    "Linear: dLdW averaged": (LinearAveraged, "Linear", "Linear.backward", "averaged"),
    "Linear: no bias in forward": (LinearNoBias, "Linear", "Linear.forward", "bias is missing"),
    "Linear: b initialised flat": (LinearFlatBiasInit, "Linear", "Linear.__init__", "b has shape"),
    "Linear: backward not implemented": (LinearNotImplemented, "Linear", "Linear.backward", "not implemented yet"),
    "Sigmoid: derivative from the input": (SigmoidFromInput, "Sigmoid", "Sigmoid.backward", "OUTPUT"),
    "Sigmoid: wrong sign in forward": (SigmoidWrongSign, "Sigmoid", "Sigmoid.forward", "sign in the exponent"),
    "Tanh: derivative 1 - Z^2": (TanhFromInput, "Tanh", "Tanh.backward", "not 1 − Z²"),
    "Tanh: np.tanh used": (TanhNumpy, "Tanh", "Tanh.forward", "np.tanh"),
    "Tanh: square missing": (TanhNoSquare, "Tanh", "Tanh.backward", "square"),
    "ReLU: gradient passes negatives": (ReLULeaky, "ReLU", "ReLU.backward", "0 where Z < 0"),
    "ReLU: forward is min": (ReLUMin, "ReLU", "ReLU.forward", "max(0, z)"),
    "GELU: tanh approximation": (GELUTanhApprox, "GELU", "GELU.forward", "tanh approximation"),
    "GELU: Z phi(Z) missing": (GELUMissingTerm, "GELU", "GELU.backward", "second term"),
    "Swish: beta missing in dLdZ": (SwishNoBetaInGrad, "Swish", "Swish.backward", "factor beta is missing"),
    "Swish: dLdbeta missing a factor Z": (SwishBetaGradNoZ, "Swish", "Swish.backward", "factor Z is missing"),
    "Swish: dLdbeta not summed": (SwishBetaGradNotSummed, "Swish", "Swish.backward", "ONE number"),
    "Swish: dLdbeta averaged": (SwishBetaGradAveraged, "Swish", "Swish.backward", "averaged"),
    "Swish: beta ignored": (SwishIgnoresBeta, "Swish", "Swish.forward", "beta is not used"),
    "Swish: no dLdbeta": (SwishNoDLdbeta, "Swish", "Swish.backward", "no attribute dLdbeta"),
    "Softmax: no max shift": (SoftmaxNoShift, "Softmax", "Softmax.forward", "subtract each row's maximum"),
    "Softmax: global max shift": (SoftmaxGlobalShift, "Softmax", "Softmax.forward", "ROW's maximum"),
    "Softmax: over the batch": (SoftmaxColumns, "Softmax", "Softmax.forward", "each ROW"),
    "Softmax: diagonal Jacobian only": (SoftmaxDiagonalOnly, "Softmax", "Softmax.backward", "diagonal"),
    "SGD: gradient ascent": (SGDUphill, "SGD", "SGD.step", "uphill"),
    "SGD: velocity not kept": (SGDVelocityNotKept, "SGD", "SGD.step", "not kept between steps"),
    "SGD: momentum sign": (SGDMomentumSign, "SGD", "SGD.step", "velocity's sign"),
    "SGD: b frozen": (SGDBiasFrozen, "SGD", "SGD.step", "b is not updated"),
    "SGD: updates copies": (SGDUpdatesCopies, "SGD", "SGD.step", "Nothing changed"),
    "SGD: lr twice": (SGDLrTwice, "SGD", "SGD.step", "applied twice"),
    "BatchNorm1d: unbiased variance": (BNUnbiased, "BatchNorm1d", "BatchNorm1d.forward", "unbiased"),
    "BatchNorm1d: running_V unbiased": (BNRunningUnbiased, "BatchNorm1d", "BatchNorm1d.forward", "running_V is updated with the unbiased"),
    "BatchNorm1d: running stats updated in eval": (BNUpdatesInEval, "BatchNorm1d", "BatchNorm1d.forward", "changed in eval mode"),
    "BatchNorm1d: alpha swapped": (BNAlphaSwapped, "BatchNorm1d", "BatchNorm1d.forward", "swapped"),
    "BatchNorm1d: eval uses batch statistics": (BNEvalBatchStats, "BatchNorm1d", "BatchNorm1d.forward", "running_M and running_V"),
    "BatchNorm1d: dLdBb not summed": (BNBiasGradNotSummed, "BatchNorm1d", "BatchNorm1d.backward", "not summed"),
    "BatchNorm1d: dLdBW and dLdBb swapped": (BNGradsSwapped, "BatchNorm1d", "BatchNorm1d.backward", "swapped"),
    "BatchNorm1d: dLdZ direct path only": (BNDirectPathOnly, "BatchNorm1d", "BatchNorm1d.backward", "direct path"),
    "BatchNorm1d: forward returns None": (BNForwardReturnsNone, "BatchNorm1d", "BatchNorm1d.forward", "is None"),
    "BatchNorm1d: backward never ends": (BNLoopsForever, "BatchNorm1d", "BatchNorm1d.backward", "did not finish"),
    # issue 21: the extremes (±1000), an eps slip, a gradient shape that changes the update
    "Tanh: nan at ±1000 (exp formula)": (TanhExpOverflows, "Tanh", "Tanh.forward", "e^(−2|z|)"),
    "Sigmoid: nan at +1000 (exp(z) / (1 + exp(z)))": (SigmoidExpOverflows, "Sigmoid", "Sigmoid.forward",
                                                      "exp(−|z|)"),
    "Sigmoid: backward nan at -1000 (derivative from Z)": (SigmoidBackwardFromZ, "Sigmoid", "Sigmoid.backward",
                                                           "A(1 − A) with the stored output"),
    "Swish: nan at ±1000 (exp(βz) / (1 + exp(βz)))": (SwishExpOverflows, "Swish", "Swish.forward",
                                                      "σ(βZ) stably"),
    "Swish: backward nan at -1000 (derivative from exp(-βZ))": (SwishBackwardFromZ, "Swish", "Swish.backward",
                                                                "Use the stored S"),
    "BatchNorm1d: (V - eps) ** -1.5 in backward": (BNVarianceMinusEps, "BatchNorm1d", "BatchNorm1d.backward",
                                                   "(σ² − eps)^(−3/2)"),
    "BatchNorm1d: eps = 1e-5": (BNTorchEps, "BatchNorm1d", "BatchNorm1d.forward", "PyTorch's default"),
    "BatchNorm1d: dLdBW a column": (BNGradColumn, "BatchNorm1d", "BatchNorm1d.backward",
                                    "dLdBW has shape (4, 1) but should have shape (1, 4)"),
}

#: more of what the messages of issue 21's entries must name: the nan/overflow and the stable form
NAMED_TOO = {
    "Tanh: nan at ±1000 (exp formula)": ["is nan", "overflows to inf", "e^1000",
                                         "tanh(z) = sign(z) · (1 − e^(−2|z|)) / (1 + e^(−2|z|))"],
    "Sigmoid: nan at +1000 (exp(z) / (1 + exp(z)))": ["is nan", "overflows", "np.where"],
    "Sigmoid: backward nan at -1000 (derivative from Z)": ["is nan", "overflows", "no exp of Z"],
    "Swish: nan at ±1000 (exp(βz) / (1 + exp(βz)))": ["is nan", "overflows", "exp(−|βz|)", "np.where"],
    "Swish: backward nan at -1000 (derivative from exp(-βZ))": ["is nan", "overflows", "S + βZ S(1 − S)"],
    "BatchNorm1d: (V - eps) ** -1.5 in backward": ["dLdZ", "(σ² + eps)^(−3/2)", "eps"],
    "BatchNorm1d: eps = 1e-5": ["self.eps = 1e-8"],
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_layer_is_caught_and_named(name, monkeypatch):
    cls, check_name, method, phrase = WRONG[name]
    check = CHECKS[check_name][0]
    monkeypatch.setattr("course_lib.checks._harness.CALL_BUDGET_S", 0.5)
    with pytest.raises(CheckFailure) as info:
        check(cls)                        # the visible cell's call
    message = str(info.value)
    assert message.startswith(method), message
    assert phrase in message, message
    for more in NAMED_TOO.get(name, []):
        assert more in message, message
    assert "Traceback" not in message
    with pytest.raises(CheckFailure) as hidden:
        check(cls, seed=2026, hard=True)  # the hidden cell's call catches it too
    if name in NAMED_TOO:
        assert phrase in str(hidden.value), str(hidden.value)


# ---------------------------------------------------------------- right layers
class LinearBroadcast(R.Linear):
    def forward(self, A):
        self.A = A
        return A @ self.W.T + self.b.T

    def backward(self, dLdZ):
        self.dLdW = np.einsum("ni,nj->ij", dLdZ, self.A)
        self.dLdb = dLdZ.sum(axis=0, keepdims=True).T
        return np.einsum("no,oi->ni", dLdZ, self.W)


class SigmoidStable(R.Sigmoid):
    def forward(self, Z):
        e = np.exp(-np.abs(Z))
        self.A = np.where(Z >= 0, 1 / (1 + e), e / (1 + e))
        return self.A


class TanhViaExpClipped(R.Tanh):
    """Without np.tanh, as the handout asks; Z clipped where tanh is ±1 in float64 anyway."""

    def forward(self, Z):
        z = np.clip(Z, -30, 30)
        self.A = (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))
        return self.A


class TanhWhereSplit(R.Tanh):
    def forward(self, Z):
        E = np.exp(-2 * np.abs(Z))
        self.A = np.where(Z >= 0, (1 - E) / (1 + E), (E - 1) / (1 + E))
        return self.A


class SigmoidNaive(R.Sigmoid):
    """1 / (1 + e^-z): e^1000 overflows to inf (a warning) but 1 / inf = 0 is the right answer."""

    def forward(self, Z):
        self.A = 1 / (1 + np.exp(-Z))
        return self.A


class SigmoidLogAddExp(R.Sigmoid):
    def forward(self, Z):
        self.A = np.exp(-np.logaddexp(0, -Z))
        return self.A


class SwishViaTanh(R.Swish):
    def forward(self, Z):
        self.Z = Z
        self.S = 0.5 * (1 + np.tanh(0.5 * self.beta * Z))
        return Z * self.S


class SwishDivide(R.Swish):
    """Z / (1 + e^(-βZ)): inf in the denominator gives the right 0."""

    def forward(self, Z):
        self.Z = Z
        self.S = 1 / (1 + np.exp(-self.beta * Z))
        return Z / (1 + np.exp(-self.beta * Z))


class TanhViaSigmoid(R.Tanh):
    def forward(self, Z):
        self.A = 2 * _sig(2 * Z) - 1
        return self.A


class ReLUGradOneAtZero(R.ReLU):
    def forward(self, Z):
        self.Z = Z
        return Z * (Z > 0)

    def backward(self, dLdA):
        return dLdA * (self.Z >= 0)


class GELUScipy(R.GELU):
    def forward(self, Z):
        from scipy.special import erf

        self.Z = Z
        return Z * 0.5 * (1 + erf(Z / np.sqrt(2)))

    def backward(self, dLdA):
        from scipy.stats import norm

        return dLdA * (norm.cdf(self.Z) + self.Z * norm.pdf(self.Z))


class SwishScalarArray(R.Swish):
    """beta from the constructor's default; dLdbeta stored as a 1×1 array."""

    def backward(self, dLdA):
        out = super().backward(dLdA)
        self.dLdbeta = np.array([[self.dLdbeta]])
        return out


class SoftmaxVectorised(R.Softmax):
    def backward(self, dLdA):
        A = self.A
        return A * (dLdA - (dLdA * A).sum(axis=1, keepdims=True))


class SoftmaxLogSumExp(R.Softmax):
    def forward(self, Z):
        m = Z.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True))
        self.A = np.exp(Z - lse)
        return self.A

    def backward(self, dLdA):
        return np.einsum("nc,ncd->nd", dLdA,
                         np.einsum("nc,cd->ncd", self.A, np.eye(self.A.shape[1]))
                         - np.einsum("nc,nd->ncd", self.A, self.A))


class SGDNegativeVelocity(R.SGD):
    """The other common convention: v = mu v - lr g, W += v (the same steps for a fixed lr)."""

    def step(self):
        for i, layer in enumerate(self.l):
            self.v_W[i] = self.mu * self.v_W[i] - self.lr * layer.dLdW
            self.v_b[i] = self.mu * self.v_b[i] - self.lr * layer.dLdb
            layer.W += self.v_W[i]
            layer.b += self.v_b[i]


class BNCompact(R.BatchNorm1d):
    def forward(self, Z, eval=False):
        if eval:
            return self.BW * (Z - self.running_M) / np.sqrt(self.running_V + self.eps) + self.Bb
        mean = Z.mean(axis=0, keepdims=True)
        var = ((Z - mean) ** 2).mean(axis=0, keepdims=True)
        self.inv = 1 / np.sqrt(var + self.eps)
        self.NZ = (Z - mean) * self.inv
        self.running_M *= self.alpha
        self.running_M += (1 - self.alpha) * mean
        self.running_V *= self.alpha
        self.running_V += (1 - self.alpha) * var
        return self.BW * self.NZ + self.Bb

    def backward(self, dLdBZ):
        self.dLdBW = (dLdBZ * self.NZ).sum(axis=0, keepdims=True)
        self.dLdBb = dLdBZ.sum(axis=0, keepdims=True)
        g = dLdBZ * self.BW
        return self.inv * (g - g.mean(axis=0, keepdims=True)
                           - self.NZ * (g * self.NZ).mean(axis=0, keepdims=True))


class BNFlatGrads(R.BatchNorm1d):
    """dLdBW, dLdBb of shape (C,): BW - lr * dLdBW is the same 1 × C update (CMU's autograder accepts it)."""

    def backward(self, dLdBZ):
        out = super().backward(dLdBZ)
        self.dLdBW, self.dLdBb = self.dLdBW.reshape(-1), self.dLdBb.ravel()
        return out


RIGHT = {
    "Linear reference": (R.Linear, "Linear"),
    "Linear broadcast + einsum": (LinearBroadcast, "Linear"),
    "Sigmoid reference": (R.Sigmoid, "Sigmoid"),
    "Sigmoid stable": (SigmoidStable, "Sigmoid"),
    "Tanh reference": (R.Tanh, "Tanh"),
    "Tanh via exp, clipped at ±30": (TanhViaExpClipped, "Tanh"),
    "Tanh where-split": (TanhWhereSplit, "Tanh"),
    "Sigmoid naive 1 / (1 + exp(-z))": (SigmoidNaive, "Sigmoid"),
    "Sigmoid by logaddexp": (SigmoidLogAddExp, "Sigmoid"),
    "Swish via tanh": (SwishViaTanh, "Swish"),
    "Swish Z / (1 + exp(-βZ))": (SwishDivide, "Swish"),
    "Tanh via sigmoid": (TanhViaSigmoid, "Tanh"),
    "ReLU reference": (R.ReLU, "ReLU"),
    "ReLU gradient 1 at 0": (ReLUGradOneAtZero, "ReLU"),
    "GELU reference": (R.GELU, "GELU"),
    "GELU scipy": (GELUScipy, "GELU"),
    "Swish reference": (R.Swish, "Swish"),
    "Swish dLdbeta 1x1": (SwishScalarArray, "Swish"),
    "Softmax reference (explicit Jacobians)": (R.Softmax, "Softmax"),
    "Softmax vectorised backward": (SoftmaxVectorised, "Softmax"),
    "Softmax log-sum-exp + einsum Jacobian": (SoftmaxLogSumExp, "Softmax"),
    "SGD reference": (R.SGD, "SGD"),
    "SGD negative velocity, in place": (SGDNegativeVelocity, "SGD"),
    "BatchNorm1d reference (handout equations)": (R.BatchNorm1d, "BatchNorm1d"),
    "BatchNorm1d compact backward, in-place running stats": (BNCompact, "BatchNorm1d"),
    "BatchNorm1d dLdBW, dLdBb of shape (C,)": (BNFlatGrads, "BatchNorm1d"),
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_layer_passes(name, capsys):
    cls, check_name = RIGHT[name]
    check = CHECKS[check_name][0]
    for seed in (0, 1, 2026):
        check(cls, seed=seed)
        check(cls, seed=seed, hard=True)
    out = capsys.readouterr().out
    assert out.count("PASSED") == 6 and "warning" not in out.lower()


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_instance_instead_of_class(name):
    check, cls = CHECKS[name]
    obj = object.__new__(cls)
    with pytest.raises(CheckFailure, match="expected the class"):
        check(obj)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_stub_reads_not_implemented(name):
    check, cls = CHECKS[name]

    def stub(self, *args, **kwargs):
        raise NotImplementedError()

    method = "step" if name == "SGD" else "forward"
    Stub = type(f"Stub{name}", (cls,), {method: stub})
    with pytest.raises(CheckFailure, match="not implemented yet"):
        check(Stub)


def test_the_sgd_oracle_is_torch_optim_sgd():
    """The functional update the check uses equals torch.optim.SGD's class."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(3, 4))
    a = [torch.tensor(x0)]
    b = torch.tensor(x0, requires_grad=True)
    oracle = OPT._TorchSGD(a, lr=0.1, momentum=0.9)
    opt = torch.optim.SGD([b], lr=0.1, momentum=0.9)
    for _ in range(4):
        g = torch.tensor(rng.normal(size=(3, 4)))
        oracle.step([g])
        b.grad = g.clone()
        opt.step()
    assert torch.allclose(a[0], b.detach())


def test_softmax_large_inputs_in_the_visible_check():
    """The visible check already includes ±1000 (the usual overflow)."""
    cases = ACT._softmax_inputs(0, hard=False)
    assert any(np.abs(z).max() >= 1000 for z, _ in cases)
    assert any(z.shape[0] == 1 for z, _ in cases)


def test_catalogue_is_large_enough():
    assert len(WRONG) >= 12 and len(RIGHT) >= 12
    assert {c for _, c, _, _ in WRONG.values()} == set(CHECKS)


# ---------------------------------------------------------------- whole models
class ModelSkipsLast(R.Model):
    def forward(self, A):
        for layer in self.layers[:-1]:
            A = layer.forward(A)
        return A


class ModelBackwardForwardOrder(R.Model):
    def backward(self, dLdA):
        for layer in self.layers:
            dLdA = layer.backward(dLdA)
        return dLdA


class ModelBackwardSkipsFirst(R.Model):
    def backward(self, dLdA):
        for layer in reversed(self.layers[1:]):
            dLdA = layer.backward(dLdA)
        return dLdA


def test_model_check_passes_right_models(capsys):
    L.check_model(R.mlp4(), architecture=["Linear(2, 4)", "ReLU", "Linear(4, 8)", "ReLU", "Linear(8, 8)",
                                          "ReLU", "Linear(8, 4)", "ReLU", "Linear(4, 2)", "Sigmoid"])
    L.check_model(R.Model([R.Linear(3, 4), R.GELU(), R.Linear(4, 3), R.Swish(0.7), R.Linear(3, 5),
                           R.Softmax()]), seed=2026, hard=True)
    L.check_model(R.Model([R.Linear(3, 2)]))
    assert capsys.readouterr().out.count("PASSED") == 3


@pytest.mark.parametrize("cls, phrase", [
    (ModelSkipsLast, "without layer 9 (Sigmoid)"),
    (ModelBackwardForwardOrder, "from the LAST to the first"),
    (ModelBackwardSkipsFirst, "layer 0 (Linear(2, 4)) has no dLdW"),
])
def test_model_check_catches_wrong_models(cls, phrase):
    model = cls(R.mlp4().layers)
    with pytest.raises(CheckFailure) as info:
        L.check_model(model)
    assert phrase in str(info.value), str(info.value)


def test_model_check_architecture_and_unknown_layers():
    with pytest.raises(CheckFailure, match=r"model.layers is \[Linear\(2, 4\), ReLU"):
        L.check_model(R.mlp4(), architecture=["Linear(2, 4)", "Sigmoid"])
    with pytest.raises(CheckFailure, match="does not know"):
        L.check_model(R.Model([R.Linear(2, 3), R.BatchNorm1d(3)]))
    with pytest.raises(CheckFailure, match="takes 5 features but the layer before it gives 3"):
        L.check_model(R.Model([R.Linear(2, 3), R.ReLU(), R.Linear(5, 1)]))


# ---------------------------------------------------------------- issue 21
def test_activation_extremes_are_in_the_visible_check():
    """±1000 is in the visible call of every activation check (forward and backward)."""
    for name in ("Sigmoid", "Tanh", "ReLU", "GELU"):
        cases = ACT._activation_inputs(ACT._ACTIVATIONS[name], 0, hard=False)
        assert any(np.abs(z).max() >= 1000 for z, _ in cases), name


def test_parameter_gradient_of_the_same_update_is_accepted_with_a_note(capsys):
    """dLdBW, dLdBb of shape (C,) give BW - lr * dLdBW the same update: passed, with a note
    naming the expected shape (once per gradient, not per batch)."""
    L.check_batchnorm(BNFlatGrads)
    out = capsys.readouterr().out
    assert "PASSED: BatchNorm1d" in out
    for name, param in (("dLdBW", "BW"), ("dLdBb", "Bb")):
        notes = [line for line in out.splitlines() if line.startswith(f"NOTE: BatchNorm1d.backward: {name} ")]
        assert len(notes) == 1, out
        assert "has shape (" in notes[0] and "the expected shape is (1, " in notes[0], notes[0]
        assert f"the shape of {param}" in notes[0] and "same update" in notes[0], notes[0]


class LinearFlatBias(R.Linear):
    def backward(self, dLdZ):
        out = super().backward(dLdZ)
        self.dLdb = self.dLdb.reshape(-1)
        return out


def test_flat_bias_gradient_only_where_the_update_is_the_same(capsys):
    """b is out × 1: a flat dLdb broadcasts b - lr * dLdb to out × out, so it is rejected --
    except for one output, where (1,) gives the same 1 × 1 update."""
    with pytest.raises(CheckFailure, match=r"layers\[1\].dLdb has shape \(2,\) but should have shape \(2, 1\)"):
        L.check_model(R.Model([R.Linear(3, 2), LinearFlatBias(2, 2)]))
    with pytest.raises(CheckFailure, match="column shape"):
        L.check_linear(LinearFlatBias)
    L.check_model(R.Model([R.Linear(3, 4), R.ReLU(), LinearFlatBias(4, 1)]))
    out = capsys.readouterr().out
    assert "PASSED" in out and "layers[2].dLdb has shape (1,); the expected shape is (1, 1)" in out, out


def test_close_numbers_are_printed_so_that_they_differ():
    """got beside expected: enough digits that two different numbers visibly differ; short when far apart."""
    from course_lib.checks._harness import fmt

    assert (fmt(3.10378, 3.103785), fmt(3.103785, 3.10378)) == ("3.103780", "3.103785")
    assert (fmt(3.1037849, 3.1037851), fmt(3.1037851, 3.1037849)) == ("3.1037849", "3.1037851")
    assert fmt(1e-7, 1.0000001e-7) != fmt(1.0000001e-7, 1e-7)
    assert (fmt(0.5, 0.73), fmt(2.0, -2.0), fmt(1.0, 1.0), fmt(1 / 3, None)) == ("0.5", "2.0", "1.0", "0.333333")
    with pytest.raises(CheckFailure) as info:
        L.check_tanh(TanhAlmost)
    got, want = re_pair(str(info.value))
    assert got != want and len(got.lstrip("-")) == len(want.lstrip("-")), str(info.value)


class TanhAlmost(R.Tanh):
    """Off by 3e-5 relative: just above the check's 1e-5 tolerance, so short numbers would read alike."""

    def forward(self, Z):
        self.A = super().forward(Z) * (1 + 3e-5)
        return self.A


def re_pair(message):
    import re

    found = re.search(r" is (-?[0-9.e+-]+) but should be (-?[0-9.e+-]+)", message)
    assert found, message
    return found.group(1), found.group(2)


def test_forward_and_backward_of_each_shape_earn_their_shares(capsys):
    """Partial credit: a Linear whose forward is right and whose dLdb is not summed earns the forward half."""
    assert L.check_linear(R.Linear, points=2) == 2.0
    earned = L.check_linear(LinearBiasNotSummed, points=2)
    out = capsys.readouterr().out
    assert earned == 1.0, out
    assert "FAILED: Linear: backward for A of shape" in out and "dLdb is not summed over the batch" in out
    with pytest.raises(CheckFailure):  # nothing right: an error, 0 points
        L.check_linear(LinearNotImplemented, points=2)
