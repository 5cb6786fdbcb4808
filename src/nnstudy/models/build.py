"""Build a torch module from a list of layer specs, checking shapes layer by layer.

`build_layers(specs, input_shape)` returns a `SpecNet`: an nn.Sequential whose children
are named after their kind and position (`conv1`, `relu1`, `pool1`, `fc1`, ...), which
remembers its input shape and the spec of every child, and prints its shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from nnstudy.config import model as spec
from nnstudy.errors import ShapeError
from nnstudy.models.layers import LinearActivation

Shape = tuple[int, ...]

_PREFIX = {
    "linear": "fc",
    "conv": "conv",
    "maxpool": "pool",
    "avgpool": "pool",
    "adaptive_avgpool": "adapool",
    "dropout": "drop",
    "batchnorm": "bn",
    "linear_activation": "linact",
    "log_softmax": "logsoftmax",
}


def _pair(v: int | tuple[int, int] | None) -> tuple[int, int]:
    if v is None:
        raise ValueError("no value")
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _fmt(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)


def _need_image(name: str, shape: Shape) -> None:
    if len(shape) != 3:
        raise ShapeError(
            f"{name}: needs a C x H x W input, got {_fmt(shape)}"
            + (" (a flat vector: remove `flatten` before it)" if len(shape) == 1 else "")
        )


def _window_out(name: str, shape: Shape, kernel, stride, padding, what: str) -> tuple[int, int]:
    """out = floor((W - F + 2P) / S) + 1 per spatial dimension; at least 1."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    if min(kh, kw) <= 0 or min(sh, sw) <= 0 or min(ph, pw) < 0:
        raise ShapeError(
            f"{name}: {what} {kh}x{kw}, stride {sh}x{sw}, padding {ph}x{pw}: kernel and stride "
            "must be > 0 and padding >= 0"
        )
    h, w = shape[1], shape[2]
    oh = (h - kh + 2 * ph) // sh + 1
    ow = (w - kw + 2 * pw) // sw + 1
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{name}: input {_fmt(shape)} is smaller than {what} {kh}x{kw} "
            f"(out = (W - F + 2P)/S + 1 = {min(oh, ow)})"
        )
    if 2 * max(ph, pw) > max(kh, kw) and what != "kernel":
        raise ShapeError(f"{name}: padding {ph}x{pw} is more than half of the window {kh}x{kw}")
    return oh, ow


def build_layer(name: str, layer: spec.LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
    """One torch module for `layer` at input `shape`, and its output shape."""
    if isinstance(layer, spec.Linear):
        if len(shape) != 1:
            raise ShapeError(f"{name}: needs a flat input, got {_fmt(shape)}; put flatten before it")
        return nn.Linear(shape[0], layer.out, bias=layer.bias), (layer.out,)
    if isinstance(layer, spec.Conv):
        _need_image(name, shape)
        if shape[0] % layer.groups or layer.out % layer.groups:
            raise ShapeError(
                f"{name}: groups={layer.groups} must divide input channels {shape[0]} and "
                f"output channels {layer.out}"
            )
        oh, ow = _window_out(name, shape, layer.kernel, layer.stride, layer.padding, "kernel")
        module = nn.Conv2d(
            shape[0], layer.out, _pair(layer.kernel), _pair(layer.stride), _pair(layer.padding),
            groups=layer.groups, bias=layer.bias,
        )
        return module, (layer.out, oh, ow)
    if isinstance(layer, spec.Pool):
        _need_image(name, shape)
        stride = layer.kernel if layer.stride is None else layer.stride
        oh, ow = _window_out(name, shape, layer.kernel, stride, layer.padding, "window")
        cls = nn.MaxPool2d if isinstance(layer, spec.MaxPool) else nn.AvgPool2d
        return cls(_pair(layer.kernel), _pair(stride), _pair(layer.padding)), (shape[0], oh, ow)
    if isinstance(layer, spec.AdaptiveAvgPool):
        _need_image(name, shape)
        size = _pair(layer.size)
        if min(size) <= 0:
            raise ShapeError(f"{name}: output size must be > 0, got {_fmt(size)}")
        return nn.AdaptiveAvgPool2d(size), (shape[0], *size)
    if isinstance(layer, spec.Flatten):
        n = 1
        for s in shape:
            n *= s
        return nn.Flatten(), (n,)
    if isinstance(layer, spec.Dropout):
        return nn.Dropout(layer.p), shape
    if isinstance(layer, spec.BatchNorm):
        cls = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        if len(shape) not in (1, 3):
            raise ShapeError(f"{name}: needs a flat or C x H x W input, got {_fmt(shape)}")
        return cls(shape[0], eps=layer.eps, momentum=layer.momentum), shape
    return build_activation(layer), shape


def build_activation(layer: spec.LayerSpec) -> nn.Module:
    """The torch module of an activation spec."""
    if isinstance(layer, spec.LinearActivation):
        return LinearActivation(layer.a, layer.c)
    if isinstance(layer, spec.LeakyReLU):
        return nn.LeakyReLU(layer.slope)
    if isinstance(layer, spec.ELU):
        return nn.ELU(layer.alpha)
    if isinstance(layer, spec.Softmax):
        return nn.Softmax(dim=-1)
    if isinstance(layer, spec.LogSoftmax):
        return nn.LogSoftmax(dim=-1)
    simple = {
        spec.Identity: nn.Identity, spec.Sigmoid: nn.Sigmoid, spec.Tanh: nn.Tanh,
        spec.ReLU: nn.ReLU, spec.GELU: nn.GELU,
    }
    return simple[type(layer)]()


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
        return f"input={_fmt(self.input_shape)}, output={_fmt(self.output_shape)}"


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
        prefix = _PREFIX.get(layer.kind, layer.kind)
        counts[prefix] = counts.get(prefix, 0) + 1
        name = prefix if layer.kind == "flatten" and counts[prefix] == 1 else (
            f"{prefix}{counts[prefix]}")
        module, shape = build_layer(name, layer, shape)
        named.append((name, module, layer, shape))

    for layer in layers:
        add(layer)
    return SpecNet(named, input_shape)
