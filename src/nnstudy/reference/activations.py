"""Activations: each forward, what it caches, and the derivative that backward multiplies by."""

from __future__ import annotations

import math

import numpy as np

from nnstudy.reference.layer import Layer


class Identity(Layer):
    """y = x; dx = dy."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy


class LinearActivation(Layer):
    """y = a x + c (the reports' "linear" activation); dx = a dy."""

    def __init__(self, a: float = 1.0, c: float = 0.0) -> None:
        super().__init__()
        self.a, self.c = a, c

    def extra_repr(self) -> str:
        return f"a={self.a}, c={self.c}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.a * x + self.c

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return self.a * dy


class Sigmoid(Layer):
    """y = 1 / (1 + e^-x); dy/dx = y (1 - y)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = np.exp(-np.logaddexp(0.0, -x))
        self.cache = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self.cache
        return dy * y * (1.0 - y)


class Tanh(Layer):
    """y = tanh(x); dy/dx = 1 - y^2."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = np.tanh(x)
        self.cache = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * (1.0 - self.cache**2)


class ReLU(Layer):
    """y = max(x, 0); dy/dx = 1 where x > 0, else 0 (also at x = 0, as torch)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.cache = x > 0
        return np.where(self.cache, x, 0.0).astype(x.dtype)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * self.cache


class LeakyReLU(Layer):
    """y = x where x > 0, else slope x; dy/dx = 1 or slope."""

    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        self.slope = slope

    def extra_repr(self) -> str:
        return f"slope={self.slope}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.cache = x > 0
        return np.where(self.cache, x, self.slope * x)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * np.where(self.cache, 1.0, self.slope)


class ELU(Layer):
    """y = x where x > 0, else alpha (e^x - 1); dy/dx = 1 or alpha e^x."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        expm1 = np.expm1(np.minimum(x, 0.0))
        self.cache = (x > 0, expm1)
        return np.where(x > 0, x, self.alpha * expm1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        positive, expm1 = self.cache
        return dy * np.where(positive, 1.0, self.alpha * (expm1 + 1.0))


_erf = np.frompyfunc(math.erf, 1, 1)


class GELU(Layer):
    """y = x Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2; dy/dx = Phi(x) + x phi(x).

    With approximate="tanh": y = x (1 + tanh u) / 2, u = sqrt(2/pi) (x + 0.044715 x^3),
    dy/dx = (1 + tanh u) / 2 + x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2.
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.cache = x
        if self.approximate == "tanh":
            t = np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
            return 0.5 * x * (1.0 + t)
        phi_cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2)).astype(x.dtype))
        return x * phi_cdf

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x = self.cache
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = np.tanh(k * (x + 0.044715 * x**3))
            return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t**2) * k * (1.0 + 3 * 0.044715 * x**2))
        phi_cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2)).astype(x.dtype))
        phi_pdf = np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
        return dy * (phi_cdf + x * phi_pdf)


class SiLU(Layer):
    """y = x s with s = sigmoid(x) = 1 / (1 + e^-x) (also called swish);
    dy/dx = s + x s (1 - s) = s (1 + x (1 - s))."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        s = np.exp(-np.logaddexp(0.0, -x))
        self.cache = (x, s)
        return x * s

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x, s = self.cache
        return dy * s * (1.0 + x * (1.0 - s))


class Softmax(Layer):
    """y_i = e^{x_i} / sum_j e^{x_j} along `dim`; dx = y * (dy - sum_j dy_j y_j)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=self.dim, keepdims=True))
        y = e / e.sum(axis=self.dim, keepdims=True)
        self.cache = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self.cache
        return y * (dy - (dy * y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Layer):
    """y_i = x_i - log sum_j e^{x_j} along `dim`; dx = dy - e^y sum_j dy_j."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        m = x.max(axis=self.dim, keepdims=True)
        y = x - m - np.log(np.exp(x - m).sum(axis=self.dim, keepdims=True))
        self.cache = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy - np.exp(self.cache) * dy.sum(axis=self.dim, keepdims=True)
