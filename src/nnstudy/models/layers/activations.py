"""The activations: for each spec, its torch module, its gradient for the hand-written
training pass, its NumPy twin and the aten operators that price it.

Each gradient is autograd's own kernel (`torch.ops.aten.*_backward`, what `loss.backward()`
runs for that module), its scalar arguments named (`RELU_THRESHOLD`, `LAST_AXIS`, or
keywords), so that the hand-written pass (`nnstudy.training.dense`) gives autograd's
numbers. To add an activation: its spec in `nnstudy.config.layers`, one `activation(...)`
entry here, its NumPy forward and backward in `nnstudy.reference.activations`, and tests
(docs/models.md walks through it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from nnstudy.config import layers as spec
from nnstudy.errors import ConfigError
from nnstudy.models.layers.kind import Backward, LayerKind, ToReference, register
from nnstudy.reference import activations as ref

aten = torch.ops.aten

RELU_THRESHOLD = 0.0  # relu's gradient passes where the output is above this
LAST_AXIS = -1  # softmax and log-softmax normalize each sample over its classes


class LinearActivation(nn.Module):
    """The "linear" activation of the reports: y = a * x + c, element-wise.

    Stacking affine layers with this activation between them computes one affine map
    (see `nnstudy.analysis.collapse`): depth adds no expressiveness.

    Args:
        a: slope (default 1.0).
        c: offset (default 0.0).
    """

    def __init__(self, a: float = 1.0, c: float = 0.0) -> None:
        super().__init__()
        self.a = float(a)
        self.c = float(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.a + self.c

    def extra_repr(self) -> str:
        return f"a={self.a}, c={self.c}"


def activation(layer: type[spec.LayerSpec], module: type[nn.Module], *,
               backward: Backward, reference: ToReference, ops: tuple[str, ...],
               make: Callable[[spec.LayerSpec], nn.Module] | None = None,
               dense_covers: Callable[[nn.Module], bool] = lambda m: True,
               elementwise: bool = True, prefix: str = "") -> LayerKind:
    """Register an activation: the output has the input's shape, element-wise unless
    `elementwise=False` (softmax: per sample). `make` builds the module from the spec
    (default: `module()`)."""
    make = make or (lambda s: module())
    return register(LayerKind(
        spec=layer, modules=(module,), family="activation", prefix=prefix,
        build=lambda s, shape, name: (make(s), shape), to_reference=reference, ops=ops,
        backward=backward, dense_covers=dense_covers, elementwise=elementwise,
    ))


def _softmax_dim(m: nn.Softmax | nn.LogSoftmax) -> int:
    if m.dim is None:
        raise ConfigError(
            f"reference engine: {type(m).__name__}(dim=None) is not covered; give dim")
    return m.dim


def _not_in_place(m: nn.Module) -> bool:
    return not m.inplace  # in place, the input the gradient needs is gone


def _over_last_axis(m: nn.Softmax | nn.LogSoftmax) -> bool:
    return m.dim == LAST_AXIS


def _scaled(m: LinearActivation, dy: Tensor) -> Tensor:
    return dy * m.a if m.a != 1.0 else dy


# y = x; dy/dx = 1
IDENTITY = activation(
    spec.Identity, nn.Identity,
    backward=lambda m, dy, x, y: dy,
    reference=lambda m, dtype: ref.Identity(),
    ops=(),
)

# y = a x + c; dy/dx = a
LINEAR_ACTIVATION = activation(
    spec.LinearActivation, LinearActivation, prefix="linact",
    make=lambda s: LinearActivation(s.a, s.c),
    backward=lambda m, dy, x, y: _scaled(m, dy),
    reference=lambda m, dtype: ref.LinearActivation(m.a, m.c),
    ops=("mul", "add"),
)

# y = 1 / (1 + e^-x); dy/dx = y (1 - y)
SIGMOID = activation(
    spec.Sigmoid, nn.Sigmoid,
    backward=lambda m, dy, x, y: aten.sigmoid_backward(dy, y),
    reference=lambda m, dtype: ref.Sigmoid(),
    ops=("sigmoid", "sigmoid_backward"),
)

# y = tanh x; dy/dx = 1 - y^2
TANH = activation(
    spec.Tanh, nn.Tanh,
    backward=lambda m, dy, x, y: aten.tanh_backward(dy, y),
    reference=lambda m, dtype: ref.Tanh(),
    ops=("tanh", "tanh_backward"),
)

# y = max(x, 0); dy/dx = [y > 0]
RELU = activation(
    spec.ReLU, nn.ReLU,
    backward=lambda m, dy, x, y: aten.threshold_backward(dy, y, RELU_THRESHOLD),
    reference=lambda m, dtype: ref.ReLU(),
    ops=("relu", "threshold_backward"),
)

# y = x if x > 0 else slope x; dy/dx = 1 or slope
LEAKY_RELU = activation(
    spec.LeakyReLU, nn.LeakyReLU,
    make=lambda s: nn.LeakyReLU(s.slope),
    backward=lambda m, dy, x, y: aten.leaky_relu_backward(
        dy, x, negative_slope=m.negative_slope, self_is_result=False),
    dense_covers=_not_in_place,
    reference=lambda m, dtype: ref.LeakyReLU(m.negative_slope),
    ops=("leaky_relu", "leaky_relu_backward"),
)

# y = x if x > 0 else alpha (e^x - 1); dy/dx = 1 or alpha e^x
ELU = activation(
    spec.ELU, nn.ELU,
    make=lambda s: nn.ELU(s.alpha),
    backward=lambda m, dy, x, y: aten.elu_backward(
        dy, alpha=m.alpha, scale=1.0, input_scale=1.0, is_result=False, self_or_result=x),
    dense_covers=_not_in_place,
    reference=lambda m, dtype: ref.ELU(m.alpha),
    ops=("elu", "elu_backward"),
)

# y = x Phi(x); dy/dx = Phi(x) + x phi(x)
GELU = activation(
    spec.GELU, nn.GELU,
    backward=lambda m, dy, x, y: aten.gelu_backward(dy, x, approximate=m.approximate),
    reference=lambda m, dtype: ref.GELU(m.approximate),
    ops=("gelu", "gelu_backward"),
)

# y = x sigmoid(x); dy/dx = sigmoid(x) (1 + x (1 - sigmoid(x)))
SILU = activation(
    spec.SiLU, nn.SiLU,
    backward=lambda m, dy, x, y: aten.silu_backward(dy, x),
    dense_covers=_not_in_place,
    reference=lambda m, dtype: ref.SiLU(),
    ops=("silu", "silu_backward"),
)

# y_i = e^{x_i} / sum_j e^{x_j}; dx = y (dy - sum_j dy_j y_j)
SOFTMAX = activation(
    spec.Softmax, nn.Softmax,
    make=lambda s: nn.Softmax(dim=LAST_AXIS),
    backward=lambda m, dy, x, y: aten._softmax_backward_data(dy, y, LAST_AXIS, y.dtype),
    dense_covers=_over_last_axis, elementwise=False,
    reference=lambda m, dtype: ref.Softmax(_softmax_dim(m)),
    ops=("_softmax", "_softmax_backward_data"),
)

# y_i = x_i - log sum_j e^{x_j}; dx = dy - e^y sum_j dy_j
LOG_SOFTMAX = activation(
    spec.LogSoftmax, nn.LogSoftmax, prefix="logsoftmax",
    make=lambda s: nn.LogSoftmax(dim=LAST_AXIS),
    backward=lambda m, dy, x, y: aten._log_softmax_backward_data(dy, y, LAST_AXIS, y.dtype),
    dense_covers=_over_last_axis, elementwise=False,
    reference=lambda m, dtype: ref.LogSoftmax(_softmax_dim(m)),
    ops=("_log_softmax", "_log_softmax_backward_data"),
)
