"""The base of every layer of the reference engine: forward keeps a cache, backward uses it.

A layer holds its parameters in `params`, fills `grads` (same keys, same shapes) in
`backward`, and keeps non-trained state (batchnorm's running statistics) in `buffers`.
`forward(x)` returns y and stores in `cache` exactly what `backward(dy)` needs to return
dL/dx; nothing else travels between the two.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class Layer(ABC):
    """One layer: `y = forward(x)`, then `dx = backward(dy)` with dy = dL/dy."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, Any] = {}
        self.training = False
        self.cache: Any = None

    @abstractmethod
    def forward(self, x: np.ndarray) -> np.ndarray:
        """y = f(x); keeps in `self.cache` what backward needs."""

    @abstractmethod
    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dL/dx from dL/dy (and dL/dparam into `self.grads`)."""

    def extra_repr(self) -> str:
        """The layer's settings (kernel, stride, p, ...) for printing."""
        return ""

    def __repr__(self) -> str:
        parts = [f"{k}={'x'.join(map(str, v.shape))}" for k, v in self.params.items()]
        parts += [self.extra_repr()] if self.extra_repr() else []
        return f"{type(self).__name__}({', '.join(parts)})"
