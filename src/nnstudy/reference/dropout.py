"""Dropout with a mask that can be given, so that a run can be replayed exactly."""

from __future__ import annotations

import numpy as np

from nnstudy.reference.layer import Layer


class Dropout(Layer):
    """In training: y = x * m / (1 - p) with m_i ~ Bernoulli(1 - p); in eval: y = x.

    Backward: dx = dy * m / (1 - p). Set `mask` to fix m (to replay torch's mask, or to
    hold it fixed in a gradient check); otherwise each forward draws one from `rng`.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.mask: np.ndarray | None = None

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0.0:
            self.cache = None
            return x
        keep = self.mask if self.mask is not None else self.rng.random(x.shape) >= self.p
        self.cache = (keep / (1.0 - self.p)).astype(x.dtype)
        return x * self.cache

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy if self.cache is None else dy * self.cache
