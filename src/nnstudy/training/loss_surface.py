"""The training loss over two chosen weights, every other weight held at its value: a grid of
losses for a contour plot, and gradient-descent paths over those two weights alone (report
001, Figures 6 and 7: how momentum changes the path down a narrow valley).

A weight is named by its parameter and index, as `model.named_parameters()` and indexing
write it: `fc1.weight[3,7]` is row 3, column 7 of the weight of layer `fc1`.

The grid is computed batched: the loss at a pair (a, b) is a function of the two numbers,

    L(a, b) = loss(f(x; theta with theta[w1] = a, theta[w2] = b), y),

and `torch.func.vmap` evaluates it for many pairs in one forward pass (in chunks, so that
memory stays bounded), rather than one pass per grid point.

The model is evaluated in eval mode (dropout off, batch norm on its running statistics), so
the loss is a deterministic function of the two weights.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn
from torch.func import functional_call, vmap

from nnstudy.errors import ConfigError

Loss = Callable[[Tensor, Tensor], Tensor]

_NAME = re.compile(r"^\s*([\w.]+)\s*\[\s*(-?\d+(?:\s*,\s*-?\d+)*)\s*\]\s*$")


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy, -mean_i log softmax(logits_i)[y_i]: F.cross_entropy's value,
    written with log_softmax and gather because under vmap F.cross_entropy goes through a
    decomposition whose first use imports sympy (seconds)."""
    return -logits.log_softmax(dim=-1).gather(-1, y.unsqueeze(-1)).mean()


@dataclass(frozen=True)
class WeightRef:
    """One scalar weight: the parameter's name and the index into it."""

    param: str
    index: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.param}[{','.join(map(str, self.index))}]"


def parse_weight_name(model: nn.Module, name: str) -> WeightRef:
    """`fc1.weight[3,7]` -> WeightRef('fc1.weight', (3, 7)), checked against the model:
    the parameter exists, the index has one number per dimension, each within its size.

    Raises ConfigError naming what is wrong and listing the model's parameters with their
    shapes."""
    shapes = {k: tuple(v.shape) for k, v in model.named_parameters()}
    listing = ", ".join(f"{k} {list(s)}" for k, s in shapes.items()) or "none"
    match = _NAME.match(name) if isinstance(name, str) else None
    if match is None:
        raise ConfigError(f"weight {name!r}: write a parameter and an index, as "
                          f"'fc1.weight[3,7]'; the parameters are {listing}")
    param, index = match.group(1), tuple(int(i) for i in match.group(2).split(","))
    if param not in shapes:
        raise ConfigError(f"weight {name!r}: the model has no parameter {param!r}; it has "
                          f"{listing}")
    shape = shapes[param]
    if len(index) != len(shape):
        raise ConfigError(f"weight {name!r}: {param} has {len(shape)} dimension(s) "
                          f"{list(shape)}, the index gives {len(index)}")
    for dim, (i, size) in enumerate(zip(index, shape, strict=True)):
        if not 0 <= i < size:
            raise ConfigError(f"weight {name!r}: index {i} is out of range for dimension "
                              f"{dim} of {param} (size {size}: 0..{size - 1})")
    return WeightRef(param, index)


def weight_value(model: nn.Module, ref: WeightRef | str) -> float:
    """The current value of one named weight."""
    ref = parse_weight_name(model, ref) if isinstance(ref, str) else ref
    return float(dict(model.named_parameters())[ref.param].detach()[ref.index])


def _pair(model: nn.Module, weights: Sequence[WeightRef | str]) -> tuple[WeightRef, WeightRef]:
    if len(weights) != 2:
        raise ConfigError(f"weights: give exactly two, got {len(weights)}")
    first, second = (parse_weight_name(model, w) if isinstance(w, str) else w for w in weights)
    if first == second:
        raise ConfigError(f"weights: both are {first}; choose two different weights")
    return first, second


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def _loss_of_pair(model: nn.Module, x: Tensor, y: Tensor, refs: tuple[WeightRef, WeightRef],
                  loss: Loss) -> Callable[[Tensor, Tensor], Tensor]:
    """L(a, b): the loss with the two weights set to a and b, the rest as they are. The
    weights go in with torch.where (not in place), so the function composes with vmap and
    grad, and a and b are taken exactly."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    masks = []
    for ref in refs:
        mask = torch.zeros_like(params[ref.param], dtype=torch.bool)
        mask[ref.index] = True
        masks.append(mask)

    def loss_at(a: Tensor, b: Tensor) -> Tensor:
        current = dict(params)
        for ref, mask, value in zip(refs, masks, (a, b), strict=True):
            current[ref.param] = torch.where(mask, value, current[ref.param])
        return loss(functional_call(model, (current, buffers), (x,)), y)

    return loss_at


def _on_model(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, torch.dtype]:
    first = next(model.parameters())
    return x.to(first.device), y.to(first.device), first.dtype


def loss_grid(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    weights: Sequence[WeightRef | str],
    xs: ArrayLike,
    ys: ArrayLike,
    *,
    loss: Loss = cross_entropy,
    chunk_size: int = 256,
) -> np.ndarray:
    """Z[i, j] = L(xs[j], ys[i]): the loss on the batch (x, y) with the first weight at
    xs[j] and the second at ys[i], every other weight held. Shape [len(ys), len(xs)], the
    layout matplotlib's `contour(xs, ys, Z)` takes.

    Args:
        weights: two names (`fc1.weight[3,7]`) or WeightRefs.
        xs, ys: the values to try for the first and the second weight.
        loss: (logits, y) -> scalar; cross-entropy by default.
        chunk_size: grid points per forward pass (memory grows as chunk x batch x widest
            layer).
    """
    refs = _pair(model, weights)
    x, y, dtype = _on_model(model, x, y)
    grid_x = torch.as_tensor(np.asarray(xs, dtype=float), dtype=dtype, device=x.device)
    grid_y = torch.as_tensor(np.asarray(ys, dtype=float), dtype=dtype, device=x.device)
    if grid_x.ndim != 1 or grid_y.ndim != 1 or not len(grid_x) or not len(grid_y):
        raise ConfigError(f"loss grid: xs and ys must be non-empty 1-D, got shapes "
                          f"{list(grid_x.shape)} and {list(grid_y.shape)}")
    b, a = torch.meshgrid(grid_y, grid_x, indexing="ij")
    with _evaluating(model), torch.no_grad():
        loss_at = _loss_of_pair(model, x, y, refs, loss)
        values = vmap(loss_at, chunk_size=chunk_size)(a.reshape(-1), b.reshape(-1))
    return values.reshape(len(grid_y), len(grid_x)).cpu().numpy().astype(float)


@dataclass
class DescentPath:
    """Gradient descent over two weights: `points` [n, 2] (the start first) and the loss at
    each, `losses` [n]. Fewer than steps + 1 points when the loss stopped being finite."""

    label: str
    lr: float
    momentum: float
    points: np.ndarray
    losses: np.ndarray


def descent_path(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    weights: Sequence[WeightRef | str],
    *,
    lr: float,
    momentum: float = 0.0,
    steps: int = 100,
    start: Sequence[float] | None = None,
    loss: Loss = cross_entropy,
) -> DescentPath:
    """Full-batch gradient descent on the two weights alone, the others held, with heavy-ball
    momentum as torch.optim.SGD does it (no dampening):

        g_t = dL/d(a, b) at w_t
        v_t = m * v_{t-1} + g_t      (v_0 = g_0)
        w_{t+1} = w_t - lr * v_t

    The same path as report 001's `dW = m * dW - lr * g; W += dW` for a fixed lr (there v is
    -lr times ours). Starts at `start` (default: the weights' current values), and stops
    early if the loss turns NaN or infinite. The label reads `momentum 0.8`.
    """
    if lr <= 0 or steps < 0 or not 0 <= momentum < 1:
        raise ConfigError(f"descent path: lr must be > 0 (got {lr}), momentum in [0, 1) "
                          f"(got {momentum}), steps >= 0 (got {steps})")
    refs = _pair(model, weights)
    x, y, dtype = _on_model(model, x, y)
    begin = [weight_value(model, r) for r in refs] if start is None else list(start)
    if len(begin) != 2:
        raise ConfigError(f"descent path: start must be two numbers, got {begin}")
    w = torch.tensor(begin, dtype=dtype, device=x.device)
    points, losses = [w.clone()], []
    velocity = torch.zeros_like(w)
    with _evaluating(model):
        loss_at = _loss_of_pair(model, x, y, refs, loss)
        for _ in range(steps + 1):
            # Plain autograd rather than torch.func.grad: the same gradient, without the
            # seconds torch.func.grad spends setting itself up on its first call.
            a, b = (w[0].clone().requires_grad_(), w[1].clone().requires_grad_())
            value = loss_at(a, b)
            losses.append(float(value.detach()))
            if len(points) == steps + 1 or not torch.isfinite(value):
                break
            g = torch.stack(torch.autograd.grad(value, (a, b)))
            velocity = momentum * velocity + g
            w = w - lr * velocity
            points.append(w.clone())
    path = torch.stack(points).cpu().numpy().astype(float)
    values = np.asarray(losses, dtype=float)
    if not np.isfinite(values[-1]):
        path, values = path[: len(values) - 1], values[:-1]
    return DescentPath(label=f"momentum {momentum:g}", lr=lr, momentum=momentum,
                       points=path, losses=values)


def grid_around(points: ArrayLike, n: int = 60, margin: float = 0.25
                ) -> tuple[np.ndarray, np.ndarray]:
    """xs, ys covering the given [k, 2] points (the paths, the trained values), each span
    widened by `margin` of itself on both sides: a grid that shows every path whole."""
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    p = p[np.isfinite(p).all(axis=1)]
    if not len(p):
        raise ConfigError("grid: no finite point to centre it on")
    lo, hi = p.min(axis=0), p.max(axis=0)
    span = np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
    lo, hi = lo - margin * span, hi + margin * span
    return np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
