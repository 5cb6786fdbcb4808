"""`{conv: {out, kernel, stride, padding, groups, bias}}`: a 2-d convolution."""

from __future__ import annotations

from torch import nn

from nnstudy.config import layers as spec
from nnstudy.errors import ConfigError, ShapeError
from nnstudy.models.layers.kind import LayerKind, Shape, as_array, register
from nnstudy.models.layers.shape import need_image, pair, window_out
from nnstudy.reference.conv import Conv2d


def _build(layer: spec.Conv, shape: Shape, name: str) -> tuple[nn.Module, Shape]:
    need_image(name, shape)
    if shape[0] % layer.groups or layer.out % layer.groups:
        raise ShapeError(
            f"{name}: groups={layer.groups} must divide input channels {shape[0]} and "
            f"output channels {layer.out}"
        )
    oh, ow = window_out(name, shape, layer.kernel, layer.stride, layer.padding, "kernel")
    module = nn.Conv2d(
        shape[0], layer.out, pair(layer.kernel), pair(layer.stride), pair(layer.padding),
        groups=layer.groups, bias=layer.bias,
    )
    return module, (layer.out, oh, ow)


def _to_reference(m: nn.Conv2d, dtype) -> Conv2d:
    if m.padding_mode != "zeros":
        raise ConfigError(
            f"reference engine: Conv2d padding_mode={m.padding_mode!r} is not covered")
    if isinstance(m.padding, str):
        if m.padding == "valid":
            pads = ((0, 0), (0, 0))
        else:  # "same": torch puts the odd pixel at the end
            total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size, strict=True)]
            pads = tuple((t // 2, t - t // 2) for t in total)
    else:
        pads = tuple((p, p) for p in pair(m.padding))
    return Conv2d(as_array(m.weight, dtype), as_array(m.bias, dtype), pair(m.stride), pads,
                  pair(m.dilation), m.groups)


CONV = register(LayerKind(
    spec=spec.Conv, modules=(nn.Conv2d,), family="conv", build=_build,
    to_reference=_to_reference, ops=("convolution", "convolution_backward"),
    decayed=("weight",),
))
