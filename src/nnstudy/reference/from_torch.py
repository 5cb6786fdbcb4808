"""Read a torch model into the reference engine: same layers, same weights, same names.

Covered: nn.Sequential (nested), the zoo's AlexNet layout (features, avgpool, flatten,
classifier), and the layers model specs build: Linear, Conv2d, MaxPool2d, AvgPool2d,
AdaptiveAvgPool2d, Flatten, Dropout, BatchNorm1d/2d, Identity and every activation.
Any other model can be covered by passing its layers in order (`layers=`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from nnstudy.errors import ConfigError
from nnstudy.reference import activations as act
from nnstudy.reference.batchnorm import BatchNorm
from nnstudy.reference.conv import Conv2d
from nnstudy.reference.dropout import Dropout
from nnstudy.reference.flatten import Flatten
from nnstudy.reference.layer import Layer
from nnstudy.reference.linear import Linear
from nnstudy.reference.network import Network
from nnstudy.reference.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d


def _array(t: torch.Tensor | None, dtype) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy().astype(dtype, copy=True)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv(m: nn.Conv2d, dtype) -> Layer:
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
        pads = tuple((p, p) for p in _pair(m.padding))
    return Conv2d(_array(m.weight, dtype), _array(m.bias, dtype), _pair(m.stride), pads,
                  _pair(m.dilation), m.groups)


def _maxpool(m: nn.MaxPool2d, dtype) -> Layer:
    if m.return_indices:
        raise ConfigError("reference engine: MaxPool2d(return_indices=True) is not covered")
    stride = m.stride if m.stride is not None else m.kernel_size
    return MaxPool2d(_pair(m.kernel_size), _pair(stride), _pair(m.padding), _pair(m.dilation),
                     m.ceil_mode)


def _avgpool(m: nn.AvgPool2d, dtype) -> Layer:
    stride = m.stride if m.stride is not None else m.kernel_size
    return AvgPool2d(_pair(m.kernel_size), _pair(stride), _pair(m.padding), m.ceil_mode,
                     m.count_include_pad, m.divisor_override)


def _adaptive(m: nn.AdaptiveAvgPool2d, dtype) -> Layer:
    size = m.output_size
    return AdaptiveAvgPool2d((size, size) if isinstance(size, int) or size is None
                             else (size[0], size[1]))


def _batchnorm(m: nn.modules.batchnorm._BatchNorm, dtype) -> Layer:
    running = m.track_running_stats and m.running_mean is not None
    layer = BatchNorm(
        _array(m.weight, dtype) if m.affine else None,
        _array(m.bias, dtype) if m.affine else None,
        _array(m.running_mean, dtype) if running else None,
        _array(m.running_var, dtype) if running else None,
        m.eps, m.momentum, int(m.num_batches_tracked) if running else 0,
    )
    return layer


def _softmax_dim(m: nn.Softmax | nn.LogSoftmax) -> int:
    if m.dim is None:
        raise ConfigError(
            f"reference engine: {type(m).__name__}(dim=None) is not covered; give dim")
    return m.dim


def _linear_activation(m: nn.Module, dtype) -> Layer:
    return act.LinearActivation(m.a, m.c)


CONVERTERS: dict[type, Callable[[nn.Module, type], Layer]] = {
    nn.Linear: lambda m, d: Linear(_array(m.weight, d), _array(m.bias, d)),
    nn.Conv2d: _conv,
    nn.MaxPool2d: _maxpool,
    nn.AvgPool2d: _avgpool,
    nn.AdaptiveAvgPool2d: _adaptive,
    nn.Flatten: lambda m, d: Flatten(m.start_dim, m.end_dim),
    nn.Dropout: lambda m, d: Dropout(m.p),
    nn.BatchNorm1d: _batchnorm,
    nn.BatchNorm2d: _batchnorm,
    nn.Identity: lambda m, d: act.Identity(),
    nn.Sigmoid: lambda m, d: act.Sigmoid(),
    nn.Tanh: lambda m, d: act.Tanh(),
    nn.ReLU: lambda m, d: act.ReLU(),
    nn.LeakyReLU: lambda m, d: act.LeakyReLU(m.negative_slope),
    nn.ELU: lambda m, d: act.ELU(m.alpha),
    nn.GELU: lambda m, d: act.GELU(m.approximate),
    nn.Softmax: lambda m, d: act.Softmax(_softmax_dim(m)),
    nn.LogSoftmax: lambda m, d: act.LogSoftmax(_softmax_dim(m)),
}


def _known_children(model: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """The layers in forward order of a container whose forward is known, else None."""
    if isinstance(model, nn.Sequential):
        return list(model.named_children())
    names = {n for n, _ in model.named_children()}
    # torchvision's AlexNet and the zoo's copy: features, avgpool, flatten(1), classifier.
    if type(model).__name__ == "AlexNet" and names == {"features", "avgpool", "classifier"}:
        return [("features", model.features), ("avgpool", model.avgpool),
                ("flatten", nn.Flatten()), ("classifier", model.classifier)]
    return None


def _convert(name: str, module: nn.Module, dtype, out: list[tuple[str, Layer]]) -> None:
    children = _known_children(module)
    if children is not None:
        for child_name, child in children:
            _convert(f"{name}.{child_name}" if name else child_name, child, dtype, out)
        return
    kind = type(module)
    converter = CONVERTERS.get(kind)
    if converter is None and kind.__name__ == "LinearActivation" and hasattr(module, "a"):
        converter = _linear_activation
    if converter is None:
        raise ConfigError(
            f"reference engine: no NumPy layer for {kind.__name__} at {name or 'the model'!r}; "
            "pass its layers in forward order with layers=[(name, module), ...]"
        )
    layer = converter(module, dtype)
    layer.training = module.training
    out.append((name, layer))


def from_torch(model: nn.Module, layers: Sequence[tuple[str, nn.Module]] | None = None,
               dtype: type = np.float64) -> Network:
    """The reference Network computing what `model` computes, with a copy of its weights.

    `layers` gives the modules in forward order for a model whose forward is not a plain
    sequence; by default nn.Sequential and the AlexNet layout are read as such.
    Raises ConfigError naming the first module the engine does not cover.
    """
    out: list[tuple[str, Layer]] = []
    if layers is None:
        _convert("", model, dtype, out)
    else:
        for name, module in layers:
            _convert(name, module, dtype, out)
    return Network(out)


def covers(model: nn.Module) -> str | None:
    """None when the reference engine covers `model`, else the reason why not."""
    try:
        from_torch(model)
    except ConfigError as exc:
        return str(exc)
    return None
