"""Minibatch gradient descent (plain and with momentum) on the reference engine.

What reports 001 and 002 do by hand in NumPy, with every number visible. Given the same
initial weights (read with `from_torch`) and the same order of examples per epoch, it
follows the torch engine's curve to float tolerance. `MinibatchGD` is one step (the
gradient, then the update); `train_numpy` runs epochs of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from nnstudy.errors import ConfigError
from nnstudy.reference.dropout import Dropout
from nnstudy.reference.losses import get_loss, l2_penalty
from nnstudy.reference.network import Network

OPTIMIZERS = ("sgd", "momentum")
REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class EpochMetrics:
    """One row of metrics.csv: epoch (from 1), split (train or valid), loss, accuracy."""

    epoch: int
    split: str
    loss: float
    accuracy: float | None


def _accuracy(out: np.ndarray, y: np.ndarray) -> float | None:
    """Share of argmax(out) == y when y holds labels; None for regression targets."""
    if y.ndim != 1 or out.ndim != 2 or not np.issubdtype(y.dtype, np.integer):
        return None
    return float((out.argmax(axis=1) == y).mean())


def _targets(out: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """For mse on labels: one-hot rows, as the torch engine's MSE on one-hot targets."""
    if loss == "mse" and y.ndim == 1 and out.ndim == 2 and np.issubdtype(y.dtype, np.integer):
        return np.eye(out.shape[1], dtype=out.dtype)[y]
    return y


def _check(epochs: int, lr: float, batch_size: int, n: int,
           permutations: Sequence[np.ndarray] | None) -> None:
    for key, value in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)):
        if not value > 0:
            raise ConfigError(f"{key}: must be > 0, got {value!r}")
    if permutations is not None:
        if len(permutations) < epochs:
            raise ConfigError(f"permutations: {len(permutations)} given for {epochs} epochs")
        for e, perm in enumerate(permutations[:epochs]):
            if sorted(np.asarray(perm).tolist()) != list(range(n)):
                raise ConfigError(f"permutations[{e}]: not a permutation of 0..{n - 1}")


def evaluate(network: Network, x: np.ndarray, y: np.ndarray, loss: str = "cross_entropy",
             batch_size: int = 1024) -> tuple[float, float | None]:
    """Mean loss and accuracy of `network` in eval mode over (x, y)."""
    network.eval()
    loss_fn = get_loss(loss)
    total, correct, n = 0.0, 0.0, len(x)
    acc: float | None = None
    for start in range(0, n, batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        out = network.forward(xb)
        total += loss_fn(out, _targets(out, yb, loss))[0] * len(xb)
        acc = _accuracy(out, yb)
        correct += 0.0 if acc is None else acc * len(xb)
    return total / n, (None if acc is None else correct / n)


@dataclass(frozen=True)
class BatchGradient:
    """What one minibatch gives before the update: the loss of the batch in the chosen
    reduction, the L2 term lambda sum ||W||^2 at the same weights (0 without L2), the
    network's output, and dObjective/dtheta by parameter name."""

    loss: float
    penalty: float
    out: np.ndarray
    grads: dict[str, np.ndarray]


class MinibatchGD:
    """Gradient descent on `network`'s parameters, one minibatch at a time.

    For a minibatch B, with W the weights `decayed` (default: the parameters with 2 or more
    axes, i.e. weight matrices and kernels; biases are not penalized):
        L_B = mean over B of the per-example loss     (reduction "mean")
        L_B = sum over B                              (reduction "sum", report 001's C)
        g = dL_B/dtheta + 2 lambda W                  (lambda = l2)
        sgd:      theta <- theta - lr g
        momentum: v <- mu v + g, theta <- theta - lr v   (torch.optim.SGD's form)
    With loss="mse" and labels as targets, the target rows are one-hot (as the torch
    engine's).
    """

    def __init__(self, network: Network, *, optimizer: str = "sgd", momentum: float = 0.9,
                 l2: float = 0.0, loss: str = "cross_entropy", reduction: str = "mean",
                 decayed: Iterable[str] | None = None) -> None:
        if optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer: {optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if reduction not in REDUCTIONS:
            raise ConfigError(f"loss_reduction: {reduction!r} is not one of "
                              f"{', '.join(REDUCTIONS)}")
        self.network, self.optimizer, self.momentum = network, optimizer, momentum
        self.l2, self.loss, self.reduction = l2, loss, reduction
        self.loss_fn = get_loss(loss)
        self.params = network.params()
        self.decayed = (set(decayed) if decayed is not None else
                        {k for k, v in self.params.items() if v.ndim >= 2})
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}

    def gradient(self, xb: np.ndarray, yb: np.ndarray) -> BatchGradient:
        """Forward and backward on the batch (in training mode): its loss and gradient."""
        self.network.train()
        out = self.network.forward(xb)
        value, dout = self.loss_fn(out, _targets(out, yb, self.loss))
        if self.reduction == "sum":  # L_sum = B L_mean
            value, dout = value * len(xb), dout * len(xb)
        self.network.backward(dout)
        grads = self.network.grads()
        penalty = 0.0
        if self.l2:
            penalty, extra = l2_penalty({k: self.params[k] for k in self.decayed}, self.l2)
            grads = {k: g + extra[k] if k in extra else g for k, g in grads.items()}
        return BatchGradient(float(value), penalty, out, grads)

    def update(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """One step of size `lr` along `grads` (in place on the network's parameters)."""
        for k, g in grads.items():
            if self.optimizer == "momentum":
                self.velocity[k] = self.momentum * self.velocity[k] + g
                g = self.velocity[k]
            self.params[k] -= lr * g


def train_numpy(
    network: Network,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    l2: float = 0.0,
    loss: str = "cross_entropy",
    loss_reduction: str = "mean",
    permutations: Sequence[np.ndarray] | None = None,
    seed: int = 0,
    x_valid: np.ndarray | None = None,
    y_valid: np.ndarray | None = None,
    lr_factor: Callable[[int], float] | None = None,
    train_metrics: str = "running",
    on_epoch: Callable[[list[EpochMetrics]], None] | None = None,
) -> list[EpochMetrics]:
    """Train `network` in place by minibatch gradient descent (`MinibatchGD`); return
    per-epoch metrics.

    Each epoch takes the minibatches in the order of its permutation (the last one may be
    smaller): `permutations[e]` orders the examples of epoch e (pass the torch engine's to
    replay its run); without it each epoch draws one from numpy's default_rng(seed).
    Dropout masks come from the same generator. `lr_factor(e)` scales lr in epoch e (from
    0), as a schedule does. The train row holds the data loss (no L2 term) as a mean per
    example, whatever `loss_reduction`, and the accuracy: with train_metrics="running"
    the means over the epoch's minibatches (each before its update), with "eval" an
    eval-mode pass over the training set after the epoch. The valid row is an eval-mode
    pass after the epoch.
    """
    n = len(x_train)
    _check(epochs, lr, batch_size, n, permutations)
    if train_metrics not in ("running", "eval"):
        raise ConfigError(f"train_metrics: {train_metrics!r} is not one of running, eval")
    gd = MinibatchGD(network, optimizer=optimizer, momentum=momentum, l2=l2, loss=loss,
                     reduction=loss_reduction)
    rng = np.random.default_rng(seed)
    for _, layer in network.layers:
        if isinstance(layer, Dropout):
            layer.rng = rng
    history: list[EpochMetrics] = []
    for epoch in range(1, epochs + 1):
        order = np.asarray(permutations[epoch - 1]) if permutations is not None else (
            rng.permutation(n))
        step = lr * (lr_factor(epoch - 1) if lr_factor is not None else 1.0)
        total, correct, acc = 0.0, 0.0, None
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            batch = gd.gradient(x_train[idx], y_train[idx])
            per_example = batch.loss / len(idx) if loss_reduction == "sum" else batch.loss
            total += per_example * len(idx)
            acc = _accuracy(batch.out, y_train[idx])
            correct += 0.0 if acc is None else acc * len(idx)
            gd.update(batch.grads, step)
        if train_metrics == "eval":
            rows = [EpochMetrics(epoch, "train", *evaluate(network, x_train, y_train, loss))]
        else:
            rows = [EpochMetrics(epoch, "train", total / n, None if acc is None else correct / n)]
        if x_valid is not None and y_valid is not None:
            rows.append(EpochMetrics(epoch, "valid", *evaluate(network, x_valid, y_valid, loss)))
        history += rows
        if on_epoch is not None:
            on_epoch(rows)
    return history
