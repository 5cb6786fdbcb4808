"""Adagrad for G models at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from torch import Tensor

from nnstudy.training.optimizers.base import (
    BatchedOptimizer,
    Coef,
    Hyper,
    addcdiv_scaled_,
    decayed_grad,
    is_zero,
    lowest,
    sqrt_floor,
)


class BatchedAdagrad(BatchedOptimizer):
    """Adagrad: steps divided by the root of the sum of all squared gradients so far.

    Per model, at step t (from 1) with gradient g_t of the parameters p_{t-1}:

        g_t = g_t + weight_decay * p_{t-1}                   (if weight_decay != 0)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s_t = s_{t-1} + g_t**2,    s_0 = initial_accumulator_value
        p_t = p_{t-1} - lr_t * g_t / (sqrt(s_t) + eps)

    This is torch.optim.Adagrad(lr, lr_decay, weight_decay, initial_accumulator_value,
    eps) step for step. The step count t is per model (a frozen model does not count).

    Paper: Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization", JMLR 12, 2011.

    Args:
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay per step (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        initial_accumulator_value: starting value of the sum s (default 0).
        eps: added to the denominator (default 1e-10).
    """

    name: ClassVar[str] = "adagrad"
    hyper: ClassVar[dict[str, Hyper]] = {
        "lr": Hyper(1e-2),
        "lr_decay": Hyper(0.0),
        "weight_decay": Hyper(0.0),
        "initial_accumulator_value": Hyper(0.0),
        "eps": Hyper(1e-10),
    }

    def _slots(self) -> tuple[str, ...]:
        return ("sum",)

    def _init_state(self) -> None:
        start = self._values["initial_accumulator_value"]
        for t in self.state["sum"]:
            t.add_(start.to(t).view(-1, *([1] * (t.dim() - 1))))

    def _n_scratch(self) -> int:
        return 2 if bool((self._values["weight_decay"] != 0).any()) else 1

    def _constants(self, h: Mapping[str, float | Tensor]) -> dict[str, float | Tensor]:
        out = {"eps": h["eps"], "weight_decay": h["weight_decay"]}
        if is_zero(h["lr_decay"]):
            out["neg_lr"] = -h["lr"]
        return out

    def _step_factors(self, h: Mapping[str, float | Tensor], step: float | Tensor,
                      ) -> dict[str, float | Tensor]:
        if is_zero(h["lr_decay"]):
            return {}
        return {"neg_lr": -h["lr"] / (1.0 + (step - 1.0) * h["lr_decay"])}

    def _sqrt_scale(self, h: Mapping[str, float | Tensor]) -> float:
        return lowest(h["eps"])

    def _update(self, p: Tensor, g: Tensor, s: dict[str, Tensor], tmp: list[Tensor],
                c: Mapping[str, Coef]) -> None:
        g = decayed_grad(g, p, c["weight_decay"], tmp[-1])
        acc = s["sum"].addcmul_(g, g, value=1.0)
        d = sqrt_floor(acc, c["sqrt_floor"], tmp[0]).add_(c["eps"])
        addcdiv_scaled_(p, g, d, c["neg_lr"])
