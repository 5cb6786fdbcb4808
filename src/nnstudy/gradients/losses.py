"""The losses a gradient check can differentiate, by name, for torch models."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from nnstudy.errors import ConfigError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

TORCH_LOSSES: dict[str, LossFn] = {
    "cross_entropy": F.cross_entropy,  # mean over the batch of -log softmax(out)[target]
    "nll": F.nll_loss,  # the output is already log-probabilities
    "mse": F.mse_loss,  # mean of (out - target)^2 over every entry
}


def torch_loss(loss: str | LossFn) -> LossFn:
    """The loss function `loss` names, or `loss` itself when it is a callable."""
    if callable(loss):
        return loss
    if loss not in TORCH_LOSSES:
        raise ConfigError(f"loss: {loss!r} is not one of {', '.join(TORCH_LOSSES)}")
    return TORCH_LOSSES[loss]


def random_targets(loss: str | LossFn, output: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
    """Targets that fit `output`: class indices for cross_entropy and nll, else values."""
    torch_loss(loss)
    if loss in ("cross_entropy", "nll"):
        return torch.randint(0, output.shape[1], (output.shape[0],), generator=generator)
    return torch.randn(output.shape, generator=generator, dtype=output.dtype)
