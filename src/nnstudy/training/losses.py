"""The training losses and the L2 term over G stacked models, each value beside its gradient.

A loss maps logits z [G, B, K] and labels y [G, B] to each model's mean batch loss [G].
`value` is differentiable: the autograd path of `StackedModel` and evaluation use it.
`value_and_grad` gives the same numbers and dL/dz without building a graph, for the
hand-written pass of `nnstudy.training.dense`, through autograd's own kernels so that both
paths agree to the last bit where autograd runs the same kernels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

aten = torch.ops.aten

LAST_AXIS = -1  # the classes
UNWEIGHTED = None  # nll_loss's class weights: every class weighs 1
PER_SAMPLE = 0  # at::Reduction::None: ATen's loss kernels keep one loss per sample
IGNORE_NO_LABEL = -100  # nll_loss's ignore_index: torch's default, a label no data set has


class CrossEntropy:
    """L_g = -1/B sum_i log softmax(z_gi)[y_gi]; dL_g/dz_gi = (softmax(z_gi) - onehot(y_gi)) / B.

    Log-softmax is applied here: a model that ends in softmax applies it twice (the
    diagnostics flag it).
    """

    def __init__(self) -> None:
        self._seeds: dict[tuple, Tensor] = {}  # dL_g/d(per-sample loss), per batch shape

    @staticmethod
    def value(z: Tensor, y: Tensor) -> Tensor:
        G, B, K = z.shape
        loss = F.cross_entropy(z.reshape(G * B, K), y.reshape(G * B), reduction="none")
        return loss.view(G, B).mean(1)

    def value_and_grad(self, z: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        G, B, K = z.shape
        logp = torch.log_softmax(z, LAST_AXIS)
        flat_logp, flat_y = logp.view(G * B, K), y.reshape(G * B)
        per_sample, total = aten.nll_loss_forward(flat_logp, flat_y, UNWEIGHTED, PER_SAMPLE,
                                                  IGNORE_NO_LABEL)
        key = (G, B, z.dtype, z.device)
        seed = self._seeds.get(key)
        if seed is None:  # d(mean over the batch)/d(per-sample loss) = 1/B, as mean does
            seed = self._seeds[key] = torch.full((G * B,), 1.0, dtype=z.dtype,
                                                 device=z.device).div_(B)
        dlogp = aten.nll_loss_backward(seed, flat_logp, flat_y, UNWEIGHTED, PER_SAMPLE,
                                       IGNORE_NO_LABEL, total)
        dz = aten._log_softmax_backward_data(dlogp.view(G, B, K), logp, LAST_AXIS, z.dtype)
        return per_sample.view(G, B).mean(1), dz


class MeanSquaredError:
    """L_g = 1/(B K) sum_ik (z_gik - onehot(y_gi)_k)^2, as torch's MSELoss on one-hot
    targets; dL_g/dz_gik = 2 (z_gik - onehot(y_gi)_k) / (B K).

    Put a sigmoid at the end of the model for sigmoid outputs, as the reports do.
    """

    @staticmethod
    def value(z: Tensor, y: Tensor) -> Tensor:
        target = F.one_hot(y, z.shape[-1]).to(z.dtype)
        return ((z - target) ** 2).mean(dim=(1, 2))

    def value_and_grad(self, z: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        _, B, K = z.shape
        diff = z - F.one_hot(y, K).to(z.dtype)
        losses = (diff * diff).sum((1, 2)).div_(B * K)
        return losses, diff.mul_(2.0 / (B * K))


LOSSES: dict[str, type[CrossEntropy | MeanSquaredError]] = {
    "cross_entropy": CrossEntropy,
    "mse": MeanSquaredError,
}
"""The training losses by `train.loss` name."""


def loss_class(name: str) -> type[CrossEntropy | MeanSquaredError]:
    """The loss `name` names."""
    if name not in LOSSES:
        raise ValueError(f"loss: unknown {name!r}; one of {', '.join(LOSSES)}")
    return LOSSES[name]


REDUCTIONS = ("mean", "sum")
"""`train.loss_reduction`: the batch loss as a mean over the batch (torch's default), or as
a sum (report 001's C = -sum_k sum_l y_l^(k) log p_l^(k))."""


def reduction_scale(reduction: str, batch: int) -> float:
    """The factor from the batch mean to the training objective: 1 for "mean", B for "sum"
    (L_sum = B L_mean, so dL_sum/dtheta = B dL_mean/dtheta: the same direction, B times
    longer, and a learning rate tuned for one is B times too large or small for the
    other)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"loss_reduction: unknown {reduction!r}; one of {', '.join(REDUCTIONS)}")
    return float(batch) if reduction == "sum" else 1.0


def per_model_loss(name: str, logits: Tensor, y: Tensor) -> Tensor:
    """The mean loss of each model's batch, shape [G] (see `CrossEntropy`,
    `MeanSquaredError`)."""
    return loss_class(name).value(logits, y)


def correct_counts(logits: Tensor, y: Tensor) -> Tensor:
    """Number of correct argmax predictions per model, shape [G]."""
    return (logits.argmax(-1) == y).sum(-1)


def loss_sums(name: str, logits: Tensor, y: Tensor) -> Tensor:
    """Sum (not mean) of the per-sample loss of each model, shape [G], for evaluation."""
    return per_model_loss(name, logits, y.expand(logits.shape[:2])) * logits.shape[1]


def l2_penalty(params: dict[str, Tensor], names: Sequence[str], lam: Tensor) -> Tensor:
    """The reports' L2 term per model: lambda * sum over weights of ||W||^2 (biases are not
    penalized). Returns [G]; its gradient is `add_l2_gradient`'s 2 * lambda * W."""
    total = torch.zeros_like(lam)
    for name in names:
        w = params[name]
        total = total + (w * w).reshape(w.shape[0], -1).sum(1)
    return lam * total


def add_l2_gradient(grads: Sequence[Tensor], params: dict[str, Tensor], names: Sequence[str],
                    lam: Tensor) -> None:
    """Add the gradient of `l2_penalty`, 2 * lambda_g * W_g, to the gradients of the
    weights `names` (in place; `grads` is aligned with `params`)."""
    for name, grad in zip(params, grads, strict=True):
        if name in names:
            coef = (2 * lam).to(grad.dtype).view(-1, *([1] * (grad.dim() - 1)))
            grad.addcmul_(params[name].detach(), coef)
