"""`{linear: out}`: y = x W^T + b on a flat input (a flatten is put before an image)."""

from __future__ import annotations

from torch import nn

from nnstudy.config import layers as spec
from nnstudy.errors import ShapeError
from nnstudy.models.layers.kind import LayerKind, Shape, as_array, register
from nnstudy.models.layers.shape import fmt
from nnstudy.reference.linear import Linear


def _build(layer: spec.Linear, shape: Shape, name: str) -> tuple[nn.Module, Shape]:
    if len(shape) != 1:
        raise ShapeError(f"{name}: needs a flat input, got {fmt(shape)}; put flatten before it")
    return nn.Linear(shape[0], layer.out, bias=layer.bias), (layer.out,)


LINEAR = register(LayerKind(
    spec=spec.Linear, modules=(nn.Linear,), family="linear", prefix="fc", build=_build,
    to_reference=lambda m, dtype: Linear(as_array(m.weight, dtype), as_array(m.bias, dtype)),
    ops=("addmm", "mm", "sum"), decayed=("weight",),
))
