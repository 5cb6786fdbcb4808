"""RMSprop, plain or centered, with optional momentum, for G models at once."""

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
    addcdiv_scaled_,
    addcmul_scaled_,
    decayed_grad,
    lowest,
    sqrt_floor,
)


class BatchedRMSprop(BatchedOptimizer):
    """RMSprop: steps divided by a running root mean square of the gradient.

    Per model, with gradient g_t of the parameters p_{t-1}:

        g_t = g_t + weight_decay * p_{t-1}                   (if weight_decay != 0)
        s_t = alpha * s_{t-1} + (1 - alpha) * g_t**2
        a_t = alpha * a_{t-1} + (1 - alpha) * g_t            (centered)
        r_t = sqrt(s_t - a_t**2) + eps   if centered   else   sqrt(s_t) + eps
        b_t = momentum * b_{t-1} + g_t / r_t,   p_t = p_{t-1} - lr * b_t     (momentum > 0)
        p_t = p_{t-1} - lr * g_t / r_t                                      (momentum = 0)

    This is torch.optim.RMSprop(lr, alpha, eps, weight_decay, momentum, centered) step
    for step, except that a centered variance s_t - a_t**2 that rounding makes negative
    is taken as 0 (torch gives NaN there).

    Papers: Hinton, Srivastava & Swersky, "Neural Networks for Machine Learning",
    lecture 6e, 2012; centered: Graves, "Generating Sequences With Recurrent Neural
    Networks", arXiv:1308.0850, 2013.

    Args:
        lr: learning rate (default 1e-2).
        alpha: decay rate of the averages (default 0.99).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0).
        momentum: momentum factor (default 0).
        centered: divide by the estimated standard deviation instead (default False).
    """

    name: ClassVar[str] = "rmsprop"
    hyper: ClassVar[dict[str, Hyper]] = {
        "lr": Hyper(1e-2),
        "alpha": Hyper(0.99, high=1.0),
        "eps": Hyper(1e-8),
        "weight_decay": Hyper(0.0),
        "momentum": Hyper(0.0),
        "centered": Hyper(False),
    }

    def _slots(self) -> tuple[str, ...]:
        momentum = ("momentum_buffer",) if bool((self._values["momentum"] != 0).any()) else ()
        centered = ("grad_avg",) if self._flag("centered") else ()
        return ("square_avg", *momentum, *centered)

    def _n_scratch(self) -> int:
        return 2 if bool((self._values["weight_decay"] != 0).any()) else 1

    def _constants(self, h: Mapping[str, float | Tensor]) -> dict[str, float | Tensor]:
        return {"alpha": h["alpha"], "one_minus_alpha": 1.0 - h["alpha"], "eps": h["eps"],
                "momentum": h["momentum"], "weight_decay": h["weight_decay"],
                "neg_lr": -h["lr"]}

    def _sqrt_scale(self, h: Mapping[str, float | Tensor]) -> float:
        return lowest(h["eps"])

    def _update(self, p: Tensor, g: Tensor, s: dict[str, Tensor], tmp: list[Tensor],
                c: Mapping[str, Coef]) -> None:
        g = decayed_grad(g, p, c["weight_decay"], tmp[-1])
        sq = s["square_avg"]
        addcmul_scaled_(sq.mul_(c["alpha"]), g, g, c["one_minus_alpha"], tmp[0])
        if "grad_avg" in s:
            ga = s["grad_avg"].lerp_(g, c["one_minus_alpha"])
            var = torch.addcmul(sq, ga, ga, value=-1, out=tmp[0])
            d = var.clamp_min_(c["sqrt_floor"]).sqrt_()
        else:
            d = sqrt_floor(sq, c["sqrt_floor"], tmp[0])
        d.add_(c["eps"])
        if "momentum_buffer" in s:
            buf = s["momentum_buffer"].mul_(c["momentum"]).addcdiv_(g, d)
            add_scaled_(p, buf, c["neg_lr"])
        else:
            addcdiv_scaled_(p, g, d, c["neg_lr"])
