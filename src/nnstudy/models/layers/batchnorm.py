"""`batchnorm` (eps, momentum): BatchNorm1d after a flat input, BatchNorm2d after an image."""

from __future__ import annotations

from torch import nn

from nnstudy.config import layers as spec
from nnstudy.errors import ShapeError
from nnstudy.models.layers.kind import LayerKind, Shape, as_array, register
from nnstudy.models.layers.shape import fmt
from nnstudy.reference.batchnorm import BatchNorm


def _build(layer: spec.BatchNorm, shape: Shape, name: str) -> tuple[nn.Module, Shape]:
    cls = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
    if len(shape) not in (1, 3):
        raise ShapeError(f"{name}: needs a flat or C x H x W input, got {fmt(shape)}")
    return cls(shape[0], eps=layer.eps, momentum=layer.momentum), shape


def _to_reference(m: nn.modules.batchnorm._BatchNorm, dtype) -> BatchNorm:
    running = m.track_running_stats and m.running_mean is not None
    return BatchNorm(
        as_array(m.weight, dtype) if m.affine else None,
        as_array(m.bias, dtype) if m.affine else None,
        as_array(m.running_mean, dtype) if running else None,
        as_array(m.running_var, dtype) if running else None,
        m.eps, m.momentum, int(m.num_batches_tracked) if running else 0,
    )


BATCHNORM = register(LayerKind(
    spec=spec.BatchNorm, modules=(nn.BatchNorm1d, nn.BatchNorm2d), family="norm", prefix="bn",
    build=_build, to_reference=_to_reference,
    # The kernels' names vary across torch versions; add_ counts num_batches_tracked.
    ops=("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
         "_batch_norm_with_update", "_batch_norm_no_update", "native_batch_norm_backward",
         "batch_norm_backward", "add_"),
))
