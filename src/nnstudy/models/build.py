"""Build a torch module from a list of layer specs, checking shapes layer by layer.

`build_layers(specs, input_shape)` returns a `SpecNet`: an nn.Sequential whose children
are named after their kind and position (`conv1`, `relu1`, `pool1`, `fc1`, ...), which
remembers its input shape and the spec of every child, and prints its shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from nnstudy.config import layers as spec
from nnstudy.errors import ShapeError
from nnstudy.models.layers import kind_of
from nnstudy.models.layers.shape import Shape, fmt


def build_layer(name: str, layer: spec.LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
    """One torch module for `layer` at input `shape`, and its output shape."""
    return kind_of(layer).build(layer, shape, name)


class SpecNet(nn.Sequential):
    """A sequence of layers built from specs; knows its input shape and each child's spec.

    Example:
        >>> from nnstudy.models import build_model
        >>> net = build_model([{"linear": 100}, "relu", {"linear": 10}], (1, 28, 28))
        >>> [name for name, _ in net.named_children()]
        ['flatten', 'fc1', 'relu1', 'fc2']
    """

    def __init__(self, named: Sequence[tuple[str, nn.Module, spec.LayerSpec, Shape]],
                 input_shape: Shape) -> None:
        super().__init__()
        for name, module, _, _ in named:
            self.add_module(name, module)
        self.input_shape: Shape = tuple(input_shape)
        self.layer_specs: dict[str, spec.LayerSpec] = {n: s for n, _, s, _ in named}
        self.shapes: dict[str, Shape] = {n: out for n, _, _, out in named}

    @property
    def output_shape(self) -> Shape:
        return list(self.shapes.values())[-1] if self.shapes else self.input_shape

    def extra_repr(self) -> str:
        return f"input={fmt(self.input_shape)}, output={fmt(self.output_shape)}"


def build_layers(layers: Sequence[spec.LayerSpec], input_shape: Shape) -> SpecNet:
    """Build `layers` for `input_shape`; a linear layer on an image gets a flatten first.

    Raises ShapeError naming the first layer that does not fit.
    """
    counts: dict[str, int] = {}
    named: list[tuple[str, nn.Module, spec.LayerSpec, Shape]] = []
    shape: Shape = tuple(int(s) for s in input_shape)
    if not shape or min(shape) <= 0:
        raise ShapeError(f"input shape must be positive sizes, got {shape}")

    def add(layer: spec.LayerSpec) -> None:
        nonlocal shape
        if isinstance(layer, spec.Flatten) and len(shape) == 1:
            return
        if isinstance(layer, spec.Linear) and len(shape) > 1:
            add(spec.Flatten())
        prefix = kind_of(layer).prefix
        counts[prefix] = counts.get(prefix, 0) + 1
        name = prefix if layer.kind == "flatten" and counts[prefix] == 1 else (
            f"{prefix}{counts[prefix]}")
        module, shape = build_layer(name, layer, shape)
        named.append((name, module, layer, shape))

    for layer in layers:
        add(layer)
    return SpecNet(named, input_shape)
