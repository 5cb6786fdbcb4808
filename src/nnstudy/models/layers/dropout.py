"""`{dropout: p}`: in training, zero each element with probability p and scale the rest
by 1 / (1 - p); the identity in eval mode."""

from __future__ import annotations

from torch import nn

from nnstudy.config import layers as spec
from nnstudy.models.layers.kind import LayerKind, Shape, register
from nnstudy.reference.dropout import Dropout


def _build(layer: spec.Dropout, shape: Shape, name: str) -> tuple[nn.Module, Shape]:
    return nn.Dropout(layer.p), shape


DROPOUT = register(LayerKind(
    spec=spec.Dropout, modules=(nn.Dropout,), family="dropout", prefix="drop", build=_build,
    to_reference=lambda m, dtype: Dropout(m.p),
    # CPU: the mask drawn, scaled, multiplied (and again backward); CUDA: one fused kernel.
    ops=("bernoulli_", "div_", "mul", "native_dropout", "native_dropout_backward"),
))
