"""Layers that torch.nn lacks and the specs need."""

from __future__ import annotations

import torch
from torch import nn


class LinearActivation(nn.Module):
    """The "linear" activation of the reports: y = a * x + c, element-wise.

    Stacking affine layers with this activation between them computes one affine map
    (see `nnstudy.analysis.collapse`): depth adds no expressiveness.

    Args:
        a: slope (default 1.0).
        c: offset (default 0.0).
    """

    def __init__(self, a: float = 1.0, c: float = 0.0) -> None:
        super().__init__()
        self.a = float(a)
        self.c = float(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.a + self.c

    def extra_repr(self) -> str:
        return f"a={self.a}, c={self.c}"
