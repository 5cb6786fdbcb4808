"""A layer kind: everything the package knows about one spec type, in one place.

The config room names a layer and checks its arguments (`nnstudy.config.layers`); a
`LayerKind`, registered under that spec class, says what the rest of the package needs:
how to build the torch module and its output shape, what the layer is (`family`: the
trainer and `inspect`'s kind column read it), which parameters the L2 term penalizes,
which aten operators price it (their formulas are in `nnstudy.analysis.op_costs`), how to
read the module into the NumPy reference engine, and, for an activation, its gradient
for the hand-written training pass.

The trainer, `inspect` and the reference engine meet torch modules, not specs, so the
registry is also looked up by module class (`kind_of_module`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import Tensor, nn

from nnstudy.config.layers import LayerSpec
from nnstudy.reference.layer import Layer

Shape = tuple[int, ...]
Build = Callable[[LayerSpec, Shape, str], tuple[nn.Module, Shape]]
ToReference = Callable[[nn.Module, type[np.floating]], Layer]
Backward = Callable[[nn.Module, Tensor, Tensor, Tensor], Tensor]

FAMILIES = ("linear", "conv", "pool", "norm", "dropout", "activation", "reshape")


@dataclass(frozen=True, kw_only=True)
class LayerKind:
    """What one layer kind is, keyed by its spec class.

    Attributes:
        spec: the config class (the registry's key).
        modules: the torch module classes `build` returns.
        family: one of `FAMILIES`.
        build: (spec, one sample's input shape, the child's name) -> (module, output
            shape); raises ShapeError naming the child when the input does not fit.
        to_reference: (module, NumPy dtype) -> the reference engine's layer computing
            what the module computes, with a copy of its weights.
        ops: the aten operators its forward and backward run (their cost formulas are
            in `nnstudy.analysis.op_costs`; a test runs every kind and holds both to it).
        prefix: children of a built model are `<prefix><n>` (fc1, conv2); default `spec.kind`.
        decayed: names of the parameters the L2 term penalizes (weights, not biases).
        elementwise: y_i depends on x_i alone (activations but softmax; `nnstudy trace`
            takes these).
        backward: activations only: (module, dL/dy, x, y) -> dL/dx, for the hand-written
            training pass of `nnstudy.training.dense`; None takes autograd.
        dense_covers: whether `backward` holds for this module (not for in-place ones).
    """

    spec: type[LayerSpec]
    modules: tuple[type[nn.Module], ...]
    family: str
    build: Build
    to_reference: ToReference
    ops: tuple[str, ...]
    prefix: str = ""
    decayed: tuple[str, ...] = ()
    elementwise: bool = False
    backward: Backward | None = None
    dense_covers: Callable[[nn.Module], bool] = lambda module: True

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.spec.__name__}: family {self.family!r} is not one of "
                             f"{', '.join(FAMILIES)}")
        if not self.prefix:
            object.__setattr__(self, "prefix", self.spec.kind)


KINDS: dict[type[LayerSpec], LayerKind] = {}
"""Every layer kind by its spec class, in registration order."""

_BY_MODULE: dict[type[nn.Module], LayerKind] = {}


def register(kind: LayerKind) -> LayerKind:
    """Add `kind` to the registry (one kind per spec class and per module class)."""
    if kind.spec in KINDS:
        raise ValueError(f"{kind.spec.__name__} is registered twice")
    for module in kind.modules:
        if module in _BY_MODULE:
            raise ValueError(f"{module.__name__} already belongs to "
                             f"{_BY_MODULE[module].spec.__name__}")
    KINDS[kind.spec] = kind
    _BY_MODULE.update(dict.fromkeys(kind.modules, kind))
    return kind


def kind_of(spec: LayerSpec) -> LayerKind:
    """The kind of a layer spec."""
    return KINDS[type(spec)]


def kind_of_module(module: nn.Module, exact: bool = False) -> LayerKind | None:
    """The kind whose module class `module` is (or, unless `exact`, derives from); None
    for a module no spec builds."""
    classes = (type(module),) if exact else type(module).__mro__
    for cls in classes:
        kind = _BY_MODULE.get(cls)
        if kind is not None:
            return kind
    return None


def decayed_names(model: nn.Module) -> list[str]:
    """The names of `model`'s parameters that are weights, as each layer kind says
    (`LayerKind.decayed`: not biases nor batch-norm scales): the ones `train.l2`
    penalizes, in `named_parameters` order."""
    modules = dict(model.named_modules())
    out = []
    for name, _ in model.named_parameters():
        owner, _, leaf = name.rpartition(".")
        kind = kind_of_module(modules[owner]) if owner in modules else None
        if kind is not None and leaf in kind.decayed:
            out.append(name)
    return out


def as_array(t: Tensor | None, dtype: type[np.floating]) -> np.ndarray | None:
    """A NumPy copy of a parameter or buffer in `dtype` (None stays None), for
    `to_reference`."""
    return None if t is None else t.detach().cpu().numpy().astype(dtype, copy=True)
