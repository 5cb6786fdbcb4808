"""Losses and the L2 term: each returns its value and its gradient, derived by hand."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nnstudy.errors import ConfigError


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """L = -(1/N) sum_n log p[n, y_n] with p = softmax(logits); dL/dlogits = (p - Y) / N.

    Softmax and cross-entropy fused: the gradient needs no division by p (Y is one-hot).
    """
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = -log_p[rows, labels].mean()
    grad = np.exp(log_p)
    grad[rows, labels] -= 1.0
    return float(loss), grad / n


def nll(log_probs: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """L = -(1/N) sum_n logp[n, y_n] on log-probabilities; dL/dlogp = -Y / N."""
    n = log_probs.shape[0]
    rows = np.arange(n)
    grad = np.zeros_like(log_probs)
    grad[rows, labels] = -1.0 / n
    return float(-log_probs[rows, labels].mean()), grad


def mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """L = (1/M) sum (pred - target)^2 over all M entries; dL/dpred = 2 (pred - target) / M."""
    diff = pred - target
    return float((diff**2).mean()), 2.0 * diff / diff.size


def l2_penalty(weights: Mapping[str, np.ndarray], lam: float
               ) -> tuple[float, dict[str, np.ndarray]]:
    """L = lambda sum_W ||W||^2 (squared Frobenius norms); dL/dW = 2 lambda W."""
    value = lam * sum(float((w**2).sum()) for w in weights.values())
    return value, {name: 2.0 * lam * w for name, w in weights.items()}


LOSSES = {"cross_entropy": softmax_cross_entropy, "nll": nll, "mse": mse}


def get_loss(name: str):
    """The loss function called `name` (one of LOSSES); a ConfigError names the choices."""
    if name not in LOSSES:
        raise ConfigError(f"loss: {name!r} is not one of {', '.join(LOSSES)}")
    return LOSSES[name]
