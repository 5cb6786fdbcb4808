"""What one aten operator costs, in the textbook convention of docs/counting.md.

Every counted operator maps to an `OpCost`: multiplications, additions (subtractions
count as additions), divisions, comparisons, special functions (exp, log, sqrt, tanh,
erf: one each) and the additions that apply a bias, kept apart so that every figure
exists with and without bias. MACs are the multiply-accumulates of the matrix-like
operators (convolution, mm, addmm, bmm, mv, dot) and of their gradients.

The central rule, for a convolution or a matrix product, per output element::

    n = C_in / groups * k_h * k_w      (or n = in_features)
    MACs = n,  FLOPs = n mults + (n - 1) adds  (+ 1 add for the bias)

`op_cost(func, args, kwargs, out)` returns the cost of one call, `FREE` when the
operator moves or views data without arithmetic, or the string to list under
"uncounted" when no formula applies. Nothing is silently zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch

__all__ = ["BIAS_ARGUMENT", "FREE", "FREE_OPS", "OpCost", "bias_argument", "op_cost"]


@dataclass(frozen=True)
class OpCost:
    """Arithmetic of one operator call (or a sum of calls).

    `flops_no_bias = mults + adds + divs + comparisons + special`, and
    `flops = flops_no_bias + bias`. Example: a conv output with n = 800 inputs costs
    `OpCost(macs=800, mults=800, adds=799, bias=1)`, i.e. 1,599 FLOPs without bias.
    """

    macs: int = 0
    mults: int = 0
    adds: int = 0
    divs: int = 0
    comparisons: int = 0
    special: int = 0
    bias: int = 0

    @property
    def flops_no_bias(self) -> int:
        return self.mults + self.adds + self.divs + self.comparisons + self.special

    @property
    def flops(self) -> int:
        return self.flops_no_bias + self.bias

    def __add__(self, other: OpCost) -> OpCost:
        return OpCost(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __mul__(self, factor: int) -> OpCost:
        return OpCost(*(getattr(self, f.name) * factor for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        """All counts plus `flops` and `flops_no_bias`, as plain ints."""
        counts = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**counts, "flops": self.flops, "flops_no_bias": self.flops_no_bias}


class _Free:
    """Marker: the operator views, copies or creates data and does no arithmetic."""

    def __repr__(self) -> str:
        return "FREE"


FREE = _Free()

CostFn = Callable[[dict[str, Any], Any], "OpCost | str"]
_COSTS: dict[Any, CostFn] = {}

# Which argument of an operator is a bias (its additions go to `OpCost.bias`); the
# parameters passed there are the model's biases.
BIAS_ARGUMENT: dict[str, str] = {}


def _packets(names: Iterable[str]) -> list[Any]:
    found = []
    for name in names:
        try:
            found.append(getattr(torch.ops.aten, name))
        except (AttributeError, RuntimeError):
            continue  # an operator this torch version does not have
    return found


def _register(*names: str, bias: str | None = None) -> Callable[[CostFn], CostFn]:
    def wrap(fn: CostFn) -> CostFn:
        for packet in _packets(names):
            _COSTS[packet] = fn
            if bias is not None:
                BIAS_ARGUMENT[str(packet)] = bias
        return fn

    return wrap


# Views, reshapes, copies, creation, selection and indexing: no arithmetic.
_FREE_NAMES = """
    view _unsafe_view _reshape_alias reshape view_as t t_ transpose transpose_ permute
    expand expand_as squeeze squeeze_ unsqueeze unsqueeze_ flatten unflatten as_strided
    alias detach detach_ clone copy_ _to_copy to contiguous slice select narrow split
    split_with_sizes unbind chunk cat stack index_select gather embedding zeros ones
    empty full zeros_like ones_like empty_like full_like new_zeros new_ones new_empty
    new_full empty_strided fill_ fill zero_ scalar_tensor lift_fresh lift_fresh_copy
    _local_scalar_dense arange where masked_fill masked_fill_ constant_pad_nd resize_
    set_ _unsafe_index select_backward slice_backward
"""
FREE_OPS: frozenset[Any] = frozenset(_packets(_FREE_NAMES.split()))


def bias_argument(func: Any) -> str | None:
    """Name of the argument of `func` that carries a bias, if it has one."""
    return BIAS_ARGUMENT.get(str(func.overloadpacket))


def bind_arguments(func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of one aten call by schema name, defaults filled in."""
    bound: dict[str, Any] = {}
    for i, arg in enumerate(func._schema.arguments):
        if i < len(args):
            bound[arg.name] = args[i]
        elif arg.name in kwargs:
            bound[arg.name] = kwargs[arg.name]
        elif arg.has_default_value():
            bound[arg.name] = arg.default_value
        else:
            bound[arg.name] = None
    return bound


def op_cost(func: Any, args: Sequence[Any], kwargs: dict[str, Any], out: Any) -> OpCost | str:
    """Cost of one call of the aten operator `func`, `FREE`, or the name to list as uncounted.

    >>> x, w = torch.ones(1, 50, 12, 12), torch.ones(20, 50, 4, 4)
    >>> y = torch.ops.aten.convolution.default(x, w, None, [2, 2], [1, 1], [1, 1], False, [0, 0], 1)
    >>> op_cost(torch.ops.aten.convolution.default, (x, w, None, [2, 2], [1, 1], [1, 1],
    ...         False, [0, 0], 1), {}, y).flops
    1151280
    """
    packet = func.overloadpacket
    if packet in FREE_OPS:
        return FREE  # type: ignore[return-value]
    fn = _COSTS.get(packet)
    if fn is None:
        return _name(func)
    return fn(bind_arguments(func, args, kwargs), out)


def has_formula(func: Any) -> bool:
    """True when `func` is free or has a cost formula (else it may be decomposed)."""
    return func.overloadpacket in FREE_OPS or func.overloadpacket in _COSTS


def _name(func: Any) -> str:
    return str(func.overloadpacket).removeprefix("aten.")


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _numel(out: Any) -> int:
    return _first(out).numel()


def _ntuple(value: Any, n: int) -> list[int]:
    if isinstance(value, int):
        return [value] * n
    values = list(value)
    return values * n if len(values) == 1 else values


# --- convolution and matrix products ------------------------------------------------


@_register("convolution", "_convolution", bias="bias")
def _convolution(a: dict[str, Any], out: Any) -> OpCost:
    """Per output: n = C_in/groups * prod(kernel) mults, n - 1 adds, 1 bias add.

    Transposed: each input element is multiplied by the C_out/groups * prod(kernel)
    weights; the P products that land in the output (not cropped by padding) are summed
    into the outputs: P mults, P - (outputs that receive any) adds, 1 bias add each.
    """
    weight, outputs = a["weight"], _numel(out)
    bias = outputs if a["bias"] is not None else 0
    if a["transposed"]:
        result = _first(out)
        pairs, covered_out, _, _ = conv_geometry(result.shape, a["input"].shape, weight, a)
        products = result.shape[0] * weight.shape[0] * weight.shape[1] * pairs
        adds = products - result.shape[0] * result.shape[1] * covered_out
        return OpCost(macs=products, mults=products, adds=adds, bias=bias)
    n = math.prod(weight.shape[1:])
    return OpCost(macs=n * outputs, mults=n * outputs, adds=(n - 1) * outputs, bias=bias)


def _matmul(batch: int, m: int, n: int, p: int) -> OpCost:
    """(m x n) @ (n x p), `batch` times: m*p outputs of n mults and n - 1 adds."""
    outputs = batch * m * p
    return OpCost(macs=outputs * n, mults=outputs * n, adds=outputs * (n - 1))


def _scaled(cost: OpCost, outputs: int, a: dict[str, Any], has_bias: bool) -> OpCost:
    """Add the bias and the alpha/beta scalings of addmm-like operators."""
    beta, alpha = a.get("beta", 1), a.get("alpha", 1)
    extra = OpCost(mults=outputs if alpha != 1 else 0)
    if has_bias and beta != 0:
        extra = extra + OpCost(bias=outputs * (2 if beta != 1 else 1))
    return cost + extra


@_register("mm")
def _mm(a: dict[str, Any], out: Any) -> OpCost:
    (m, n), p = a["self"].shape, a["mat2"].shape[1]
    return _matmul(1, m, n, p)


@_register("addmm", bias="self")
def _addmm(a: dict[str, Any], out: Any) -> OpCost:
    (m, n), p = a["mat1"].shape, a["mat2"].shape[1]
    return _scaled(_matmul(1, m, n, p), m * p, a, has_bias=True)


@_register("bmm")
def _bmm(a: dict[str, Any], out: Any) -> OpCost:
    (b, m, n), p = a["self"].shape, a["mat2"].shape[2]
    return _matmul(b, m, n, p)


@_register("baddbmm", bias="self")
def _baddbmm(a: dict[str, Any], out: Any) -> OpCost:
    (b, m, n), p = a["batch1"].shape, a["batch2"].shape[2]
    return _scaled(_matmul(b, m, n, p), b * m * p, a, has_bias=True)


@_register("mv")
def _mv(a: dict[str, Any], out: Any) -> OpCost:
    m, n = a["self"].shape
    return _matmul(1, m, n, 1)


@_register("addmv", bias="self")
def _addmv(a: dict[str, Any], out: Any) -> OpCost:
    m, n = a["mat"].shape
    return _scaled(_matmul(1, m, n, 1), m, a, has_bias=True)


@_register("dot", "vdot")
def _dot(a: dict[str, Any], out: Any) -> OpCost:
    return _matmul(1, 1, a["self"].numel(), 1)


# --- pooling and reductions -----------------------------------------------------------


def _spatial(a: dict[str, Any], dims: int) -> tuple[list[int], list[int], list[int], list[int]]:
    kernel = _ntuple(a["kernel_size"], dims)
    stride = _ntuple(a.get("stride") or kernel, dims)
    padding = _ntuple(a.get("padding", 0), dims)
    dilation = _ntuple(a.get("dilation", 1), dims)
    return kernel, stride, padding, dilation


def _max_pool(dims: int) -> CostFn:
    def cost(a: dict[str, Any], out: Any) -> OpCost:
        """k_h * k_w - 1 comparisons per output."""
        kernel = _spatial(a, dims)[0]
        return OpCost(comparisons=_numel(out) * (math.prod(kernel) - 1))

    return cost


def _avg_pool(dims: int) -> CostFn:
    def cost(a: dict[str, Any], out: Any) -> OpCost:
        """k_h * k_w - 1 adds and 1 division per output."""
        kernel = _spatial(a, dims)[0]
        outputs = _numel(out)
        return OpCost(adds=outputs * (math.prod(kernel) - 1), divs=outputs)

    return cost


for _d in (1, 2, 3):
    _register(f"max_pool{_d}d", f"max_pool{_d}d_with_indices")(_max_pool(_d))
    _register(f"avg_pool{_d}d")(_avg_pool(_d))


def adaptive_windows(length: int, out_length: int) -> list[range]:
    """Windows of adaptive pooling: [floor(i*L/O), ceil((i+1)*L/O)) for each output i."""
    return [
        range((i * length) // out_length, -(-((i + 1) * length) // out_length))
        for i in range(out_length)
    ]


def _adaptive_terms(a: dict[str, Any], out: Any) -> tuple[int, int]:
    """(sum over outputs of window size, number of outputs): windows may differ in size."""
    x, result = a["self"], _first(out)
    dims = len(a["output_size"])
    planes = math.prod(result.shape[:-dims]) if result.dim() > dims else 1
    terms = planes
    for length, out_length in zip(x.shape[-dims:], result.shape[-dims:], strict=True):
        terms *= sum(len(w) for w in adaptive_windows(length, out_length))
    return terms, result.numel()


@_register("_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_avg_pool1d")
def _adaptive_avg(a: dict[str, Any], out: Any) -> OpCost:
    """Per output with a window of w elements: w - 1 adds and 1 division."""
    terms, outputs = _adaptive_terms(a, out)
    return OpCost(adds=terms - outputs, divs=outputs)


@_register("adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d")
def _adaptive_max(a: dict[str, Any], out: Any) -> OpCost:
    """Per output with a window of w elements: w - 1 comparisons."""
    terms, outputs = _adaptive_terms(a, out)
    return OpCost(comparisons=terms - outputs)


def _reduced(a: dict[str, Any], out: Any) -> tuple[int, int]:
    outputs = max(_numel(out), 1)
    return a["self"].numel() // outputs, outputs


@_register("sum")
def _sum(a: dict[str, Any], out: Any) -> OpCost:
    """n - 1 adds per output, n the number of elements summed."""
    n, outputs = _reduced(a, out)
    return OpCost(adds=(n - 1) * outputs)


@_register("mean")
def _mean(a: dict[str, Any], out: Any) -> OpCost:
    """n - 1 adds and 1 division per output."""
    n, outputs = _reduced(a, out)
    return OpCost(adds=(n - 1) * outputs, divs=outputs)


@_register("amax", "amin", "max", "min", "argmax", "argmin")
def _extreme(a: dict[str, Any], out: Any) -> OpCost | str:
    """n - 1 comparisons per output (max(a, b) element-wise: 1 comparison)."""
    other = a.get("other")
    if isinstance(other, torch.Tensor):
        return OpCost(comparisons=_numel(out))
    n, outputs = _reduced(a, out)
    return OpCost(comparisons=(n - 1) * outputs)


# --- element-wise operators -----------------------------------------------------------


def _per_element(**counts: int) -> CostFn:
    def cost(a: dict[str, Any], out: Any) -> OpCost:
        return OpCost(**counts) * _numel(out)

    return cost


def _elementwise(names: str, **counts: int) -> None:
    variants = []
    for name in names.split():
        variants += [name, f"{name}_"]
    _register(*variants)(_per_element(**counts))


_elementwise(
    "relu threshold abs eq ne lt le gt ge maximum minimum fmax fmin clamp_min clamp_max",
    comparisons=1,
)
_elementwise("hardtanh", comparisons=2)
_elementwise("leaky_relu", comparisons=1, mults=1)
_elementwise("mul neg", mults=1)
_elementwise("div reciprocal", divs=1)
_elementwise("exp log log1p expm1 sqrt rsqrt erf tanh sin cos", special=1)
_elementwise("sigmoid", special=1, adds=1, divs=1)
# x * s with s = 1/(1 + exp(-x)): the sigmoid's exp, add and division, then 1 mult.
_elementwise("silu", special=1, adds=1, divs=1, mults=1)
# Dropout's mask: one draw compared with p per element.
_elementwise("bernoulli", comparisons=1)
_elementwise("threshold_backward", comparisons=1)
_elementwise("hardtanh_backward", comparisons=2)
_elementwise("leaky_relu_backward", comparisons=1, mults=1)
_elementwise("sigmoid_backward tanh_backward", mults=2, adds=1)
# g * s * (1 + x * (1 - s)): s again (3), then 2 adds and 3 mults.
_elementwise("silu_backward", special=1, adds=3, divs=1, mults=3)


@_register("add", "add_", "sub", "sub_", "rsub")
def _add(a: dict[str, Any], out: Any) -> OpCost:
    """1 add per output element, plus 1 mult when alpha != 1."""
    outputs = _numel(out)
    return OpCost(adds=outputs, mults=outputs if a.get("alpha", 1) != 1 else 0)


@_register("clamp", "clamp_")
def _clamp(a: dict[str, Any], out: Any) -> OpCost:
    bounds = (a.get("min") is not None) + (a.get("max") is not None)
    return OpCost(comparisons=bounds * _numel(out))


@_register("pow", "pow_")
def _pow(a: dict[str, Any], out: Any) -> OpCost:
    """x**k for an integer k >= 1: k - 1 mults per element; any other power: 1 special."""
    exponent = a.get("exponent")
    if isinstance(exponent, (int, float)) and float(exponent).is_integer() and exponent >= 1:
        return OpCost(mults=int(exponent) - 1) * _numel(out)
    return OpCost(special=_numel(out))


@_register("elu", "elu_")
def _elu(a: dict[str, Any], out: Any) -> OpCost:
    """x > 0 ? x : alpha * (exp(x) - 1): 1 comparison, 1 exp, 1 add, 1 mult per element
    (both branches, so the count does not depend on the data); SELU's scales add mults."""
    mults = 1 + (a.get("scale", 1) != 1) + (a.get("input_scale", 1) != 1)
    return OpCost(comparisons=1, special=1, adds=1, mults=mults) * _numel(out)


@_register("elu_backward")
def _elu_backward(a: dict[str, Any], out: Any) -> OpCost:
    """g * (y + alpha) on the negative side: 1 comparison, 1 add, 1 mult per element."""
    mults = 1 + (a.get("scale", 1) != 1) + (a.get("input_scale", 1) != 1)
    return OpCost(comparisons=1, adds=1, mults=mults) * _numel(out)


@_register("gelu", "gelu_")
def _gelu(a: dict[str, Any], out: Any) -> OpCost:
    """Exact: x * 0.5 * (1 + erf(x / sqrt 2)) = 3 mults, 1 add, 1 erf per element.
    tanh form: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) = 6 mults, 2 adds, 1 tanh."""
    if a.get("approximate", "none") == "tanh":
        return OpCost(mults=6, adds=2, special=1) * _numel(out)
    return OpCost(mults=3, adds=1, special=1) * _numel(out)


@_register("gelu_backward")
def _gelu_backward(a: dict[str, Any], out: Any) -> OpCost:
    """g * (Phi(x) + x phi(x)); exact form 7 mults, 2 adds, 2 special per element,
    tanh form 12 mults, 5 adds, 1 tanh."""
    if a.get("approximate", "none") == "tanh":
        return OpCost(mults=12, adds=5, special=1) * _numel(out)
    return OpCost(mults=7, adds=2, special=2) * _numel(out)


@_register("softplus")
def _softplus(a: dict[str, Any], out: Any) -> OpCost:
    """log(1 + exp(beta x)) / beta, linear above the threshold: 1 comparison, 2 special,
    1 add per element, plus 1 mult and 1 division when beta != 1."""
    scaled = 1 if a.get("beta", 1) != 1 else 0
    return OpCost(comparisons=1, special=2, adds=1, mults=scaled, divs=scaled) * _numel(out)


@_register("softplus_backward")
def _softplus_backward(a: dict[str, Any], out: Any) -> OpCost:
    """g * sigmoid(beta x) below the threshold: 1 comparison, 1 exp, 1 add, 1 division,
    1 mult per element, plus 1 mult when beta != 1."""
    scaled = 1 if a.get("beta", 1) != 1 else 0
    return OpCost(comparisons=1, special=1, adds=1, divs=1, mults=1 + scaled) * _numel(out)


@_register("native_dropout")
def _native_dropout(a: dict[str, Any], out: Any) -> OpCost:
    """Training: 1 comparison (the mask) and 2 mults (x * mask * 1/(1-p)) per element."""
    if a.get("train") is False:
        return OpCost()
    return OpCost(comparisons=1, mults=2) * _numel(out)


@_register("native_dropout_backward")
def _native_dropout_backward(a: dict[str, Any], out: Any) -> OpCost:
    return OpCost(mults=2) * _numel(out)


# --- softmax ----------------------------------------------------------------------------


def _rows(x: torch.Tensor, dim: int) -> tuple[int, int]:
    k = x.shape[dim] if x.dim() else 1
    return x.numel() // max(k, 1), k


@_register("_softmax", "_safe_softmax")
def _softmax(a: dict[str, Any], out: Any) -> OpCost:
    """Per row of K: K exps, K - 1 adds, K divisions (the max shift for stability is
    not counted: it changes no value)."""
    rows, k = _rows(a["self"], a["dim"])
    return OpCost(special=k, adds=k - 1, divs=k) * rows


@_register("_log_softmax")
def _log_softmax(a: dict[str, Any], out: Any) -> OpCost:
    """x - log(sum exp x), per row of K: K exps, 1 log, K - 1 adds, K subtractions."""
    rows, k = _rows(a["self"], a["dim"])
    return OpCost(special=k + 1, adds=2 * k - 1) * rows


@_register("_softmax_backward_data")
def _softmax_backward(a: dict[str, Any], out: Any) -> OpCost:
    """y * (g - sum(g * y)), per row of K: 2K mults, K - 1 adds, K subtractions."""
    rows, k = _rows(a["grad_output"], a["dim"])
    return OpCost(mults=2 * k, adds=2 * k - 1) * rows


@_register("_log_softmax_backward_data")
def _log_softmax_backward(a: dict[str, Any], out: Any) -> OpCost:
    """g - exp(y) * sum(g), per row of K: K exps, K mults, K - 1 adds, K subtractions."""
    rows, k = _rows(a["grad_output"], a["dim"])
    return OpCost(special=k, mults=k, adds=2 * k - 1) * rows


@_register(
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
)
def _attention(a: dict[str, Any], out: Any) -> OpCost:
    """softmax(Q K^T * scale + mask) V, per batch and head, Q: L x E, K: S x E, V: S x Ev:
    Q K^T as a matrix product (L*S outputs of E), L*S scaling mults (+ L*S mask adds),
    softmax over each of the L rows (3S - 1), then (L x S)(S x Ev). A causal mask is
    counted as the full matrix."""
    q, k, v = a["query"], a["key"], a["value"]
    heads = math.prod(q.shape[:-2])
    length, embed, source, value_dim = q.shape[-2], q.shape[-1], k.shape[-2], v.shape[-1]
    scores = _matmul(heads, length, embed, source)
    mask = heads * length * source if a.get("attn_mask") is not None else 0
    scale = OpCost(mults=heads * length * source, adds=mask)
    softmax = OpCost(special=source, adds=source - 1, divs=source) * (heads * length)
    return scores + scale + softmax + _matmul(heads, length, source, value_dim)


# --- normalization ----------------------------------------------------------------------


def _normalize(groups: int, m: int, training: bool, weight: bool, bias: bool) -> OpCost:
    """Normalize `groups` groups of m elements each.

    Statistics (training only), per group: mean m - 1 adds + 1 div; variance m subs,
    m mults, m - 1 adds, 1 div. Per group: 1/sqrt(var + eps) = 1 add, 1 sqrt, 1 div.
    Per element: (x - mean) * inv_std (the subtraction is shared with the variance when
    training), times gamma, plus beta (a bias).
    """
    elements = groups * m
    stats = OpCost(adds=3 * m - 2, mults=m, divs=2) * groups if training else OpCost()
    subtract = OpCost() if training else OpCost(adds=elements)
    inv_std = OpCost(adds=1, special=1, divs=1) * groups
    scale = OpCost(mults=elements * (1 + weight), bias=elements if bias else 0)
    return stats + subtract + inv_std + scale


def _batch_norm(training: bool | None) -> CostFn:
    def cost(a: dict[str, Any], out: Any) -> OpCost:
        """Batch norm over C channels of m = N*H*W values each; running statistics, when
        tracked in training, cost 7 per channel (2 momentum updates of 2 mults and 1 add,
        and 1 mult for the unbiased variance)."""
        x = a["input"]
        train = a["training"] if training is None else training
        channels = x.shape[1] if x.dim() > 1 else 1
        cost = _normalize(
            channels,
            x.numel() // channels,
            bool(train),
            a["weight"] is not None,
            a["bias"] is not None,
        )
        if train and a.get("running_mean") is not None:
            cost = cost + OpCost(mults=5, adds=2) * channels
        return cost

    return cost


_register("native_batch_norm", "_native_batch_norm_legit", bias="bias")(_batch_norm(None))
_register("_native_batch_norm_legit_no_training", "_batch_norm_no_update", bias="bias")(
    _batch_norm(False)
)
_register("_batch_norm_with_update", bias="bias")(_batch_norm(True))
_register("_native_batch_norm_legit_functional", bias="bias")(_batch_norm(None))


@_register("native_layer_norm", bias="bias")
def _layer_norm(a: dict[str, Any], out: Any) -> OpCost:
    """Layer norm: the statistics of each group of m = prod(normalized_shape) values."""
    x = a["input"]
    m = math.prod(a["normalized_shape"])
    return _normalize(x.numel() // m, m, True, a["weight"] is not None, a["bias"] is not None)


def _normalize_backward(
    groups: int, m: int, mask: Sequence[bool], training: bool, weight: bool
) -> OpCost:
    """Gradient of a normalization, groups of m elements.

    x_hat = (x - mean) * inv_std again (1 sub, 1 mult per element); sum(g) (m - 1 adds
    per group: grad beta, and grad x when training); sum(g * x_hat) (m mults, m - 1 adds:
    grad gamma, and grad x when training); grad x, training:
    gamma * inv_std / m * (m g - sum g - x_hat sum(g x_hat)) = 5 per element, 2 per
    group; not training: g * (gamma * inv_std) = 1 per element, 1 per group.
    """
    elements = groups * m
    need_input, need_weight, need_bias = (bool(v) for v in mask)
    cost = OpCost()
    if need_weight or (need_input and training):
        cost = cost + OpCost(adds=elements, mults=elements)  # x_hat
        cost = cost + OpCost(mults=elements, adds=elements - groups)  # sum(g * x_hat)
    if need_bias or (need_input and training):
        cost = cost + OpCost(adds=elements - groups)  # sum(g)
    if need_input and training:
        cost = cost + OpCost(mults=3 * elements, adds=2 * elements)
        cost = cost + OpCost(mults=groups if weight else 0, divs=groups)
    elif need_input:
        cost = cost + OpCost(mults=elements + (groups if weight else 0))
    return cost


@_register("native_batch_norm_backward", "batch_norm_backward")
def _batch_norm_backward(a: dict[str, Any], out: Any) -> OpCost:
    x = a["input"]
    channels = x.shape[1] if x.dim() > 1 else 1
    training = a["train"] if "train" in a else a["update"]
    return _normalize_backward(
        channels, x.numel() // channels, a["output_mask"], bool(training), a["weight"] is not None
    )


@_register("native_layer_norm_backward")
def _layer_norm_backward(a: dict[str, Any], out: Any) -> OpCost:
    """As batch norm in training, plus grad gamma and grad beta summed over the groups:
    (groups - 1) * m adds each (on top of the per-group sums)."""
    x, mask = a["input"], a["output_mask"]
    m = math.prod(a["normalized_shape"])
    groups = x.numel() // m
    cost = _normalize_backward(groups, m, (mask[0], False, False), True, a["weight"] is not None)
    if mask[1]:
        cost = cost + OpCost(adds=2 * groups * m - m, mults=2 * groups * m)
    if mask[2]:
        cost = cost + OpCost(adds=(groups - 1) * m)
    return cost


# --- gradients of convolution and pooling -------------------------------------------------


def window_counts(
    length: int, out_length: int, kernel: int, stride: int, padding: int, dilation: int
) -> tuple[list[int], list[int], list[int]]:
    """For one spatial dimension of a sliding window, the pairs (o, k) of a window o and
    a kernel offset k that reach a real input position i = o*stride - padding + k*dilation
    (0 <= i < length): how many pairs land on each i, belong to each o, use each k."""
    per_input, per_window, per_offset = [0] * length, [0] * out_length, [0] * kernel
    for o in range(out_length):
        for k in range(kernel):
            i = o * stride - padding + k * dilation
            if 0 <= i < length:
                per_input[i] += 1
                per_window[o] += 1
                per_offset[k] += 1
    return per_input, per_window, per_offset


def _nonzero(counts: Sequence[int]) -> int:
    return sum(1 for c in counts if c)


def conv_geometry(
    long_shape: Sequence[int], short_shape: Sequence[int], weight: torch.Tensor, a: dict[str, Any]
) -> tuple[int, int, int, int]:
    """Products over the spatial dimensions of a convolution's (window, offset) pairs that
    touch real data: (pairs, long-side positions reached, short-side positions with a
    pair, kernel offsets used). The long side is the convolution's input, or the output
    of a transposed convolution."""
    dims = len(long_shape) - 2
    stride, padding = _ntuple(a["stride"], dims), _ntuple(a["padding"], dims)
    dilation = _ntuple(a["dilation"], dims)
    pairs, covered_long, covered_short, used = 1, 1, 1, 1
    for d in range(dims):
        per_long, per_short, per_offset = window_counts(
            long_shape[2 + d],
            short_shape[2 + d],
            weight.shape[2 + d],
            stride[d],
            padding[d],
            dilation[d],
        )
        pairs *= sum(per_long)
        covered_long *= _nonzero(per_long)
        covered_short *= _nonzero(per_short)
        used *= _nonzero(per_offset)
    return pairs, covered_long, covered_short, used


@_register("convolution_backward")
def _convolution_backward(a: dict[str, Any], out: Any) -> OpCost:
    """Gradients of a convolution, counting only the products that touch real input
    (not padding); a gradient that sums t products costs t mults and t - 1 adds.

    P = N * C_out * C_in/groups * (window-offset pairs on real data) products each for
    grad input and grad weight. grad input: P - N * C_in * (input positions reached)
    adds; grad weight: P - (weights that see data) adds; grad bias: C_out * (N * outputs
    - 1) adds. Transposed convolutions swap the roles of input and output.
    """
    grad, x, weight = a["grad_output"], a["input"], a["weight"]
    transposed = bool(a["transposed"])
    long_shape, short_shape = (grad.shape, x.shape) if transposed else (x.shape, grad.shape)
    pairs, covered_long, covered_short, used = conv_geometry(long_shape, short_shape, weight, a)
    batch = x.shape[0]
    products = batch * weight.shape[0] * weight.shape[1] * pairs
    reached = covered_short if transposed else covered_long
    need_input, need_weight, need_bias = a["output_mask"]
    cost = OpCost()
    if need_input:
        adds = products - batch * x.shape[1] * reached
        cost = cost + OpCost(macs=products, mults=products, adds=adds)
    if need_weight:
        adds = products - weight.shape[0] * weight.shape[1] * used
        cost = cost + OpCost(macs=products, mults=products, adds=adds)
    if need_bias:
        c_out = grad.shape[1]
        cost = cost + OpCost(bias=c_out * (grad.numel() // c_out - 1))
    return cost


def _scatter_adds(per_dim: Iterable[Sequence[int]], planes: int) -> int:
    """Adds to accumulate window gradients into inputs: sum over covered positions of
    (contributions - 1)."""
    terms, covered = 1, 1
    for counts in per_dim:
        terms *= sum(counts)
        covered *= _nonzero(counts)
    return planes * (terms - covered)


def _avg_pool_backward(dims: int) -> CostFn:
    def cost(a: dict[str, Any], out: Any) -> OpCost:
        """1 division per output gradient, then each input sums the windows covering it."""
        grad, x = a["grad_output"], a["self"]
        kernel, stride, padding, _ = _spatial(a, dims)
        per_dim = [
            window_counts(
                x.shape[d - dims], grad.shape[d - dims], kernel[d], stride[d], padding[d], 1
            )[0]
            for d in range(dims)
        ]
        planes = x.numel() // math.prod(x.shape[-dims:])
        return OpCost(divs=grad.numel(), adds=_scatter_adds(per_dim, planes))

    return cost


def _adaptive_avg_backward(dims: int) -> CostFn:
    def cost(a: dict[str, Any], out: Any) -> OpCost:
        """1 division per output gradient, then each input sums the windows covering it."""
        grad, x = a["grad_output"], a["self"]
        per_dim = []
        for length, out_length in zip(x.shape[-dims:], grad.shape[-dims:], strict=True):
            counts = [0] * length
            for window in adaptive_windows(length, out_length):
                for i in window:
                    counts[i] += 1
            per_dim.append(counts)
        planes = x.numel() // math.prod(x.shape[-dims:])
        return OpCost(divs=grad.numel(), adds=_scatter_adds(per_dim, planes))

    return cost


@_register(
    *(
        f"{kind}{d}d{suffix}_backward"
        for d in (1, 2, 3)
        for kind, suffix in (("max_pool", "_with_indices"), ("adaptive_max_pool", ""))
    )
)
def _max_pool_backward(a: dict[str, Any], out: Any) -> OpCost:
    """Each window's gradient is added into the input gradient at the window's maximum:
    1 add per output gradient. (Which input is the maximum depends on the data; this
    count does not, so a model's figures do not change with its weights.)"""
    return OpCost(adds=a["grad_output"].numel())


for _d in (1, 2, 3):
    _register(f"avg_pool{_d}d_backward")(_avg_pool_backward(_d))
    _register(f"_adaptive_avg_pool{_d}d_backward")(_adaptive_avg_backward(_d))
