"""Minimal reference layers in MyTorch's shape, used as FIXTURES by
tests/test_layers_catalogue.py.

They stand in for notebook 03's solution cells until that notebook exists;
then this module should load the source notebook's solution cells instead
(as tests/engines.py does for notebook 02 through course_lib.engine). They are
test code only: nothing here ships in course_lib.
"""
from __future__ import annotations

import math

import numpy as np


class Linear:
    def __init__(self, in_features, out_features):
        self.W = np.zeros((out_features, in_features))
        self.b = np.zeros((out_features, 1))

    def forward(self, A):
        self.A = A
        self.N = A.shape[0]
        self.Ones = np.ones((self.N, 1))
        return A @ self.W.T + self.Ones @ self.b.T

    def backward(self, dLdZ):
        self.dLdW = dLdZ.T @ self.A
        self.dLdb = dLdZ.T @ self.Ones
        return dLdZ @ self.W


class Sigmoid:
    def forward(self, Z):
        self.A = 1 / (1 + np.exp(-Z))
        return self.A

    def backward(self, dLdA):
        return dLdA * (self.A - self.A * self.A)


class Tanh:
    def forward(self, Z):
        self.A = np.tanh(Z)
        return self.A

    def backward(self, dLdA):
        return dLdA * (1 - self.A ** 2)


class ReLU:
    def forward(self, Z):
        self.A = np.maximum(0, Z)
        return self.A

    def backward(self, dLdA):
        return np.where(self.A > 0, dLdA, 0.0)


_erf = np.vectorize(math.erf)


class GELU:
    def forward(self, Z):
        self.Z = Z
        self.A = 0.5 * Z * (1 + _erf(Z / math.sqrt(2)))
        return self.A

    def backward(self, dLdA):
        Z = self.Z
        dAdZ = 0.5 * (1 + _erf(Z / math.sqrt(2))) + Z / math.sqrt(2 * math.pi) * np.exp(-Z * Z / 2)
        return dLdA * dAdZ


class Swish:
    def __init__(self, beta=1.0):
        self.beta = beta

    def forward(self, Z):
        self.Z = Z
        self.S = 1 / (1 + np.exp(-self.beta * Z))
        self.A = Z * self.S
        return self.A

    def backward(self, dLdA):
        Z, S, beta = self.Z, self.S, self.beta
        self.dLdbeta = np.sum(dLdA * Z * Z * S * (1 - S))
        return dLdA * (S + beta * Z * S * (1 - S))


class Softmax:
    def forward(self, Z):
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = E / E.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        N, C = self.A.shape
        dLdZ = np.zeros((N, C))
        for i in range(N):
            a = self.A[i]
            J = np.diag(a) - np.outer(a, a)
            dLdZ[i] = dLdA[i] @ J
        return dLdZ


class SGD:
    def __init__(self, model, lr=0.1, momentum=0):
        self.l = model.layers
        self.L = len(model.layers)
        self.lr = lr
        self.mu = momentum
        self.v_W = [np.zeros(layer.W.shape) for layer in self.l]
        self.v_b = [np.zeros(layer.b.shape) for layer in self.l]

    def step(self):
        for i in range(self.L):
            if self.mu == 0:
                self.l[i].W = self.l[i].W - self.lr * self.l[i].dLdW
                self.l[i].b = self.l[i].b - self.lr * self.l[i].dLdb
            else:
                self.v_W[i] = self.mu * self.v_W[i] + self.l[i].dLdW
                self.v_b[i] = self.mu * self.v_b[i] + self.l[i].dLdb
                self.l[i].W = self.l[i].W - self.lr * self.v_W[i]
                self.l[i].b = self.l[i].b - self.lr * self.v_b[i]


class BatchNorm1d:
    def __init__(self, num_features, alpha=0.9):
        self.alpha = alpha
        self.eps = 1e-8
        self.BW = np.ones((1, num_features))
        self.Bb = np.zeros((1, num_features))
        self.dLdBW = np.zeros((1, num_features))
        self.dLdBb = np.zeros((1, num_features))
        self.running_M = np.zeros((1, num_features))
        self.running_V = np.ones((1, num_features))

    def forward(self, Z, eval=False):
        self.Z = Z
        self.N = Z.shape[0]
        if eval:
            NZ = (Z - self.running_M) / np.sqrt(self.running_V + self.eps)
            return self.BW * NZ + self.Bb
        self.M = Z.mean(axis=0, keepdims=True)
        self.V = Z.var(axis=0, keepdims=True)
        self.NZ = (Z - self.M) / np.sqrt(self.V + self.eps)
        self.BZ = self.BW * self.NZ + self.Bb
        self.running_M = self.alpha * self.running_M + (1 - self.alpha) * self.M
        self.running_V = self.alpha * self.running_V + (1 - self.alpha) * self.V
        return self.BZ

    def backward(self, dLdBZ):
        self.dLdBW = np.sum(dLdBZ * self.NZ, axis=0, keepdims=True)
        self.dLdBb = np.sum(dLdBZ, axis=0, keepdims=True)
        dLdNZ = dLdBZ * self.BW
        diff = self.Z - self.M
        dLdV = -0.5 * np.sum(dLdNZ * diff * (self.V + self.eps) ** -1.5, axis=0, keepdims=True)
        dNZdM = -(self.V + self.eps) ** -0.5 - 0.5 * diff * (self.V + self.eps) ** -1.5 * (
            -2 / self.N * np.sum(diff, axis=0, keepdims=True))
        dLdM = np.sum(dLdNZ * dNZdM, axis=0, keepdims=True)
        return dLdNZ * (self.V + self.eps) ** -0.5 + dLdV * (2 / self.N * diff) + dLdM / self.N


class Model:
    """MyTorch's model pattern: layers in a list, forward in order, backward in reverse."""

    def __init__(self, layers):
        self.layers = layers

    def forward(self, A):
        for layer in self.layers:
            A = layer.forward(A)
        return A

    def backward(self, dLdA):
        for layer in reversed(self.layers):
            dLdA = layer.backward(dLdA)
        return dLdA


def mlp4():
    """A 4-hidden-layer MLP of the handout's kind (sizes chosen here)."""
    sizes = [2, 4, 8, 8, 4, 2]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [Linear(a, b), ReLU() if i < len(sizes) - 2 else Sigmoid()]
    return Model(layers)
