"""Hold every dropout mask of a torch model fixed, so that its loss is one function."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def fixed_dropout(model: nn.Module, seed: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Within the block, each nn.Dropout in training mode computes y = x * m / (1 - p) with
    a mask m drawn once (per input shape) from `seed`; yields {module name: mask}.

    A gradient check evaluates the loss many times; with a new mask on every call the
    differences would measure the noise, not the gradient. The masks also let the
    reference engine replay the same function.
    """
    masks: dict[str, torch.Tensor] = {}
    patched: list[nn.Module] = []
    for i, (name, module) in enumerate(model.named_modules()):
        if type(module) is not nn.Dropout or not module.training or module.p == 0.0:
            continue
        gen = torch.Generator().manual_seed(seed * 1_000_003 + i)

        def forward(x: torch.Tensor, name: str = name, p: float = module.p,
                    gen: torch.Generator = gen) -> torch.Tensor:
            mask = masks.get(name)
            if mask is None or mask.shape != x.shape:
                mask = torch.rand(x.shape, generator=gen, dtype=torch.float64) >= p
                masks[name] = mask
            return x * mask.to(x.dtype) / (1.0 - p)

        module.forward = forward
        patched.append(module)
    try:
        yield masks
    finally:
        for module in patched:
            del module.forward
