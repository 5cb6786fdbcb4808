"""Why a run failed: six checks on what training already computed.

| code | fires when |
|---|---|
| not_learning | after 3+ epochs the training loss is within 5% of ln K (chance level for K classes) |
| diverged | a batch loss became NaN, inf or 100x the untrained model's loss L0, or it passed 10x L0 and the epoch ended no better than untrained; the model was stopped there |
| double_softmax | the model ends in softmax and the loss is cross_entropy (which applies log-softmax again): the loss cannot fall below ln(1 + (K - 1)/e) |
| vanishing_gradients / exploding_gradients | the first layer's weight-gradient norm is < 1e-3 (> 1e3) times the last layer's |
| dead_relus | more than half the units of a ReLU layer never fire on a validation batch |
| overfitting | the validation loss rose 10% above its minimum while the training loss kept falling |

Each finding is a dict: `code`, `message` (what happened, with numbers), `suggestion`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from nnstudy.training.stacked import StackedModel

CHANCE_TOLERANCE = 0.05
GRADIENT_RATIO = 1e3
DEAD_FRACTION = 0.5
OVERFIT_RISE = 1.10


class Signals:
    """Measurements taken during training for the diagnostics, per model."""

    def __init__(self, G: int) -> None:
        self.G = G
        # weight name -> [G]: each model's gradient norms at the first batch of its last
        # epoch (set by `settle`); by epoch until then
        self.grad_norms: dict[str, Tensor] = {}
        self._grad_norms_of: dict[int, dict[str, Tensor]] = {}
        self.dead_fraction: dict[str, Tensor] = {}  # relu layer -> [G]

    @torch.no_grad()
    def observe_gradients(self, stacked: StackedModel, grads: tuple[Tensor, ...],
                          epoch: int) -> None:
        """Record the weight-gradient norms of the first batch of `epoch`."""
        weights = set(stacked.weight_names())
        self._grad_norms_of[epoch] = {
            name: grad.reshape(grad.shape[0], -1).norm(dim=1).double().cpu()
            for name, grad in zip(stacked.params, grads, strict=True) if name in weights}

    def settle(self, last_epochs: list[int]) -> None:
        """Keep, for model g, the norms of epoch `last_epochs[g]` (the last it trained)."""
        if not self._grad_norms_of:
            return
        names = next(iter(self._grad_norms_of.values())).keys()
        self.grad_norms = {name: torch.full((self.G,), math.nan, dtype=torch.float64)
                           for name in names}
        for g, epoch in enumerate(last_epochs):
            seen = [e for e in self._grad_norms_of if e <= epoch]
            if seen:
                for name, norms in self._grad_norms_of[max(seen)].items():
                    self.grad_norms[name][g] = norms[g]

    @torch.no_grad()
    def observe_dead_units(self, stacked: StackedModel, bundle, device, dtype) -> None:
        """Fraction of each ReLU layer's units that are zero for every sample of a batch."""
        if not stacked.explicit:
            return
        split = "valid" if len(bundle.valid) else "train"
        n = min(len(getattr(bundle, split)), 1000)
        if n == 0:
            return
        x = bundle.batch(split, torch.arange(n)).to(device, dtype)
        stacked.eval()
        stacked.record = {}
        try:
            stacked(x, shared=True)
            for name, act in stacked.record.items():
                fired = (act > 0).any(dim=1)  # [G, units]
                self.dead_fraction[name] = (~fired).double().mean(dim=1).cpu()
        finally:
            stacked.record = None
            stacked.train()


def _last_leaf(model: nn.Module) -> nn.Module | None:
    leaves = [m for m in model.modules() if not list(m.children())]
    return leaves[-1] if leaves else None


def softmax_floor(k: int) -> float:
    """The least cross-entropy reachable when log-softmax is applied to probabilities:
    inputs in [0, 1], best case one 1 and K-1 zeros: -log(e / (e + K - 1))."""
    return math.log(1 + (k - 1) / math.e)


def _series(history: list[dict[str, Any]], split: str, key: str) -> list[tuple[int, float]]:
    return [(r["epoch"], r[key]) for r in history if r["split"] == split]


def diagnose(g: int, spec, history: list[dict[str, Any]], signals: Signals,
             template: nn.Module, num_classes: int, diverged: bool) -> list[dict[str, Any]]:
    """The findings for model `g` of a group (see the module doc for the checks)."""
    found: list[dict[str, Any]] = []
    loss_name = spec.train.loss
    train = _series(history, "train", "loss")
    valid = _series(history, "valid", "loss")
    train_acc = _series(history, "train", "accuracy")
    k = num_classes

    if diverged:
        last = [v for _, v in train if math.isfinite(v)]
        found.append({
            "code": "diverged",
            "message": f"the loss exploded (NaN, inf, or far above the untrained loss) in epoch "
                       f"{train[-1][0] + 1 if train else 1}"
                       + (f" (last finite train loss {last[-1]:.4g})" if last else ""),
            "suggestion": f"lower the learning rate (lr {spec.train.lr:g} is too "
                          "large for this model), or normalize the inputs",
        })

    if isinstance(_last_leaf(template), nn.Softmax) and loss_name == "cross_entropy":
        floor = softmax_floor(k)
        final = train[-1][1] if train else float("nan")
        acc = train_acc[-1][1] if train_acc else float("nan")
        found.append({
            "code": "double_softmax",
            "message": f"the model ends in softmax and cross_entropy applies log-softmax "
                       f"again: the loss cannot fall below ln(1 + (K-1)/e) = {floor:.3f} "
                       f"(final train loss {final:.3f} at {acc:.1%} accuracy)",
            "suggestion": "remove the final softmax: cross_entropy takes the raw scores",
        })

    if loss_name == "cross_entropy" and len(train) >= 4 and not diverged:
        chance = math.log(k)
        final = train[-1][1]
        if abs(final - chance) <= CHANCE_TOLERANCE * chance:
            found.append({
                "code": "not_learning",
                "message": f"after {train[-1][0]} epochs the training loss is {final:.4f}, "
                           f"chance level ln({k}) = {chance:.4f}: the model learned nothing",
                "suggestion": "check the gradients (nnstudy check), use ReLU or a He/Xavier "
                              "init instead of tiny weights, or raise the learning rate",
            })

    norms = {n: float(v[g]) for n, v in signals.grad_norms.items()}
    if len(norms) >= 2:
        names = list(norms)
        first, last = norms[names[0]], norms[names[-1]]
        ratio = first / last if last > 0 else math.inf
        if ratio < 1 / GRADIENT_RATIO:
            found.append({
                "code": "vanishing_gradients",
                "message": f"the gradient norm of {names[0]} is {first:.2e}, {ratio:.1e} times "
                           f"that of {names[-1]} ({last:.2e}): early layers barely learn",
                "suggestion": "use ReLU instead of sigmoid/tanh, a He/Xavier init, fewer "
                              "layers, or batch normalization",
            })
        elif ratio > GRADIENT_RATIO:
            found.append({
                "code": "exploding_gradients",
                "message": f"the gradient norm of {names[0]} is {first:.2e}, {ratio:.1e} times "
                           f"that of {names[-1]} ({last:.2e})",
                "suggestion": "lower the learning rate, use a Xavier/He init, or normalize",
            })

    for layer, frac in signals.dead_fraction.items():
        f = float(frac[g])
        if f > DEAD_FRACTION:
            found.append({
                "code": "dead_relus",
                "message": f"{f:.0%} of the units of {layer} never fire on a validation batch",
                "suggestion": "lower the learning rate, use leaky_relu, or a He init",
            })

    if len(valid) >= 3 and not diverged:
        best_i = min(range(len(valid)), key=lambda i: valid[i][1])
        best_epoch, best_v = valid[best_i]
        rest = valid[best_i + 1:]
        train_at = dict(train)
        if rest and rest[-1][1] > OVERFIT_RISE * best_v and train_at.get(rest[-1][0], math.inf) \
                < train_at.get(best_epoch, -math.inf):
            found.append({
                "code": "overfitting",
                "message": f"validation loss rose from {best_v:.4f} (epoch {best_epoch}) to "
                           f"{rest[-1][1]:.4f} (epoch {rest[-1][0]}) while training loss fell; "
                           f"overfitting began after epoch {best_epoch}",
                "suggestion": "use early stopping (train.early_stopping), dropout, L2, or "
                              "more data; the best epoch's weights are kept",
            })
    return found


def signal_summary(g: int, signals: Signals) -> dict[str, Any]:
    """The measurements behind the diagnostics, for summary.json: each weight's gradient
    norm (first batch of the last epoch) and each ReLU layer's fraction of dead units."""
    return {
        "grad_norms": {n: float(v[g]) for n, v in signals.grad_norms.items()},
        "dead_relu_fraction": {n: float(v[g]) for n, v in signals.dead_fraction.items()},
    }
