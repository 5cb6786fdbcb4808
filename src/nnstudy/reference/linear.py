"""Linear (fully connected) layer."""

from __future__ import annotations

import numpy as np

from nnstudy.reference.layer import Layer


class Linear(Layer):
    """y = x W^T + b over the last axis of x; W is (out, in), b is (out,).

    Backward, with the rows of x and dy stacked: dW = dy^T x, db = sum_n dy_n, dx = dy W.
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None = None) -> None:
        super().__init__()
        self.params["weight"] = weight
        if bias is not None:
            self.params["bias"] = bias

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.cache = x
        y = x @ self.params["weight"].T
        return y + self.params["bias"] if "bias" in self.params else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x = self.cache
        rows_x, rows_dy = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
        self.grads["weight"] = rows_dy.T @ rows_x
        if "bias" in self.params:
            self.grads["bias"] = rows_dy.sum(axis=0)
        return dy @ self.params["weight"]
