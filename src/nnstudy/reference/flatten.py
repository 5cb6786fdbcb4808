"""Flatten: a reshape forward, the inverse reshape backward."""

from __future__ import annotations

import numpy as np

from nnstudy.reference.layer import Layer


class Flatten(Layer):
    """y = x reshaped so that axes start_dim..end_dim become one; dx = dy reshaped back."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.cache = x.shape
        start = self.start_dim % x.ndim
        end = self.end_dim % x.ndim
        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1 :])

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self.cache)
