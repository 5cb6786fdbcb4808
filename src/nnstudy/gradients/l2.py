"""The L2 term of a training objective, lambda Σ_W ||W||^2, as a gradient check adds it.

The weights are those the trainer penalizes (`nnstudy.models.layers.decayed_names`: each
layer kind says which of its parameters are weights; biases and batch-norm scales are not), so that
`nnstudy check` differentiates the objective `nnstudy train` minimizes.
"""

from __future__ import annotations

import torch
from torch import nn


def penalized_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """The parameters of `model` that `train.l2` penalizes, by name."""
    from nnstudy.models.layers import decayed_names

    names = set(decayed_names(model))
    return {name: p for name, p in model.named_parameters() if name in names}


def l2_term(weights: dict[str, nn.Parameter], lam: float) -> torch.Tensor:
    """lambda Σ_W ||W||^2 (squared Frobenius norms); its gradient is 2 lambda W."""
    return lam * sum((w * w).sum() for w in weights.values())
