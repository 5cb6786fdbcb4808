"""Adadelta for G models at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import Tensor

from nnstudy.training.optimizers.base import (
    BatchedOptimizer,
    Coef,
    Hyper,
    add_scaled_,
    addcmul_scaled_,
    decayed_grad,
)


class BatchedAdadelta(BatchedOptimizer):
    """Adadelta: steps sized by the ratio of running RMS of updates and of gradients.

    Per model, with gradient g_t of the parameters p_{t-1}:

        g_t = g_t + weight_decay * p_{t-1}                   (if weight_decay != 0)
        s_t = rho * s_{t-1} + (1 - rho) * g_t**2
        d_t = sqrt(u_{t-1} + eps) / sqrt(s_t + eps) * g_t
        u_t = rho * u_{t-1} + (1 - rho) * d_t**2
        p_t = p_{t-1} - lr * d_t

    This is torch.optim.Adadelta(lr, rho, eps, weight_decay) step for step (torch adds
    the factor lr, 1.0 by default, to the paper's rule). eps sits inside both square
    roots, so their inputs are never zero.

    Paper: Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.

    Args:
        lr: factor on the update (default 1.0).
        rho: decay rate of the averages (default 0.9).
        eps: added inside the square roots (default 1e-6).
        weight_decay: L2 penalty added to the gradient (default 0).
    """

    name: ClassVar[str] = "adadelta"
    hyper: ClassVar[dict[str, Hyper]] = {
        "lr": Hyper(1.0),
        "rho": Hyper(0.9, high=1.0),
        "eps": Hyper(1e-6),
        "weight_decay": Hyper(0.0),
    }

    def _slots(self) -> tuple[str, ...]:
        return ("square_avg", "acc_delta")

    def _n_scratch(self) -> int:
        return 3 if bool((self._values["weight_decay"] != 0).any()) else 2

    def _constants(self, h: Mapping[str, float | Tensor]) -> dict[str, float | Tensor]:
        return {"rho": h["rho"], "one_minus_rho": 1.0 - h["rho"], "eps": h["eps"],
                "weight_decay": h["weight_decay"], "neg_lr": -h["lr"]}

    def _update(self, p: Tensor, g: Tensor, s: dict[str, Tensor], tmp: list[Tensor],
                c: Mapping[str, Coef]) -> None:
        g = decayed_grad(g, p, c["weight_decay"], tmp[-1])
        sq, acc = s["square_avg"], s["acc_delta"]
        addcmul_scaled_(sq.mul_(c["rho"]), g, g, c["one_minus_rho"], tmp[0])
        # sqrt(u + eps) / sqrt(s + eps) as one square root of the ratio: one pass and one
        # sqrt fewer over every parameter (the same number to rounding)
        denom = torch.add(sq, c["eps"], out=tmp[0])
        delta = torch.add(acc, c["eps"], out=tmp[1]).div_(denom).sqrt_().mul_(g)
        addcmul_scaled_(acc.mul_(c["rho"]), delta, delta, c["one_minus_rho"], tmp[0])
        add_scaled_(p, delta, c["neg_lr"])
