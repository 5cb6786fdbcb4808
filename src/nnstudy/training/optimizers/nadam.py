"""NAdam: Adam with Nesterov momentum, for G models at once."""

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
    highest,
    is_zero,
    lowest,
    sqrt_floor,
)


class BatchedNAdam(BatchedOptimizer):
    """NAdam: Adam whose momentum looks one step ahead, with a warming momentum schedule.

    Per model, at step t (from 1) with gradient g_t of the parameters p_{t-1}:

        p_{t-1} = p_{t-1} * (1 - lr * weight_decay)       (decoupled_weight_decay)
        g_t = g_t + weight_decay * p_{t-1}                (otherwise, L2 in the gradient)
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        P_t = mu_1 * mu_2 * ... * mu_t
        m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2
        d_t = sqrt(v_t / (1 - beta2**t)) + eps
        p_t = p_{t-1} - lr * (1 - mu_t) / (1 - P_t) * g_t / d_t
                      - lr * mu_{t+1} / (1 - P_{t+1}) * m_t / d_t

    computed, as Adam's bias correction is, with c2 = sqrt(1 - beta2**t) folded into the
    two step sizes and eps: p_t = p_{t-1} + (a_g * g_t + a_m * m_t) / (sqrt(v_t) + eps * c2),
    a_g = -lr * (1 - mu_t) / (1 - P_t) * c2, a_m = -lr * mu_{t+1} / (1 - P_{t+1}) * c2.
    P_t is a function of the model's own step count (a frozen model does not count), so it
    is taken from a running product kept per (beta1, momentum_decay), in float64 (torch
    keeps it in a float32 tensor; the difference is below float32 rounding of the update).
    This is torch.optim.NAdam(lr, betas, eps, weight_decay, momentum_decay,
    decoupled_weight_decay) step for step.

    Papers: Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop;
    decoupled weight decay: Loshchilov & Hutter, ICLR 2019 (NAdamW).

    Args:
        lr: learning rate (default 2e-3).
        betas: decay rates (beta1, beta2) of the two averages (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty in the gradient, or decoupled decay (default 0).
        momentum_decay: psi, how fast mu_t warms up to beta1 (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW does (default False).
    """

    name: ClassVar[str] = "nadam"
    hyper: ClassVar[dict[str, Hyper]] = {
        "lr": Hyper(2e-3),
        "betas": Hyper((0.9, 0.999), high=1.0, high_open=True),
        "eps": Hyper(1e-8),
        "weight_decay": Hyper(0.0),
        "momentum_decay": Hyper(4e-3),
        "decoupled_weight_decay": Hyper(False),
    }

    def _slots(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def _init_state(self) -> None:
        # (beta1, momentum_decay) -> [P_0 = 1, P_1, P_2, ...], extended as steps go on
        self._mu_products: dict[tuple[float, float], list[float]] = {}

    def _n_scratch(self) -> int:
        decay = bool((self._values["weight_decay"] != 0).any())
        return 3 if decay and not self._flag("decoupled_weight_decay") else 2

    def _constants(self, h: Mapping[str, float | Tensor]) -> dict[str, float | Tensor]:
        decoupled = self._flag("decoupled_weight_decay")
        out = {
            "one_minus_beta1": 1.0 - h["beta1"],
            "beta2": h["beta2"],
            "one_minus_beta2": 1.0 - h["beta2"],
            "weight_decay": 0.0 if decoupled else h["weight_decay"],
        }
        if decoupled and not is_zero(h["weight_decay"]):
            out["decay"] = 1.0 - h["lr"] * h["weight_decay"]
        return out

    def _step_factors(self, h: Mapping[str, float | Tensor], step: float | Tensor,
                      ) -> dict[str, float | Tensor]:
        beta1, psi = h["beta1"], h["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1.0) * psi))
        product = self._mu_product(beta1, psi, step)
        product_next = product * mu_next
        c2 = (1.0 - h["beta2"] ** step) ** 0.5
        lr = h["lr"]
        return {"eps_hat": h["eps"] * c2,
                "grad_size": -lr * (1.0 - mu) / (1.0 - product) * c2,
                "avg_size": -lr * mu_next / (1.0 - product_next) * c2}

    def _mu_product(self, beta1: float | Tensor, psi: float | Tensor, step: float | Tensor,
                    ) -> float | Tensor:
        """P_t = mu_1 * ... * mu_t for each model: a float when every input is a float."""
        if isinstance(beta1, float) and isinstance(psi, float) and isinstance(step, float):
            return self._products(beta1, psi, int(step))
        n = max(len(x) for x in (beta1, psi, step) if isinstance(x, Tensor))
        b, q, t = (x.tolist() if isinstance(x, Tensor) else [x] * n for x in (beta1, psi, step))
        products = [self._products(bg, qg, int(tg)) for bg, qg, tg in zip(b, q, t, strict=True)]
        return torch.tensor(products, dtype=torch.float64)

    def _products(self, beta1: float, psi: float, t: int) -> float:
        """P_t for one (beta1, momentum_decay), from running products kept as they grow."""
        products = self._mu_products.setdefault((beta1, psi), [1.0])
        while len(products) <= t:
            i = len(products)
            products.append(products[-1] * (beta1 * (1.0 - 0.5 * 0.96 ** (i * psi))))
        return products[t]

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
        d = sqrt_floor(v, c["sqrt_floor"], tmp[0]).add_(c["eps_hat"])
        step = torch.mul(m, c["avg_size"], out=tmp[1])
        p.addcdiv_(add_scaled_(step, g, c["grad_size"]), d)
