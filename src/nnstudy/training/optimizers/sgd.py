"""Stochastic gradient descent, with momentum or Nesterov momentum, for G models at once.

Three names share this update: `sgd` (all options), `momentum` (momentum 0.9 by
default) and `nesterov` (Nesterov momentum, 0.9 by default, no dampening).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import Tensor

from nnstudy.training.optimizers.base import (
    BatchedOptimizer,
    Coef,
    Hyper,
    HyperparameterError,
    add_scaled_,
    decayed_grad,
    is_zero,
    lowest,
)


def _where_zero(x: float | Tensor, if_zero: float, other: float | Tensor) -> float | Tensor:
    """`if_zero` where x == 0, else `other`; a float when both inputs are floats."""
    if isinstance(x, float) and isinstance(other, float):
        return if_zero if x == 0.0 else other
    return torch.where(torch.as_tensor(x) == 0, if_zero, torch.as_tensor(other))


def _sum_scaled(x: Tensor, y: Tensor, a: Coef, out: Tensor) -> Tensor:
    """out = x + a * y in one pass (out may be x or y)."""
    if isinstance(a, float):
        return torch.add(x, y, alpha=a, out=out)
    return torch.addcmul(x, y, a, out=out)


class BatchedSGD(BatchedOptimizer):
    """SGD with optional momentum, dampening, Nesterov momentum and weight decay.

    Per model, with gradient g_t of the parameters p_{t-1}:

        g_t = g_t + weight_decay * p_{t-1}                       (if weight_decay != 0)
        b_t = g_t                                                (first step)
        b_t = momentum * b_{t-1} + (1 - dampening) * g_t         (later steps)
        d_t = g_t + momentum * b_t   if nesterov   else   b_t    (if momentum != 0)
        d_t = g_t                                                (if momentum == 0)
        p_t = p_{t-1} - lr * d_t

    This is torch.optim.SGD(lr, momentum, dampening, weight_decay, nesterov) step for
    step. Nesterov momentum in this form is Sutskever et al., "On the importance of
    initialization and momentum in deep learning", ICML 2013; momentum (heavy ball) is
    Polyak, 1964; SGD is Robbins & Monro, 1951.

    Args:
        lr: learning rate (default 0.1, the reports' setting; torch.optim.SGD's is 1e-3).
        momentum: momentum factor (default 0; 0.9 for `momentum` and `nesterov`).
        dampening: dampening of the momentum (default 0; not with nesterov).
        weight_decay: L2 penalty added to the gradient (default 0).
        nesterov: Nesterov momentum (default False; needs momentum > 0 and dampening 0).
    """

    name: ClassVar[str] = "sgd"
    hyper: ClassVar[dict[str, Hyper]] = {
        "lr": Hyper(0.1),
        "momentum": Hyper(0.0),
        "dampening": Hyper(0.0, high=1.0),
        "weight_decay": Hyper(0.0),
        "nesterov": Hyper(False),
    }

    def _slots(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if bool((self._values["momentum"] != 0).any()) else ()

    def _n_scratch(self) -> int:
        return int(self._flag("nesterov") or bool((self._values["weight_decay"] != 0).any()))

    def _check(self, h: Mapping[str, float | Tensor]) -> None:
        if self._flag("nesterov") and (lowest(h["momentum"]) <= 0 or not is_zero(h["dampening"])):
            raise HyperparameterError(
                "nesterov", f"Nesterov momentum needs momentum > 0 and dampening 0 for every "
                            f"model (got momentum {h['momentum']!r}, dampening "
                            f"{h['dampening']!r})")

    def _constants(self, h: Mapping[str, float | Tensor]) -> dict[str, float | Tensor]:
        out = {"neg_lr": -h["lr"], "momentum": h["momentum"], "weight_decay": h["weight_decay"]}
        if is_zero(h["dampening"]):
            out["damp"] = 1.0
        return out

    def _step_factors(self, h: Mapping[str, float | Tensor], step: float | Tensor,
                      ) -> dict[str, float | Tensor]:
        if is_zero(h["dampening"]):
            return {}
        # torch's first step copies the gradient into the buffer, undamped; without
        # momentum it ignores dampening altogether.
        later = _where_zero(h["momentum"], 1.0, 1.0 - h["dampening"])
        if isinstance(step, float):
            return {"damp": 1.0 if step == 1.0 else later}
        return {"damp": torch.where(step == 1.0, 1.0, torch.as_tensor(later))}

    def _update(self, p: Tensor, g: Tensor, s: dict[str, Tensor], tmp: list[Tensor],
                c: Mapping[str, Coef]) -> None:
        g = decayed_grad(g, p, c["weight_decay"], tmp[0] if tmp else None)
        if "momentum_buffer" in s:
            buf, momentum, damp = s["momentum_buffer"], c["momentum"], c["damp"]
            if isinstance(damp, float) and damp == 1.0:
                _sum_scaled(g, buf, momentum, out=buf)
            else:
                add_scaled_(buf.mul_(momentum), g, damp)
            g = _sum_scaled(g, buf, momentum, out=tmp[0]) if self._flag("nesterov") else buf
        add_scaled_(p, g, c["neg_lr"])


class BatchedMomentum(BatchedSGD):
    """SGD with (heavy-ball) momentum 0.9 by default: `BatchedSGD` without nesterov.

    Args:
        lr: learning rate (default 0.01).
        momentum: momentum factor (default 0.9).
        dampening: dampening of the momentum (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
    """

    name: ClassVar[str] = "momentum"
    hyper: ClassVar[dict[str, Hyper]] = {
        "lr": Hyper(0.01),
        "momentum": Hyper(0.9),
        "dampening": Hyper(0.0, high=1.0),
        "weight_decay": Hyper(0.0),
    }
    fixed: ClassVar[dict[str, float | bool]] = {"nesterov": False}


class BatchedNesterov(BatchedSGD):
    """SGD with Nesterov momentum 0.9 by default: `BatchedSGD` with nesterov=True.

    Args:
        lr: learning rate (default 0.01).
        momentum: momentum factor (default 0.9; must be > 0).
        weight_decay: L2 penalty added to the gradient (default 0).
    """

    name: ClassVar[str] = "nesterov"
    hyper: ClassVar[dict[str, Hyper]] = {
        "lr": Hyper(0.01),
        "momentum": Hyper(0.9),
        "weight_decay": Hyper(0.0),
    }
    fixed: ClassVar[dict[str, float | bool]] = {"nesterov": True, "dampening": 0.0}
