"""Initial weights: torch's default, Xavier/Glorot, He/Kaiming, or small random values.

Applied to the weights of linear and conv layers; biases are set to zero for every scheme
but `default` (torch's own uniform bias init).

- xavier/glorot (Glorot & Bengio 2010): Var(W) = 2 / (fan_in + fan_out)
- he/kaiming (He et al. 2015): Var(W) = 2 / fan_in (ReLU gain)
- normal: W ~ N(0, init_scale^2), as report 002 does with std 1e-4;
- uniform: W ~ U(-init_scale, init_scale)
"""

from __future__ import annotations

import torch
from torch import nn


def apply_init(model: nn.Module, scheme: str, scale: float = 0.01) -> nn.Module:
    """Re-initialize `model`'s linear and conv weights in place with `scheme`."""
    if scheme == "default":
        return model
    scheme = scheme.replace("glorot", "xavier").replace("he_", "kaiming_")
    for module in model.modules():
        if not isinstance(module, nn.Linear | nn.Conv2d):
            continue
        w = module.weight
        with torch.no_grad():
            if scheme == "xavier_normal":
                nn.init.xavier_normal_(w)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(w)
            elif scheme == "kaiming_normal":
                nn.init.kaiming_normal_(w, nonlinearity="relu")
            elif scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(w, nonlinearity="relu")
            elif scheme == "normal":
                nn.init.normal_(w, 0.0, scale)
            elif scheme == "uniform":
                nn.init.uniform_(w, -scale, scale)
            else:
                raise ValueError(f"unknown init scheme {scheme!r}")
            if module.bias is not None:
                module.bias.zero_()
    return model
