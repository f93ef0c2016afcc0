"""Catalogue for notebook 04: wrong losses, wrong hand gradients and wrong Adams
are caught with a message that names the function and the fault; correct
implementations written differently from the reference all pass.

The reference comes from the source notebook (cells tagged 'nb04-defs')."""
from __future__ import annotations


import numpy as np
import pytest

from course_lib.checks import CheckFailure
from course_lib.checks import losses as L
from course_lib.checks import matrix_grads as M
from course_lib.checks import optim as O

from catalogue import failure
from nb04_refs import reference

R = reference()


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


# ================================================================ losses
class MSEByN(R["MSELoss"]):  # divides by N only
    def forward(self, A, Y):
        super().forward(A, Y)
        return float(((self.A - self.Y) ** 2).sum() / self.A.shape[0])


class MSENoTwo(R["MSELoss"]):
    def backward(self):
        return super().backward() / 2


class MSEStub:
    def forward(self, A, Y):
        raise NotImplementedError()

    def backward(self):
        raise NotImplementedError()


class CESummed(R["CrossEntropyLoss"]):  # sum over the batch, forward and backward
    def forward(self, A, Y):
        return super().forward(A, Y) * np.asarray(A).shape[0]

    def backward(self):
        return self.p - self.Y


class CENoShift:  # softmax and log without the max shift
    def forward(self, A, Y):
        with np.errstate(all="ignore"):
            e = np.exp(A)
            self.p = e / e.sum(axis=1, keepdims=True)
            self.Y = Y
            return float(-(Y * np.log(self.p)).sum() / A.shape[0])

    def backward(self):
        return (self.p - self.Y) / self.Y.shape[0]


class CEBackwardNotMean(R["CrossEntropyLoss"]):
    def backward(self):
        return self.p - self.Y


class CEPerSample(R["CrossEntropyLoss"]):  # returns one loss per row
    def forward(self, A, Y):
        super().forward(A, Y)
        return -(self.Y * np.log(self.p)).sum(axis=1)


class CEEpsInLog(R["CrossEntropyLoss"]):
    """log(softmax + 1e-12): -log p capped near 27.6 where it should be about 1000."""

    def forward(self, A, Y):
        super().forward(A, Y)
        return float(-(self.Y * np.log(self.p + 1e-12)).sum() / self.Y.shape[0])


class CEClippedProbabilities(R["CrossEntropyLoss"]):
    """p clipped into [1e-7, 1]: -log p capped near 16.1 (and shifted wherever p < 1e-7)."""

    def forward(self, A, Y):
        super().forward(A, Y)
        return float(-(self.Y * np.log(np.clip(self.p, 1e-7, 1.0))).sum() / self.Y.shape[0])


class CESoftmaxOverBatch:
    """Softmax down the columns (axis=0): with batch size 1 every p is 1 and the loss 0."""

    def forward(self, A, Y):
        E = np.exp(A - A.max(axis=0, keepdims=True))
        self.p, self.Y = E / E.sum(axis=0, keepdims=True), Y
        return float(-(Y * np.log(self.p)).sum() / A.shape[0])

    def backward(self):
        return (self.p - self.Y) / self.Y.shape[0]


class CEColumnMaximum:
    """Rows normalised, but shifted by each COLUMN's maximum (which does not cancel)."""

    def forward(self, A, Y):
        E = np.exp(A - A.max(axis=0, keepdims=True))
        self.p, self.Y = E / E.sum(axis=1, keepdims=True), Y
        return float(-(Y * np.log(self.p)).sum() / A.shape[0])

    def backward(self):
        return (self.p - self.Y) / self.Y.shape[0]


class CEBackwardOverBatch(R["CrossEntropyLoss"]):
    """Right loss; backward recomputes softmax down the columns."""

    def forward(self, A, Y):
        self.logits = np.asarray(A, dtype=float)
        return super().forward(A, Y)

    def backward(self):
        E = np.exp(self.logits - self.logits.max(axis=0, keepdims=True))
        return (E / E.sum(axis=0, keepdims=True) - self.Y) / self.Y.shape[0]


class BCENoClip:
    def forward(self, A, Y):
        self.A, self.Y = A, Y
        with np.errstate(all="ignore"):
            return float(-(Y * np.log(A) + (1 - Y) * np.log(1 - A)).mean())

    def backward(self):
        with np.errstate(all="ignore"):
            return (self.A - self.Y) / (self.A * (1 - self.A)) / self.A.size


class BCESum(R["BCELoss"]):
    def forward(self, A, Y):
        return super().forward(A, Y) * np.asarray(A).size

    def backward(self):
        return super().backward() * self.A.size


# ======================================================= two-layer gradients
bp = R["backprop_two_layer"]


def _mse_grad(yhat, Y):
    return 2.0 * (yhat - Y) / Y.shape[0]


def _relu5(z):
    return 5.0 * np.maximum(z, 0.0)


def reg_with(**kw):
    args = dict(f=_relu5, df=lambda z, out: 5.0 * (z > 0), g=lambda z: z,
                dg=lambda z, out: np.ones_like(z), dloss=_mse_grad)
    args.update(kw)
    return lambda X, Y, W1, b1, W2, b2: bp(X, Y, W1, b1, W2, b2, **args)


def cls_with(dloss=_mse_grad, **kw):
    args = dict(f=np.tanh, df=lambda z, out: 1 - out ** 2, g=_sig, dg=lambda z, out: out * (1 - out),
                dloss=dloss)
    args.update(kw)
    return lambda X, Y, W1, b1, W2, b2: bp(X, Y, W1, b1, W2, b2, **args)


def edit(fn, **changes):
    """fn with some returned entries replaced by changes[key](dict)."""
    def wrapped(*a):
        d = dict(fn(*a))
        for k, how in changes.items():
            d[k] = how(d)
        return d
    wrapped.__name__ = fn.__name__
    return wrapped


def per_sample_db(X, Y, W1, b1, W2, b2):  # db2 not summed over the batch
    d = R["grads_regression"](X, Y, W1, b1, W2, b2)
    z2 = _relu5(X @ W1.T + b1)
    yhat = z2 @ W2.T + b2
    d["db2"] = 2.0 * (yhat - Y) / Y.shape[0]
    return d


def drop_dW1(*a):
    return {k: v for k, v in R["grads_classification_mse"](*a).items() if k != "dW1"}


# ================================================================ Adam
class AdamBase:
    """A parametrised Adam for wrong variants: corr(t) gives (c1, c2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, bias_correction=True):
        self.params, self.lr, self.b, self.eps, self.bc = params, lr, betas, eps, bias_correction
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def corr(self, t):
        b1, b2 = self.b
        return (1 - b1 ** t, 1 - b2 ** t) if self.bc else (1.0, 1.0)

    def update(self, p, mh, vh):
        p -= self.lr * mh / (np.sqrt(vh) + self.eps)

    def step(self, grads):
        self.t += 1
        b1, b2 = self.b
        c1, c2 = self.corr(self.t)
        for i, (p, g) in enumerate(zip(self.params, grads)):
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            self.update(p, self.m[i] / c1, self.v[i] / c2)


class AdamNoCorrection(AdamBase):
    def corr(self, t):
        return 1.0, 1.0


class AdamNoPower(AdamBase):
    def corr(self, t):
        return 1 - self.b[0], 1 - self.b[1]


class AdamEpsInside(AdamBase):
    def update(self, p, mh, vh):
        p -= self.lr * mh / np.sqrt(vh + self.eps)


class AdamNotInPlace(AdamBase):
    def update(self, p, mh, vh):
        p = p - self.lr * mh / (np.sqrt(vh) + self.eps)  # noqa: F841  (rebinds a local name)


class AdamIgnoresFlag(AdamBase):
    def corr(self, t):
        return 1 - self.b[0] ** t, 1 - self.b[1] ** t


class AdamFlipped(AdamBase):
    def update(self, p, mh, vh):
        p += self.lr * mh / (np.sqrt(vh) + self.eps)


def expr_one_path(x, y, z, o):  # forgets that z is used twice
    return {"w": (x + y) * z * o + z, "x": z * o, "y": z * o, "z": (x + y) * o, "o": (x + y) * z}


#: name -> (object, check, name in the message, phrase naming the fault)
WRONG = {
    "MSE divided by N only": (MSEByN, L.check_mse, "MSELoss.forward", "divide by N*C"),
    "MSE backward without the 2": (MSENoTwo, L.check_mse, "MSELoss.backward", "2*e"),
    "MSE not implemented": (MSEStub, L.check_mse, "MSELoss.forward", "not implemented yet"),
    "cross-entropy summed over the batch": (CESummed, L.check_cross_entropy, "CrossEntropyLoss.forward",
                                            "average over the batch"),
    "softmax without the max shift": (CENoShift, L.check_cross_entropy, "CrossEntropyLoss",
                                      "Subtract the row maximum"),
    "cross-entropy backward not divided by N": (CEBackwardNotMean, L.check_cross_entropy,
                                                "CrossEntropyLoss.backward", "divides (softmax(A) - Y) by N"),
    "cross-entropy per sample": (CEPerSample, L.check_cross_entropy, "CrossEntropyLoss.forward",
                                 "single number"),
    # issue 21: an eps inside the log, softmax over the wrong axis
    "cross-entropy with log(p + 1e-12)": (CEEpsInLog, L.check_cross_entropy, "CrossEntropyLoss.forward",
                                          "eps = 1e-12"),
    "cross-entropy with p clipped at 1e-7": (CEClippedProbabilities, L.check_cross_entropy,
                                             "CrossEntropyLoss.forward", "eps = 1e-07"),
    "cross-entropy softmax over the batch": (CESoftmaxOverBatch, L.check_cross_entropy,
                                             "CrossEntropyLoss.forward", "over the batch (axis=0"),
    "cross-entropy shifted by the column maximum": (CEColumnMaximum, L.check_cross_entropy,
                                                    "CrossEntropyLoss.forward", "maximum of each COLUMN"),
    "cross-entropy backward over the batch": (CEBackwardOverBatch, L.check_cross_entropy,
                                              "CrossEntropyLoss.backward", "over the batch (axis=0"),
    "BCE not clipped": (BCENoClip, L.check_bce, "BCELoss", "clip A"),
    "BCE summed": (BCESum, L.check_bce, "BCELoss.forward", "mean over all N*C"),
    "dW transposed": (edit(R["grads_regression"], dW1=lambda d: d["dW1"].T), M.check_regression,
                      "grads_regression", "transposed"),
    "db not summed over the batch": (per_sample_db, M.check_regression, "per_sample_db",
                                     "sum over the batch"),
    "missing factor 5 of 5 ReLU": (reg_with(df=lambda z, out: 1.0 * (z > 0)), M.check_regression,
                                   "dz2_dz1", "factor 5"),
    "ReLU derivative = ReLU": (reg_with(df=lambda z, out: out), M.check_regression, "dz2_dz1", "a step"),
    "loss gradient without 1/B": (reg_with(dloss=lambda yhat, Y: 2.0 * (yhat - Y)), M.check_regression,
                                  "dl_dyhat", "mean over the batch"),
    "MSE gradient without the 2": (reg_with(dloss=lambda yhat, Y: (yhat - Y) / Y.shape[0]),
                                   M.check_regression, "dl_dyhat", "factor 2"),
    "sigmoid derivative from the input": (cls_with(dg=lambda z, out: z * (1 - z)),
                                          M.check_classification_mse, "dyhat_dz3", "OUTPUT"),
    "tanh derivative from the input": (cls_with(
        df=lambda z, out: 1 - z ** 2, dloss=lambda yh, Y: (yh - Y) / (yh * (1 - yh)) / Y.size),
        M.check_classification_bce,
                                       "dz2_dz1", "not z1"),
    "Jacobian returned as its diagonal": (edit(R["grads_relu_tanh"], dyhat_dz3=lambda d: np.einsum(
        "bii->bi", d["dyhat_dz3"])), M.check_relu_tanh, "dyhat_dz3", "diagonal MATRIX"),
    "missing key": (drop_dW1, M.check_classification_mse, "drop_dW1", "no key 'dW1'"),
    "Adam without bias correction": (AdamNoCorrection, O.check_adam, "Adam.step", "WITHOUT bias correction"),
    "Adam with 1 - beta instead of 1 - beta**t": (AdamNoPower, O.check_adam, "Adam.step",
                                                  "1 - beta instead of 1 - beta**t"),
    "Adam with eps inside the square root": (AdamEpsInside, O.check_adam, "Adam.step", "eps is inside"),
    "Adam not in place": (AdamNotInPlace, O.check_adam, "Adam.step", "in place"),
    "Adam ignores bias_correction=False": (AdamIgnoresFlag, O.check_adam, "bias_correction=False",
                                           "switch the correction off"),
    "Adam climbs": (AdamFlipped, O.check_adam, "Adam.step", "goes uphill"),
    "z used twice, one path": (expr_one_path, M.check_expression_grads, "expression_grads", "used twice"),
}


#: more of what the messages of issue 21's entries must name
NAMED_TOO = {
    "cross-entropy with log(p + 1e-12)": ["eps inside the log", "caps it at −log eps ≈ 27.6", "about 1000",
                                          "log p = (A − m) − log Σ_c exp(A − m)"],
    "cross-entropy with p clipped at 1e-7": ["eps inside the log", "≈ 16.1", "Drop the eps"],
    "cross-entropy softmax over the batch": ["along each ROW", "axis=1"],
    "cross-entropy backward over the batch": ["along each ROW", "axis=1"],
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_implementation_is_caught_and_named(name):
    obj, check, where, phrase = WRONG[name]
    message = failure(check, obj)
    assert where in message, message
    assert phrase in message, message
    for more in NAMED_TOO.get(name, []):
        assert more in message, message
    assert "Traceback" not in message
    if name in NAMED_TOO:                 # the hidden cell's call names it too
        with pytest.raises(CheckFailure) as hidden:
            check(obj, seed=2026, hard=True)
        assert phrase in str(hidden.value), str(hidden.value)


# ================================================================ right ones
class MSEEinsum:
    def forward(self, A, Y):
        self.d = np.asarray(A) - np.asarray(Y)
        return np.einsum("ij,ij->", self.d, self.d) / self.d.size  # a numpy scalar

    def backward(self):
        return self.d * (2.0 / self.d.size)


class CELogAddExp:
    def forward(self, A, Y):
        lse = np.logaddexp.reduce(A, axis=1, keepdims=True)
        self.p, self.Y = np.exp(A - lse), Y
        return np.array(-np.sum(Y * (A - lse)) / len(A))  # a 0-d array

    def backward(self):
        return (self.p - self.Y) / len(self.Y)


class CEScipyLogSoftmax:
    def forward(self, A, Y):
        from scipy.special import log_softmax

        logp = log_softmax(np.asarray(A, dtype=float), axis=1)
        self.p, self.Y = np.exp(logp), np.asarray(Y, dtype=float)
        return float(-np.einsum("nc,nc->", self.Y, logp) / len(logp))

    def backward(self):
        return (self.p - self.Y) / len(self.Y)


class BCETorchStyle:
    """Clamps the logs at -100, as torch does, instead of clipping A."""

    def forward(self, A, Y):
        self.A, self.Y = A, Y
        with np.errstate(divide="ignore"):
            la, lb = np.maximum(np.log(A), -100), np.maximum(np.log(1 - A), -100)
        return float(-np.mean(Y * la + (1 - Y) * lb))

    def backward(self):
        return (self.A - self.Y) / np.maximum(self.A * (1 - self.A), 1e-12) / self.A.size


class AdamFolded:
    """The 'efficient' form of Adam's paper: the corrections folded into lr and eps."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, bias_correction=True):
        self.ps, self.lr, (self.b1, self.b2), self.eps, self.bc = params, lr, betas, eps, bias_correction
        self.state = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        self.k = 0

    def step(self, grads):
        self.k += 1
        c1 = 1 - self.b1 ** self.k if self.bc else 1.0
        c2 = 1 - self.b2 ** self.k if self.bc else 1.0
        for p, g, (m, v) in zip(self.ps, grads, self.state):
            m[...] = self.b1 * m + (1 - self.b1) * g
            v[...] = self.b2 * v + (1 - self.b2) * g ** 2
            p[...] = p - (self.lr * np.sqrt(c2) / c1) * m / (np.sqrt(v) + self.eps * np.sqrt(c2))


def _direct(f, df, g, dg, dloss):
    """Elementwise products instead of Jacobian products; per-sample Jacobians by einsum."""
    def grads(X, Y, W1, b1, W2, b2):
        z1 = X @ W1.T + b1
        z2 = f(z1)
        z3 = z2 @ W2.T + b2
        yhat = g(z3)
        dly = dloss(yhat, Y)
        d3, d1 = dg(z3, yhat), df(z1, z2)
        e3, e1 = np.eye(z3.shape[1]), np.eye(z1.shape[1])
        dz3 = dly * d3
        dz1 = (dz3 @ W2) * d1
        return {"dl_dyhat": dly, "dyhat_dz3": np.einsum("bi,ij->bij", d3, e3),
                "dz3_dz2": np.repeat(W2[None], len(X), axis=0),
                "dz2_dz1": np.einsum("bi,ij->bij", d1, e1),
                "dW2": np.einsum("bk,bj->kj", dz3, z2), "db2": dz3.sum(0),
                "dW1": np.einsum("bk,bj->kj", dz1, X), "db1": dz1.sum(0), "extra": "ignored"}
    return grads


def expr_autoless(x, y, z, o):
    a = x + y
    return {"x": z * o, "y": o * z, "o": z * a, "z": 1 + o * a, "w": z + a * z * o}


RIGHT = {
    "reference MSELoss": (R["MSELoss"], L.check_mse),
    "MSE by einsum": (MSEEinsum, L.check_mse),
    "reference CrossEntropyLoss": (R["CrossEntropyLoss"], L.check_cross_entropy),
    "cross-entropy by logaddexp": (CELogAddExp, L.check_cross_entropy),
    "cross-entropy by scipy's log_softmax": (CEScipyLogSoftmax, L.check_cross_entropy),
    "reference BCELoss": (R["BCELoss"], L.check_bce),
    "BCE with torch-style clamped logs": (BCETorchStyle, L.check_bce),
    "reference regression": (R["grads_regression"], M.check_regression),
    "direct regression": (_direct(_relu5, lambda z, o: np.where(z > 0, 5.0, 0.0), lambda z: z,
                                  lambda z, o: np.ones_like(z), _mse_grad), M.check_regression),
    "direct classification MSE": (_direct(np.tanh, lambda z, o: 1 / np.cosh(z) ** 2, _sig,
                                          lambda z, o: np.exp(-z) / (1 + np.exp(-z)) ** 2, _mse_grad),
                                  M.check_classification_mse),
    "direct classification BCE": (_direct(np.tanh, lambda z, o: 1 / np.cosh(z) ** 2, _sig,
                                          lambda z, o: o * (1 - o),
                                          lambda yh, Y: -(Y / yh - (1 - Y) / (1 - yh)) / Y.size),
                                  M.check_classification_bce),
    "reference classification BCE": (R["grads_classification_bce"], M.check_classification_bce),
    "reference ReLU/tanh": (R["grads_relu_tanh"], M.check_relu_tanh),
    "direct ReLU/tanh": (_direct(lambda z: z * (z > 0), lambda z, o: np.heaviside(z, 0.0), np.tanh,
                                 lambda z, o: 1 - np.tanh(z) ** 2, _mse_grad), M.check_relu_tanh),
    "reference Adam": (R["Adam"], O.check_adam),
    "Adam with folded corrections": (AdamFolded, O.check_adam),
    "parametrised Adam": (AdamBase, O.check_adam),
    "reference expression": (R["expression_grads"], M.check_expression_grads),
    "expression written differently": (expr_autoless, M.check_expression_grads),
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_implementation_passes(name, capsys):
    obj, check = RIGHT[name]
    check(obj)
    check(obj, seed=2026, hard=True)
    check(obj, seed=7, hard=True)
    assert "PASSED" in capsys.readouterr().out


@pytest.mark.parametrize("junk", [None, 3, "MSELoss", object()])
def test_checks_survive_junk(junk):
    for check in (L.check_mse, L.check_cross_entropy, L.check_bce, M.check_regression,
                  M.check_expression_grads, O.check_adam):
        with pytest.raises(CheckFailure) as info:
            check(junk)
        assert "Traceback" not in str(info.value)


def test_wrong_return_types_read_as_such():
    class MSENone(R["MSELoss"]):
        def backward(self):
            return None

    with pytest.raises(CheckFailure, match="MSELoss.backward.*None"):
        L.check_mse(MSENone)
    with pytest.raises(CheckFailure, match="returned a list"):
        M.check_regression(lambda *a: [1, 2])


def test_catalogue_is_large_enough():
    assert len(WRONG) >= 10 and len(RIGHT) >= 8


def test_close_loss_values_print_visibly_different():
    """A loss rounded to 5 decimals, just outside the tolerance: 2.57924 next to 2.579244 reads as
    the same number; both are printed with the same digits, 2.579240 next to 2.579244."""
    class CENearly(R["CrossEntropyLoss"]):
        def forward(self, A, Y):
            return round(super().forward(A, Y), 5)

    with pytest.raises(CheckFailure) as info:
        L.check_cross_entropy(CENearly)
    message = str(info.value)
    text = message.split(": it is ")[1]
    got, rest = text.split(" but should be ")
    want = rest.split(" ")[0].rstrip(".")
    assert got != want and len(got) == len(want), message


def test_each_case_and_gradient_earns_its_share(capsys):
    """Partial credit: an MSE wrong only for batch size 1 and a network whose dW2 alone is wrong."""
    assert L.check_mse(R["MSELoss"], points=2) == 2.0
    earned = M.check_regression(edit(reg_with(), dW2=lambda d: 2 * d["dW2"]), points=2)
    out = capsys.readouterr().out
    assert 0 < earned < 2 and "FAILED: " in out and "'dW2'" in out, out
    assert O.check_adam(R["Adam"], points=3) == 3.0
