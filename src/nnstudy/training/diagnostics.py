"""Why a run failed: checks on what training already computed, each naming the cause that
its signals support, or saying that they cannot tell.

| code | fires when |
|---|---|
| nonfinite_inputs | the untrained model's loss is NaN or inf and the training inputs hold NaN or inf values (nothing else is reported: every other signal is noise then) |
| nonfinite_start | the untrained model's loss is NaN or inf while the inputs are finite: the initial weights or the loss, not the learning rate |
| one_class | the training split holds a single class (nothing else is reported: loss and accuracy say nothing) |
| diverged | a batch loss became NaN, inf or 100x the untrained model's loss L0, or it passed 10x L0 and the epoch ended no better than untrained; the model was stopped there |
| double_softmax | the model ends in softmax and the loss is cross_entropy (which applies log-softmax again): the loss cannot fall below ln(1 + (K - 1)/e) |
| not_learning | after 3+ epochs the training loss is within 5% of ln K (chance level for K classes) and the training accuracy is under 2/K (a model whose scores are squeezed near uniform, by a strong L2 or a final softmax, can sit near ln K while it classifies well); the suggestion follows the evidence: a loss that rose above L0 means too high a learning rate, a loss that never moved with tiny or zero gradients means too small a start, otherwise the signals cannot tell |
| no_gradient | every weight gradient is exactly zero while the loss is not: nothing can change (with the dead layer that blocks it, where one is) |
| vanishing_gradients / exploding_gradients | the first layer's weight-gradient norm is < 1e-3 (> 1e3) times the last layer's, both non-zero and finite |
| dead_relus | more than half the units of a ReLU layer never fire on a validation batch |
| overfitting | the validation loss rose 10% above its minimum while the training loss kept falling |

Each finding is a dict: `code`, `message` (what happened, with numbers), `suggestion`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from nnstudy.training.stacked import StackedModel

CHANCE_TOLERANCE = 0.05
# Chance-level accuracy is 1/K; a model that learned nothing stays under twice that.
CHANCE_ACCURACY = 2.0
GRADIENT_RATIO = 1e3
DEAD_FRACTION = 0.5
OVERFIT_RISE = 1.10
# The loss "rose" when an epoch ends this far above the untrained model's loss, and
# "never moved" while every epoch stays this close to it (relative).
ROSE = 1.01
FLAT = 1e-3
# Weight-gradient norms below this are "tiny": a step of lr <= 1 moves the weights by less
# than a thousandth.
TINY_GRADIENT = 1e-3
# Non-finite inputs are counted over at most this many training samples.
INPUT_CHECK_SAMPLES = 10_000


class Signals:
    """Measurements taken during training for the diagnostics, per model."""

    def __init__(self, G: int) -> None:
        self.G = G
        # weight name -> [G]: each model's gradient norms at the first batch of its last
        # epoch (set by `settle`); by epoch until then
        self.grad_norms: dict[str, Tensor] = {}
        self._grad_norms_of: dict[int, dict[str, Tensor]] = {}
        self.dead_fraction: dict[str, Tensor] = {}  # relu layer -> [G]
        self.nonfinite_inputs: int | None = None    # None: not counted (the start was finite)
        self.classes_present: int | None = None     # distinct labels in the training split

    @torch.no_grad()
    def observe_gradients(self, stacked: StackedModel, grads: tuple[Tensor, ...],
                          epoch: int) -> None:
        """Record the weight-gradient norms of the first batch of `epoch`."""
        weights = set(stacked.weight_names())
        self.record_gradient_norms(epoch, {
            name: grad.reshape(grad.shape[0], -1).norm(dim=1).double().cpu()
            for name, grad in zip(stacked.params, grads, strict=True) if name in weights})

    def record_gradient_norms(self, epoch: int, norms: dict[str, Tensor]) -> None:
        """Record each weight's gradient norm [G] at the first batch of `epoch` (in the
        order of the model's parameters: the first and the last are compared)."""
        self._grad_norms_of[epoch] = norms

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
    def observe_data(self, bundle, start_finite: bool) -> None:
        """Count the training split's classes, and, when some model's untrained loss was
        not finite (`start_finite` False), its non-finite input values (the cause to rule
        in or out before blaming the learning rate)."""
        self.classes_present = int(torch.unique(bundle.train.y).numel())
        if start_finite:
            return
        n = min(len(bundle.train), INPUT_CHECK_SAMPLES)
        bad = 0
        for start in range(0, n, 1024):
            x = bundle.batch("train", torch.arange(start, min(start + 1024, n)))
            if x.dtype.is_floating_point:
                bad += int((~torch.isfinite(x)).sum())
        self.nonfinite_inputs = bad

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


@dataclass(frozen=True)
class Evidence:
    """What one model's diagnosis reads: its curves and the group's signals for it."""

    lr: float
    loss: str
    init: str
    init_scale: float
    num_classes: int
    ends_in_softmax: bool
    diverged: bool
    train: list[tuple[int, float]]        # (epoch, loss), epoch 0 = untrained
    train_accuracy: list[tuple[int, float]]
    valid: list[tuple[int, float]]
    grad_norms: dict[str, float]           # weight -> norm, first batch of the last epoch
    dead_fraction: dict[str, float]        # relu layer -> fraction of units never firing
    nonfinite_inputs: int | None
    classes_present: int | None

    @property
    def start(self) -> float:
        """The untrained model's training loss L0."""
        return self.train[0][1] if self.train else math.nan

    @property
    def rose(self) -> bool:
        """Some epoch ended with a training loss above L0 (by more than 1%)."""
        return math.isfinite(self.start) and any(
            v > ROSE * self.start for e, v in self.train if e > 0 and math.isfinite(v))

    @property
    def flat(self) -> bool:
        """Every epoch's training loss stayed within 0.1% of L0."""
        return math.isfinite(self.start) and all(
            abs(v - self.start) <= FLAT * self.start for _, v in self.train)

    def dead_layers(self, at_least: float = 0.9) -> list[str]:
        return [name for name, f in self.dead_fraction.items() if f >= at_least]


def evidence(g: int, spec, history: list[dict[str, Any]], signals: Signals,
             template: nn.Module, num_classes: int, diverged: bool) -> Evidence:
    """The evidence for model `g` of a group."""
    t = spec.train
    return Evidence(
        lr=float(t.lr), loss=t.loss, init=t.init, init_scale=float(t.init_scale),
        num_classes=num_classes,
        ends_in_softmax=isinstance(_last_leaf(template), nn.Softmax),
        diverged=diverged,
        train=_series(history, "train", "loss"),
        train_accuracy=_series(history, "train", "accuracy"),
        valid=_series(history, "valid", "loss"),
        grad_norms={n: float(v[g]) for n, v in signals.grad_norms.items()},
        dead_fraction={n: float(v[g]) for n, v in signals.dead_fraction.items()},
        nonfinite_inputs=signals.nonfinite_inputs,
        classes_present=signals.classes_present,
    )


def diagnose(g: int, spec, history: list[dict[str, Any]], signals: Signals,
             template: nn.Module, num_classes: int, diverged: bool) -> list[dict[str, Any]]:
    """The findings for model `g` of a group (see the module doc for the checks)."""
    return findings(evidence(g, spec, history, signals, template, num_classes, diverged))


def findings(ev: Evidence) -> list[dict[str, Any]]:
    """The findings the evidence supports, most basic cause first. A cause that makes
    every other signal meaningless (non-finite inputs, a single class) is reported alone."""
    for check in (_nonfinite_start, _one_class):
        found = check(ev)
        if found is not None:
            return [found]
    out = []
    for check in (_diverged, _double_softmax, _not_learning, _gradient_flow, _dead_relus,
                  _overfitting):
        found = check(ev)
        if found is not None:
            out.append(found)
    return out


def _finding(code: str, message: str, suggestion: str) -> dict[str, Any]:
    return {"code": code, "message": message, "suggestion": suggestion}


def _nonfinite_start(ev: Evidence) -> dict[str, Any] | None:
    if math.isfinite(ev.start) or not ev.train:
        return None
    if ev.nonfinite_inputs:
        return _finding(
            "nonfinite_inputs",
            f"the training inputs hold {ev.nonfinite_inputs:,} NaN or inf values, so the loss "
            f"is {ev.start} before any training step",
            "clean the data (or the transform that made them: normalize of a constant "
            "channel divides by zero); the learning rate is not the cause")
    return _finding(
        "nonfinite_start",
        f"the untrained model's loss is already {ev.start} while the inputs are finite: "
        "the initial weights or the loss overflow, before any training step",
        f"check the init (init {ev.init}, init_scale {ev.init_scale:g}) and the scale of "
        "the inputs (normalize them); the learning rate is not the cause")


def _one_class(ev: Evidence) -> dict[str, Any] | None:
    if ev.classes_present != 1:
        return None
    return _finding(
        "one_class",
        "the training split holds a single class: every prediction can be that class, so "
        "loss, accuracy and gradients say nothing about learning",
        "check the labels and the data block (data.classes, the npz `y` array): "
        "classification needs two or more classes")


def _diverged(ev: Evidence) -> dict[str, Any] | None:
    if not ev.diverged:
        return None
    last = [v for _, v in ev.train if math.isfinite(v)]
    return _finding(
        "diverged",
        f"the loss exploded (NaN, inf, or far above the untrained loss) in epoch "
        f"{ev.train[-1][0] + 1 if ev.train else 1}"
        + (f" (last finite train loss {last[-1]:.4g})" if last else ""),
        f"lower the learning rate (lr {ev.lr:g} is too large for this model), or "
        "normalize the inputs")


def _double_softmax(ev: Evidence) -> dict[str, Any] | None:
    if not (ev.ends_in_softmax and ev.loss == "cross_entropy"):
        return None
    floor = softmax_floor(ev.num_classes)
    final = ev.train[-1][1] if ev.train else math.nan
    acc = ev.train_accuracy[-1][1] if ev.train_accuracy else math.nan
    return _finding(
        "double_softmax",
        f"the model ends in softmax and cross_entropy applies log-softmax again: the loss "
        f"cannot fall below ln(1 + (K-1)/e) = {floor:.3f} (final train loss {final:.3f} at "
        f"{acc:.1%} accuracy)",
        "remove the final softmax: cross_entropy takes the raw scores")


def _not_learning(ev: Evidence) -> dict[str, Any] | None:
    if ev.loss != "cross_entropy" or len(ev.train) < 4 or ev.diverged or ev.num_classes < 2:
        return None
    chance = math.log(ev.num_classes)
    final = ev.train[-1][1]
    if not abs(final - chance) <= CHANCE_TOLERANCE * chance:
        return None
    # The loss alone is not enough: near-uniform probabilities (002's L2 0.12) can still
    # put the right class on top, at 90% accuracy and a loss of 2.2.
    accuracy = ev.train_accuracy[-1][1] if ev.train_accuracy else math.nan
    if math.isfinite(accuracy) and accuracy >= CHANCE_ACCURACY / ev.num_classes:
        return None
    message = (f"after {ev.train[-1][0]} epochs the training loss is {final:.4f}, chance "
               f"level ln({ev.num_classes}) = {chance:.4f}: the model learned nothing")
    dead = ev.dead_layers()
    norms = [v for v in ev.grad_norms.values() if math.isfinite(v)]
    if ev.rose:
        peak = max(v for _, v in ev.train if math.isfinite(v))
        why = f"; the loss rose above the untrained model's ({ev.start:.4f} -> {peak:.4f})"
        if dead:
            why += f" and every unit of {', '.join(dead)} died"
        return _finding(
            "not_learning", message + why,
            f"lower the learning rate: lr {ev.lr:g} overshoots (try {ev.lr / 10:g})")
    if ev.flat:
        if dead:
            cause = f"every unit of {', '.join(dead)} is dead"
        elif norms and max(norms) < TINY_GRADIENT:
            cause = f"the weight gradients are tiny (largest norm {max(norms):.1e})"
        else:
            cause = "it never rose either, so the learning rate is not too high"
        return _finding(
            "not_learning", message + f"; the loss never moved from its start and {cause}",
            f"start from larger weights (init {ev.init}, init_scale {ev.init_scale:g}: "
            "use he_normal for ReLU, xavier_normal for sigmoid/tanh) or raise the "
            f"learning rate (lr {ev.lr:g})")
    return _finding(
        "not_learning", message + "; the signals cannot tell whether the learning rate is "
        "too low or too high",
        f"sweep the learning rate over decades around lr {ev.lr:g} (a study grid such as "
        f"train.lr: [{ev.lr / 100:g}, {ev.lr / 10:g}, {ev.lr:g}, {ev.lr * 10:g}]) and check "
        "the gradients (nnstudy check)")


def _gradient_flow(ev: Evidence) -> dict[str, Any] | None:
    norms = ev.grad_norms
    if len(norms) < 2:
        return None
    names = list(norms)
    first, last = norms[names[0]], norms[names[-1]]
    if not (math.isfinite(first) and math.isfinite(last)):
        return None
    final = ev.train[-1][1] if ev.train else math.nan
    if first == 0.0 and last == 0.0:
        if not final > 0.0:  # a loss of 0 has no gradient to give: nothing is wrong
            return None
        dead = ev.dead_layers()
        cause = ""
        if dead:
            shares = ", ".join(f"{ev.dead_fraction[n]:.0%} of {n}" for n in dead)
            cause = f": the units are dead ({shares} never fire), so no gradient passes"
        if not dead:
            suggestion = ("check the gradients with nnstudy check: the loss does not depend "
                          "on the weights")
        elif ev.rose:
            suggestion = (f"lower the learning rate (lr {ev.lr:g}: the loss rose above its "
                          "start, which kills units), or use leaky_relu")
        else:
            suggestion = "start from larger weights (a He/Xavier init) or use leaky_relu"
        return _finding(
            "no_gradient",
            f"every weight gradient is exactly 0 (first batch of the last epoch) while the "
            f"training loss is {final:.4f}{cause}",
            suggestion)
    if first == 0.0 or last == 0.0:
        return None  # one side has no gradient at all: a ratio says nothing here
    ratio = first / last
    if ratio < 1 / GRADIENT_RATIO:
        return _finding(
            "vanishing_gradients",
            f"the gradient norm of {names[0]} is {first:.2e}, {ratio:.1e} times that of "
            f"{names[-1]} ({last:.2e}): early layers barely learn",
            "use ReLU instead of sigmoid/tanh, a He/Xavier init, fewer layers, or batch "
            "normalization")
    if ratio > GRADIENT_RATIO:
        return _finding(
            "exploding_gradients",
            f"the gradient norm of {names[0]} is {first:.2e}, {ratio:.1e} times that of "
            f"{names[-1]} ({last:.2e})",
            "lower the learning rate, use a Xavier/He init, or normalize")
    return None


def _dead_relus(ev: Evidence) -> dict[str, Any] | None:
    dead = {n: f for n, f in ev.dead_fraction.items() if f > DEAD_FRACTION}
    if not dead:
        return None
    layer, f = max(dead.items(), key=lambda item: item[1])
    others = f" (and {', '.join(n for n in dead if n != layer)})" if len(dead) > 1 else ""
    if ev.rose or ev.diverged:
        suggestion = (f"lower the learning rate (lr {ev.lr:g}: the loss rose, which kills "
                      "units), or use leaky_relu")
    elif ev.flat:
        suggestion = (f"the loss never moved, so the units were dead from the start: use a "
                      f"He init (init {ev.init}, init_scale {ev.init_scale:g} now) or leaky_relu")
    else:
        suggestion = "use leaky_relu or a He init; if the loss jumped early, a lower learning rate"
    return _finding(
        "dead_relus",
        f"{f:.0%} of the units of {layer}{others} never fire on a validation batch",
        suggestion)


def _overfitting(ev: Evidence) -> dict[str, Any] | None:
    valid, train = ev.valid, ev.train
    if len(valid) < 3 or ev.diverged:
        return None
    best_i = min(range(len(valid)), key=lambda i: valid[i][1])
    best_epoch, best_v = valid[best_i]
    rest = valid[best_i + 1:]
    train_at = dict(train)
    if rest and rest[-1][1] > OVERFIT_RISE * best_v and train_at.get(rest[-1][0], math.inf) \
            < train_at.get(best_epoch, -math.inf):
        return _finding(
            "overfitting",
            f"validation loss rose from {best_v:.4f} (epoch {best_epoch}) to "
            f"{rest[-1][1]:.4f} (epoch {rest[-1][0]}) while training loss fell; "
            f"overfitting began after epoch {best_epoch}",
            "use early stopping (train.early_stopping), dropout, L2, or more data; the best "
            "epoch's weights are kept")
    return None


def signal_summary(g: int, signals: Signals) -> dict[str, Any]:
    """The measurements behind the diagnostics, for summary.json: each weight's gradient
    norm (first batch of the last epoch), each ReLU layer's fraction of dead units, the
    classes in the training split and (when the start was not finite) the non-finite
    input values."""
    out: dict[str, Any] = {
        "grad_norms": {n: float(v[g]) for n, v in signals.grad_norms.items()},
        "dead_relu_fraction": {n: float(v[g]) for n, v in signals.dead_fraction.items()},
        "classes_in_train": signals.classes_present,
    }
    if signals.nonfinite_inputs is not None:
        out["nonfinite_inputs"] = signals.nonfinite_inputs
    return out
