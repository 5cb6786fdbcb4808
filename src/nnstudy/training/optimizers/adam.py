"""Adam, with AMSGrad and decoupled weight decay (AdamW), for G models at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import Tensor

from nnstudy.training.optimizers.base import (
    BatchedOptimizer,
    Coef,
    Hyper,
    addcdiv_scaled_,
    addcmul_scaled_,
    decayed_grad,
    highest,
    is_zero,
    lowest,
    sqrt_floor,
)


class BatchedAdam(BatchedOptimizer):
    """Adam: steps scaled by running averages of the gradient and of its square.

    Per model, at step t (from 1) with gradient g_t of the parameters p_{t-1}:

        p_{t-1} = p_{t-1} * (1 - lr * weight_decay)       (decoupled_weight_decay, AdamW)
        g_t = g_t + weight_decay * p_{t-1}                (otherwise, L2 in the gradient)
        m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2
        v_t' = max(v_{t-1}', v_t)   if amsgrad   else   v_t
        p_t = p_{t-1} - lr / (1 - beta1**t) * m_t / (sqrt(v_t') / sqrt(1 - beta2**t) + eps)

    computed as p_t = p_{t-1} - (lr * c2 / c1) * m_t / (sqrt(v_t') + eps * c2), with
    c1 = 1 - beta1**t and c2 = sqrt(1 - beta2**t): the same number, one pass fewer.
    This is torch.optim.Adam(lr, betas, eps, weight_decay, amsgrad,
    decoupled_weight_decay) step for step; decoupled_weight_decay=True is
    torch.optim.AdamW. The step count t is per model (a frozen model does not count).

    Papers: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015;
    AMSGrad: Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018;
    AdamW: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.

    Args:
        lr: learning rate (default 1e-3).
        betas: decay rates (beta1, beta2) of the two averages (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty in the gradient, or decoupled decay (default 0).
        amsgrad: use the running maximum of v (default False).
        decoupled_weight_decay: decay the weights directly, as AdamW (default False).
    """

    name: ClassVar[str] = "adam"
    hyper: ClassVar[dict[str, Hyper]] = {
        "lr": Hyper(1e-3),
        "betas": Hyper((0.9, 0.999), high=1.0, high_open=True),
        "eps": Hyper(1e-8),
        "weight_decay": Hyper(0.0),
        "amsgrad": Hyper(False),
        "decoupled_weight_decay": Hyper(False),
    }

    def _slots(self) -> tuple[str, ...]:
        amsgrad = ("max_exp_avg_sq",) if self._flag("amsgrad") else ()
        return ("exp_avg", "exp_avg_sq", *amsgrad)

    def _coupled_decay(self) -> bool:
        decay = bool((self._values["weight_decay"] != 0).any())
        return decay and not self._flag("decoupled_weight_decay")

    def _n_scratch(self) -> int:
        return 2 if self._coupled_decay() else 1

    def _constants(self, h: Mapping[str, float | Tensor]) -> dict[str, float | Tensor]:
        out = {
            "one_minus_beta1": 1.0 - h["beta1"],
            "beta2": h["beta2"],
            "one_minus_beta2": 1.0 - h["beta2"],
            "weight_decay": 0.0 if self._flag("decoupled_weight_decay") else h["weight_decay"],
        }
        if self._flag("decoupled_weight_decay") and not is_zero(h["weight_decay"]):
            out["decay"] = 1.0 - h["lr"] * h["weight_decay"]
        return out

    def _step_factors(self, h: Mapping[str, float | Tensor], step: float | Tensor,
                      ) -> dict[str, float | Tensor]:
        c1 = 1.0 - h["beta1"] ** step
        c2 = (1.0 - h["beta2"] ** step) ** 0.5
        return {"eps_hat": h["eps"] * c2, "step_size": -h["lr"] / c1 * c2}

    def _sqrt_scale(self, h: Mapping[str, float | Tensor]) -> float:
        return lowest(h["eps"]) * (1.0 - highest(h["beta2"])) ** 0.5

    def _update(self, p: Tensor, g: Tensor, s: dict[str, Tensor], tmp: list[Tensor],
                c: Mapping[str, Coef]) -> None:
        if "decay" in c:
            p.mul_(c["decay"])
        g = decayed_grad(g, p, c["weight_decay"], tmp[-1])
        m, v = s["exp_avg"], s["exp_avg_sq"]
        m.lerp_(g, c["one_minus_beta1"])
        addcmul_scaled_(v.mul_(c["beta2"]), g, g, c["one_minus_beta2"], tmp[0])
        if "max_exp_avg_sq" in s:
            v = torch.maximum(s["max_exp_avg_sq"], v, out=s["max_exp_avg_sq"])
        d = sqrt_floor(v, c["sqrt_floor"], tmp[0]).add_(c["eps_hat"])
        addcdiv_scaled_(p, m, d, c["step_size"])
