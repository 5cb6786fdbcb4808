"""Which layers collapse into one affine map, and that map.

Affine layers with only identity or linear (a*x + c) activations between them compose
into one affine map::

    W2 (a (W1 x + b1) + c) + b2  =  (a W2 W1) x + (a W2 b1 + c W2 1 + b2)  =  W' x + b'

so fc1..fcL with linear activations compute no more than a single Linear layer: depth
adds no expressiveness. `affine_runs(model)` finds such runs of `nn.Linear` layers in
the sequential parts of a model; `collapse(model)` returns W' and b' of a model that is
one affine map as a whole.

    >>> from nnstudy.models.layers import LinearActivation
    >>> net = nn.Sequential(nn.Linear(4, 3), LinearActivation(2.0, 1.0), nn.Linear(3, 2))
    >>> weight, bias = collapse(net)
    >>> tuple(weight.shape), tuple(bias.shape)
    ((2, 4), (2,))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from nnstudy.errors import ConfigError
from nnstudy.models.layers import LinearActivation

__all__ = ["AffineRun", "affine_runs", "collapse"]


def _is_sequential(module: nn.Module) -> bool:
    """A container whose forward feeds each child's output to the next child."""
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def _is_identity(module: nn.Module) -> bool:
    return isinstance(module, nn.Identity) or (
        isinstance(module, nn.modules.dropout._DropoutNd) and module.p == 0
    )


def _is_affine(module: nn.Module) -> bool:
    return isinstance(module, (nn.Linear, LinearActivation)) or _is_identity(module)


def _flatten(module: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    items: list[tuple[str, nn.Module]] = []
    for name, child in module.named_children():
        if _is_sequential(child):
            items += _flatten(child, f"{prefix}{name}.")
        else:
            items.append((f"{prefix}{name}", child))
    return items


@dataclass(frozen=True)
class AffineRun:
    """Linear layers, from `names[0]` to `names[-1]`, with only identity or linear
    activations between them: one affine map `in_features -> out_features`."""

    names: tuple[str, ...]
    modules: tuple[nn.Module, ...]

    @property
    def linear_names(self) -> tuple[str, ...]:
        return tuple(
            n for n, m in zip(self.names, self.modules, strict=True) if isinstance(m, nn.Linear)
        )

    @property
    def in_features(self) -> int:
        return self.modules[0].in_features

    @property
    def out_features(self) -> int:
        return self.modules[-1].out_features

    def describe(self) -> str:
        """E.g. "fc1..fc3 with linear activations = one affine map 784 -> 10; depth adds
        no expressiveness"."""
        between = self.modules[1:-1]
        kinds = []
        if any(isinstance(m, LinearActivation) for m in between):
            kinds.append("linear")
        if any(_is_identity(m) for m in between):
            kinds.append("identity")
        what = f"{' and '.join(kinds)} activations" if kinds else "no activation between"
        return (
            f"{self.names[0]}..{self.names[-1]} with {what} = one affine map "
            f"{self.in_features} -> {self.out_features}; depth adds no expressiveness"
        )

    def collapse(self) -> tuple[torch.Tensor, torch.Tensor]:
        """W' and b' with `x @ W'.T + b'` equal to the run's output."""
        return _compose(self.modules)


def _runs_in(items: Sequence[tuple[str, nn.Module]]) -> Iterator[AffineRun]:
    segment: list[tuple[str, nn.Module]] = []
    for item in [*items, ("", nn.ReLU())]:  # a sentinel that ends the last segment
        if _is_affine(item[1]):
            segment.append(item)
            continue
        linear = [i for i, (_, m) in enumerate(segment) if isinstance(m, nn.Linear)]
        if len(linear) >= 2:
            run = segment[linear[0] : linear[-1] + 1]
            yield AffineRun(tuple(n for n, _ in run), tuple(m for _, m in run))
        segment = []


def affine_runs(model: nn.Module) -> list[AffineRun]:
    """Every run of two or more `nn.Linear` layers, in the sequential parts of `model`,
    separated only by identity or linear activations (each collapses to one Linear)."""
    runs: list[AffineRun] = []

    def visit(module: nn.Module, prefix: str) -> None:
        if _is_sequential(module):
            items = _flatten(module, prefix)
            runs.extend(_runs_in(items))
            for name, child in items:
                if not _is_affine(child):
                    visit(child, f"{name}.")
        else:
            for name, child in module.named_children():
                visit(child, f"{prefix}{name}.")

    visit(model, "")
    return runs


def _compose(modules: Sequence[nn.Module]) -> tuple[torch.Tensor, torch.Tensor]:
    """Compose in float64: Linear: W <- W_l W, b <- W_l b + b_l; a*x + c: W <- a W,
    b <- a b + c. A scalar map before the first Linear is kept as (a, c) until then."""
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    scale, shift = 1.0, 0.0
    dtype = next(m.weight.dtype for m in modules if isinstance(m, nn.Linear))
    for module in modules:
        if isinstance(module, nn.Linear):
            w = module.weight.detach().double()
            b = module.bias.detach().double() if module.bias is not None else 0.0
            if weight is None:
                weight, bias = w * scale, w.sum(dim=1) * shift + b
            else:
                weight, bias = w @ weight, w @ bias + b
        elif isinstance(module, LinearActivation):
            if weight is None:
                scale, shift = module.a * scale, module.a * shift + module.c
            else:
                weight, bias = module.a * weight, module.a * bias + module.c
    assert weight is not None and bias is not None
    return weight.to(dtype), torch.as_tensor(bias, dtype=torch.float64).to(dtype)


def collapse(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """W' (out x in) and b' (out) of a model that is one affine map: Linear layers with
    only identity or linear (a*x + c) activations, in sequence (nested nn.Sequential
    allowed, and a leading nn.Flatten); `model(x) == x.flatten(1) @ W'.T + b'` up to
    rounding.

    Raises ConfigError naming the first layer that is not affine.
    """
    if isinstance(model, nn.Linear):
        return _compose([model])
    if not _is_sequential(model):
        raise ConfigError(
            f"collapse: the model ({type(model).__name__}) is not an nn.Sequential of "
            "Linear layers and identity or linear activations"
        )
    items = _flatten(model, "")
    while items and isinstance(items[0][1], nn.Flatten):
        items = items[1:]  # W' then maps the flattened input
    for name, module in items:
        if not _is_affine(module):
            raise ConfigError(
                f"collapse: {name} ({type(module).__name__}) is not affine; only Linear "
                "layers with identity or linear (a*x + c) activations collapse to one map"
            )
    if not any(isinstance(m, nn.Linear) for _, m in items):
        raise ConfigError("collapse: the model has no Linear layer")
    return _compose([m for _, m in items])
