"""Gradient check: autograd's gradient against central differences, in float64.

For a parameter entry w the numeric derivative is
    n = (L(w + eps) - L(w - eps)) / (2 eps)
and the analytic one a = dL/dw from autograd. Per entry the relative error is
    |a - n| / max(|a| + |n|, 1e-12),
and a parameter tensor's verdict follows its largest: pass < 1e-7, warn < 1e-4, else fail.
L(w +- eps) each carry a rounding error near eps_mach |L|, so n carries one near
    floor = eps_mach |L| / eps        (5e-10 for L = 2.3, eps = 1e-6);
an entry whose gradient is not far above it (|a| = 3e-8 in a wide MLP) shows a large
relative error with autograd right. The verdict therefore counts an entry as agreeing
when |a - n| <= 10 floor; the report still gives its relative error and their number.
Tensors larger than `samples` entries are checked on that many entries drawn at random.
Where the NumPy reference engine covers the model, its gradient is compared too. With
`l2` = lambda > 0 the objective is the training one, L = loss + lambda Σ_W ||W||^2 over the
weights the trainer penalizes (`nnstudy.gradients.l2`).

One analytic gradient costs about one forward and one backward pass; the numeric one
costs two forward passes per entry: the report times both (report 001's argument for
backpropagation).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from nnstudy.errors import ConfigError
from nnstudy.gradients.agreement import agreement
from nnstudy.gradients.fixed_dropout import fixed_dropout
from nnstudy.gradients.l2 import l2_term, penalized_weights
from nnstudy.gradients.losses import LossFn, torch_loss
from nnstudy.gradients.relerr import entry_rel_error

PASS, WARN = 1e-7, 1e-4
ROUNDING_FACTOR = 10.0


def verdict_of(rel_error: float) -> str:
    """pass below 1e-7, warn below 1e-4, else fail (NaN fails)."""
    if rel_error < PASS:
        return "pass"
    return "warn" if rel_error < WARN else "fail"


@dataclass(frozen=True)
class EntryCheck:
    """One checked entry: its index in the tensor, a, n, |a - n| / max(|a| + |n|, 1e-12),
    and whether |a - n| is within the rounding of the central difference."""

    index: tuple[int, ...]
    analytic: float
    numeric: float
    rel_error: float
    within_rounding: bool = False

    @property
    def verdict_error(self) -> float:
        """The relative error the verdict sees: 0 when within rounding."""
        return 0.0 if self.within_rounding else self.rel_error


@dataclass
class ParamCheck:
    """The check of one parameter tensor: the largest relative error over its checked
    entries, the largest that the verdict sees (entries within rounding count as 0), the
    number of entries that only rounding keeps from passing, and the worst entries."""

    name: str
    shape: tuple[int, ...]
    checked: int
    max_rel_error: float
    verdict_error: float
    at_floor: int
    worst: list[EntryCheck]
    reference_error: float | None = None

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def verdict(self) -> str:
        return verdict_of(self.verdict_error)


@dataclass
class GradcheckReport:
    """Per parameter tensor the check, plus the loss, the timings and the reference engine.

    Timings: `analytic_seconds` for one forward + backward pass and `forward_seconds` for
    one forward pass (best of 5), `numeric_seconds` for all checked entries (two forward
    passes each), `entry_seconds` the median time of one entry.
    """

    params: list[ParamCheck]
    loss: str
    loss_value: float
    eps: float
    input_shape: tuple[int, ...]
    analytic_seconds: float
    forward_seconds: float
    numeric_seconds: float
    entry_seconds: float
    rounding_floor: float
    reference: str = "not compared"
    reference_output_error: float | None = None
    title: str = "model"
    notes: list[str] = field(default_factory=list)
    l2: float = 0.0                 # lambda of the L2 term in the objective (0: none)
    l2_value: float = 0.0           # lambda Σ ||W||^2 at the checked weights

    @property
    def checked_entries(self) -> int:
        return sum(p.checked for p in self.params)

    @property
    def total_entries(self) -> int:
        return sum(p.numel for p in self.params)

    @property
    def mean_entry_seconds(self) -> float:
        return self.numeric_seconds / max(self.checked_entries, 1)

    @property
    def full_numeric_seconds(self) -> float:
        """The numeric gradient of every entry: the mean entry's time times their number."""
        return self.mean_entry_seconds * self.total_entries

    @property
    def max_rel_error(self) -> float:
        return max((p.max_rel_error for p in self.params), default=0.0)

    @property
    def verdict_error(self) -> float:
        return max((p.verdict_error for p in self.params), default=0.0)

    @property
    def at_floor(self) -> int:
        return sum(p.at_floor for p in self.params)

    @property
    def verdict(self) -> str:
        return verdict_of(self.verdict_error)

    @property
    def passed(self) -> bool:
        """True on pass or warn."""
        return self.verdict != "fail"

    def worst_entries(self, k: int = 5) -> list[tuple[str, EntryCheck]]:
        """The k checked entries with the largest relative error, over all tensors; those
        beyond rounding first."""
        entries = [(p.name, e) for p in self.params for e in p.worst]
        return sorted(entries, key=lambda ne: _worst_first(ne[1]))[:k]

    def render(self) -> str:
        """The report as text: table, worst entries, timing, verdict."""
        from nnstudy.gradients.render import render_gradcheck

        return render_gradcheck(self)

    __str__ = render


def _worst_first(e: EntryCheck) -> tuple[bool, float]:
    return e.within_rounding, -(float("inf") if np.isnan(e.rel_error) else e.rel_error)


def select_params(model: nn.Module, params: str | Sequence[str]) -> dict[str, nn.Parameter]:
    """The parameters `params` names: "all", names, or module names (all of their params),
    as a list or comma-separated. An unknown name is a ConfigError listing the names."""
    named = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not named:
        raise ConfigError("params: the model has no trainable parameters")
    wanted = [s.strip() for s in params.split(",")] if isinstance(params, str) else list(params)
    if wanted == ["all"]:
        return named
    chosen: dict[str, nn.Parameter] = {}
    for w in wanted:
        hits = {n: p for n, p in named.items() if n == w or n.startswith(w + ".")}
        if not hits:
            raise ConfigError(f"params: {w!r} is not a parameter of the model; one of "
                              f"{', '.join(named)}")
        chosen.update(hits)
    return chosen


def _best_time(fn: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def gradcheck(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss: str | LossFn = "cross_entropy",
    params: str | Sequence[str] = "all",
    eps: float = 1e-6,
    samples: int | None = 100,
    seed: int = 0,
    reference: bool = True,
    worst: int = 3,
    l2: float = 0.0,
) -> GradcheckReport:
    """Check autograd's gradient of `loss(model(inputs), targets)` (+ `l2` Σ_W ||W||^2,
    the training objective's L2 term, when l2 > 0) against central differences in float64
    on a copy of `model` (in its own train or eval mode; each dropout mask drawn once from
    `seed` and held fixed).

    `loss`: cross_entropy, nll, mse, or a callable (output, target) -> scalar tensor.
    `params`: "all" or parameter or module names. `samples`: entries checked per tensor
    (None: every entry). `reference`: also compare the NumPy reference engine's gradient.

    Example:
        >>> import torch, nnstudy
        >>> from nnstudy.models import build_model
        >>> net = build_model("lenet5", (1, 32, 32))
        >>> report = nnstudy.gradcheck(net, torch.randn(2, 1, 32, 32), torch.tensor([3, 7]))
        >>> report.verdict in ("pass", "warn")
        True
    """
    if not eps > 0:
        raise ConfigError(f"eps: must be > 0, got {eps!r}")
    if samples is not None and samples < 1:
        raise ConfigError(f"samples: must be >= 1, got {samples!r}")
    if not l2 >= 0:
        raise ConfigError(f"l2: must be >= 0, got {l2!r}")
    loss_fn = torch_loss(loss)
    model64 = copy.deepcopy(model).double()
    weights = penalized_weights(model64) if l2 else {}
    chosen = select_params(model64, params)
    x = inputs.detach().double()
    t = targets.detach().double() if targets.is_floating_point() else targets.detach()
    rng = np.random.default_rng(seed)

    with fixed_dropout(model64, seed):
        def objective() -> torch.Tensor:
            value = loss_fn(model64(x), t)
            return value + l2_term(weights, l2) if l2 else value

        def analytic() -> tuple[torch.Tensor, ...]:
            return torch.autograd.grad(objective(), list(chosen.values()), allow_unused=True)

        analytic_seconds = _best_time(analytic)
        grads = analytic()
        with torch.no_grad():
            forward_seconds = _best_time(objective)
            loss_value = float(objective())
            l2_value = float(l2_term(weights, l2)) if l2 else 0.0
            floor = float(np.finfo(np.float64).eps) * abs(loss_value) / eps
            times: list[float] = []
            checks = [
                _check_tensor(name, p, g, objective, eps, samples, rng, worst, times, floor)
                for (name, p), g in zip(chosen.items(), grads, strict=True)
            ]

    report = GradcheckReport(
        params=checks, loss=loss if isinstance(loss, str) else getattr(loss, "__name__", "custom"),
        loss_value=loss_value, eps=eps, input_shape=tuple(x.shape),
        analytic_seconds=analytic_seconds, forward_seconds=forward_seconds,
        numeric_seconds=float(np.sum(times)), entry_seconds=float(np.median(times)),
        rounding_floor=floor, l2=l2, l2_value=l2_value,
    )
    if reference:
        _compare_reference(report, model, inputs, targets, loss, seed, l2)
    return report


def _check_tensor(name: str, p: torch.Tensor, grad: torch.Tensor | None,
                  objective: Callable[[], torch.Tensor], eps: float, samples: int | None,
                  rng: np.random.Generator, worst: int, times: list[float], floor: float
                  ) -> ParamCheck:
    """Central differences on the chosen entries of `p`, compared with `grad`; the time of
    each entry is appended to `times`."""
    flat = p.data.view(-1)
    a_flat = (grad if grad is not None else torch.zeros_like(p)).reshape(-1).numpy()
    n = flat.numel()
    picks = np.arange(n) if samples is None or n <= samples else np.sort(
        rng.choice(n, size=samples, replace=False))
    numeric = np.empty(len(picks))
    for k, i in enumerate(picks):
        start = time.perf_counter()
        old = flat[i].item()
        flat[i] = old + eps
        up = objective().item()
        flat[i] = old - eps
        down = objective().item()
        flat[i] = old
        numeric[k] = (up - down) / (2 * eps)
        times.append(time.perf_counter() - start)
    analytic = a_flat[picks]
    finite = np.isfinite(analytic) & np.isfinite(numeric)
    errors = np.where(finite, entry_rel_error(analytic, numeric), np.nan)
    within = finite & (np.abs(analytic - numeric) <= ROUNDING_FACTOR * floor)
    seen = np.where(within, 0.0, errors)
    # the worst first: errors beyond rounding (NaN first of all), then those within it
    order = np.lexsort((-np.nan_to_num(errors, nan=np.inf), within))[:worst]
    shape = tuple(p.shape)
    return ParamCheck(
        name=name, shape=shape, checked=len(picks),
        max_rel_error=_nanmax(errors), verdict_error=_nanmax(seen),
        at_floor=int((within & (errors >= PASS)).sum()),
        worst=[EntryCheck(tuple(int(v) for v in np.unravel_index(picks[j], shape)),
                          float(analytic[j]), float(numeric[j]), float(errors[j]),
                          bool(within[j]))
               for j in order],
    )


def _nanmax(values: np.ndarray) -> float:
    return float(np.nan if np.isnan(values).any() else values.max(initial=0.0))


def _compare_reference(report: GradcheckReport, model: nn.Module, inputs: torch.Tensor,
                       targets: torch.Tensor, loss: str | LossFn, seed: int,
                       l2: float = 0.0) -> None:
    """Fill the reference engine's errors in, or say why it does not cover the model."""
    if not isinstance(loss, str):
        report.reference = "not compared: a custom loss"
        return
    try:
        agreed = agreement(model, inputs, targets, loss, seed, l2=l2)
    except ConfigError as exc:
        report.reference = f"not covered ({exc})"
        return
    report.reference = "covered"
    report.reference_output_error = agreed.output_error
    for p in report.params:
        p.reference_error = agreed.grad_errors.get(p.name)
