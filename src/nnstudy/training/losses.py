"""Per-model losses over stacked logits [G, B, K] and labels [G, B]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def per_model_loss(name: str, logits: Tensor, y: Tensor) -> Tensor:
    """The mean loss of each model's batch, shape [G].

    - cross_entropy: -mean_i log softmax(z_i)[y_i] (log-softmax applied here: a model that
      ends in softmax applies it twice, see diagnostics);
    - mse: mean_i sum_k (z_ik - onehot(y_i)_k)^2 / K, as torch's MSELoss on one-hot targets
      (put a sigmoid at the end of the model for sigmoid outputs, as the reports do).
    """
    G, B, K = logits.shape
    if name == "cross_entropy":
        loss = F.cross_entropy(logits.reshape(G * B, K), y.reshape(G * B), reduction="none")
        return loss.view(G, B).mean(1)
    target = F.one_hot(y, K).to(logits.dtype)
    return ((logits - target) ** 2).mean(dim=(1, 2))


def correct_counts(logits: Tensor, y: Tensor) -> Tensor:
    """Number of correct argmax predictions per model, shape [G]."""
    return (logits.argmax(-1) == y).sum(-1)


def loss_sums(name: str, logits: Tensor, y: Tensor) -> Tensor:
    """Sum (not mean) of the per-sample loss of each model, shape [G], for evaluation."""
    return per_model_loss(name, logits, y.expand(logits.shape[:2])) * logits.shape[1]


def l2_penalty(params: dict[str, Tensor], names: list[str], lam: Tensor) -> Tensor:
    """The reports' L2 term per model: lambda * sum over weights of ||W||^2 (gradient
    2 * lambda * W); biases are not penalized. Returns [G]."""
    total = torch.zeros_like(lam)
    for name in names:
        w = params[name]
        total = total + (w * w).reshape(w.shape[0], -1).sum(1)
    return lam * total
