"""`flatten`: C x H x W -> C*H*W (a view: no arithmetic)."""

from __future__ import annotations

import math

from torch import nn

from nnstudy.config import layers as spec
from nnstudy.models.layers.kind import LayerKind, Shape, register
from nnstudy.reference.flatten import Flatten


def _build(layer: spec.Flatten, shape: Shape, name: str) -> tuple[nn.Module, Shape]:
    return nn.Flatten(), (math.prod(shape),)


FLATTEN = register(LayerKind(
    spec=spec.Flatten, modules=(nn.Flatten,), family="reshape", build=_build,
    to_reference=lambda m, dtype: Flatten(m.start_dim, m.end_dim), ops=(),
))
