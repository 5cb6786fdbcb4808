"""`{maxpool: k}`, `{avgpool: k}` (kernel, stride = kernel, padding) and
`{adaptive_avgpool: size}`."""

from __future__ import annotations

from torch import nn

from nnstudy.config import layers as spec
from nnstudy.errors import ConfigError, ShapeError
from nnstudy.models.layers.kind import LayerKind, Shape, register
from nnstudy.models.layers.shape import fmt, need_image, pair, window_out
from nnstudy.reference.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d


def _window(cls: type[nn.Module]):
    def build(layer: spec.Pool, shape: Shape, name: str) -> tuple[nn.Module, Shape]:
        need_image(name, shape)
        stride = layer.kernel if layer.stride is None else layer.stride
        oh, ow = window_out(name, shape, layer.kernel, stride, layer.padding, "window")
        return cls(pair(layer.kernel), pair(stride), pair(layer.padding)), (shape[0], oh, ow)

    return build


def _maxpool_reference(m: nn.MaxPool2d, dtype) -> MaxPool2d:
    if m.return_indices:
        raise ConfigError("reference engine: MaxPool2d(return_indices=True) is not covered")
    stride = m.stride if m.stride is not None else m.kernel_size
    return MaxPool2d(pair(m.kernel_size), pair(stride), pair(m.padding), pair(m.dilation),
                     m.ceil_mode)


def _avgpool_reference(m: nn.AvgPool2d, dtype) -> AvgPool2d:
    stride = m.stride if m.stride is not None else m.kernel_size
    return AvgPool2d(pair(m.kernel_size), pair(stride), pair(m.padding), m.ceil_mode,
                     m.count_include_pad, m.divisor_override)


def _build_adaptive(layer: spec.AdaptiveAvgPool, shape: Shape, name: str
                    ) -> tuple[nn.Module, Shape]:
    need_image(name, shape)
    size = pair(layer.size)
    if min(size) <= 0:
        raise ShapeError(f"{name}: output size must be > 0, got {fmt(size)}")
    return nn.AdaptiveAvgPool2d(size), (shape[0], *size)


def _adaptive_reference(m: nn.AdaptiveAvgPool2d, dtype) -> AdaptiveAvgPool2d:
    size = m.output_size
    return AdaptiveAvgPool2d((size, size) if isinstance(size, int) or size is None
                             else (size[0], size[1]))


MAXPOOL = register(LayerKind(
    spec=spec.MaxPool, modules=(nn.MaxPool2d,), family="pool", prefix="pool",
    build=_window(nn.MaxPool2d), to_reference=_maxpool_reference,
    ops=("max_pool2d_with_indices", "max_pool2d_with_indices_backward"),
))
AVGPOOL = register(LayerKind(
    spec=spec.AvgPool, modules=(nn.AvgPool2d,), family="pool", prefix="pool",
    build=_window(nn.AvgPool2d), to_reference=_avgpool_reference,
    ops=("avg_pool2d", "avg_pool2d_backward"),
))
ADAPTIVE_AVGPOOL = register(LayerKind(
    spec=spec.AdaptiveAvgPool, modules=(nn.AdaptiveAvgPool2d,), family="pool",
    prefix="adapool", build=_build_adaptive, to_reference=_adaptive_reference,
    ops=("_adaptive_avg_pool2d", "_adaptive_avg_pool2d_backward",
         "mean", "div"),  # to 1x1: a mean, whose gradient is a division
))
