"""`inspect(model, input_shape)`: shapes, parameters, MACs, FLOPs and activation memory
of every layer, counted on a real forward pass at the operator level.

The model runs once, in eval mode, on one random sample under `OpCounter`. Each leaf
module call becomes a row that sums the operators it ran; an operator that a container
runs itself (a residual `x + y`, an `F.conv2d` in a custom forward) becomes a row of its
own, named `<container>.<operator>`. So every operator is counted exactly once, and a
functional model counts the same as its nn twin. Operators with no formula are listed
under `uncounted`; the free ones (views, copies) are listed in docs/counting.md.

    >>> from torch import nn
    >>> s = inspect(nn.Sequential(nn.Conv2d(50, 20, 4, stride=2, padding=1),
    ...                           nn.MaxPool2d(3, stride=1)), (50, 12, 12), training=False)
    >>> s.flops_no_bias, s.flops
    (1153840, 1154560)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from nnstudy.analysis.collapse import affine_runs
from nnstudy.analysis.counting import ModuleCall, OpCounter, OpRecord, storage_key
from nnstudy.analysis.op_costs import OpCost
from nnstudy.analysis.summary import FLOAT32_BYTES, LayerRow, Summary
from nnstudy.analysis.training_cost import META_MACS, META_PARAMS, measure_training_cost
from nnstudy.errors import ConfigError, ShapeError
from nnstudy.models.layers import kind_of_module

__all__ = ["inspect", "inspect_module", "layer_kind"]

_OP_KINDS = {
    "conv": ("convolution",),
    "linear": ("mm", "addmm", "bmm", "baddbmm", "mv", "addmv", "dot", "vdot"),
    "pool": ("pool",),
    "norm": ("batch_norm", "layer_norm"),
    "dropout": ("dropout", "bernoulli"),
    "activation": (
        "relu",
        "sigmoid",
        "tanh",
        "gelu",
        "elu",
        "silu",
        "softplus",
        "hardtanh",
        "threshold",
        "softmax",
    ),
}


def layer_kind(module_or_op: nn.Module | str) -> str:
    """conv, linear, pool, norm, dropout, activation, reshape, or the operator's own
    kind: what a row is, so that e.g. the parametric and pooling rows can be picked."""
    if isinstance(module_or_op, str):
        for kind, fragments in _OP_KINDS.items():
            if any(f in module_or_op for f in fragments):
                return kind
        return "elementwise"
    m = module_or_op
    spec_kind = kind_of_module(m)
    if spec_kind is not None:  # a layer a spec builds says what it is
        return spec_kind.family
    checks: list[tuple[str, tuple[type, ...]]] = [
        ("conv", (nn.modules.conv._ConvNd,)),
        ("linear", (nn.Linear, nn.Bilinear)),
        (
            "pool",
            (
                nn.modules.pooling._MaxPoolNd,
                nn.modules.pooling._AvgPoolNd,
                nn.modules.pooling._AdaptiveAvgPoolNd,
                nn.modules.pooling._AdaptiveMaxPoolNd,
                nn.modules.pooling._LPPoolNd,
            ),
        ),
        ("norm", (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)),
        ("dropout", (nn.modules.dropout._DropoutNd,)),
        ("activation", (nn.Identity,)),
        ("reshape", (nn.Flatten, nn.Unflatten)),
    ]
    for kind, types in checks:
        if isinstance(m, types):
            return kind
    if type(m).__module__ == "torch.nn.modules.activation":
        return "activation"
    return "module"


def _per_sample(shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """Drop the batch dimension (the forward pass runs on a batch of one)."""
    return shape[1:] if shape else shape


def _check_shape(input_shape: Any) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if not shape or any(s <= 0 for s in shape):
        raise ConfigError(
            f"input_shape: {input_shape!r} is not a shape; expected positive sizes of one "
            "sample, (C, H, W) or (N,), e.g. (1, 32, 32)"
        )
    return shape


def _resolve(
    model_or_spec: Any, input_shape: Sequence[int] | None, num_classes: int | None
) -> tuple[nn.Module, tuple[int, ...], str]:
    """A module and its input shape from a module, a zoo name / YAML / factory, or a spec."""
    if isinstance(model_or_spec, nn.Module):
        if input_shape is None:
            raise ConfigError(
                "input_shape: required to inspect a torch.nn.Module, e.g. (1, 32, 32)"
            )
        return model_or_spec, _check_shape(input_shape), type(model_or_spec).__name__
    from nnstudy import models

    if isinstance(model_or_spec, str):
        shape = _check_shape(input_shape) if input_shape is not None else None
        model, resolved = models.load_model(model_or_spec, shape, num_classes)
        return model, _check_shape(resolved), model_or_spec
    if input_shape is None:
        raise ConfigError("input_shape: required to build a model from a spec, e.g. (1, 32, 32)")
    shape = _check_shape(input_shape)
    model = models.build_model(model_or_spec, shape, num_classes)
    return model, shape, type(model).__name__


class _RowBuilder:
    def __init__(self, name: str, type_: str, kind: str, input_shape: Any) -> None:
        self.name, self.type, self.kind = name, type_, kind
        self.input_shape = _per_sample(input_shape)
        self.output_shape: tuple[int, ...] | None = None
        self.params: list[nn.Parameter] = []
        self.cost = OpCost()
        self.uncounted: list[str] = []
        self.call: ModuleCall | None = None


def _is_layer(module: nn.Module, root: bool) -> bool:
    """A module that gets one row: a leaf (no children); the model itself only when it
    is a library layer (`inspect(nn.Linear(4, 2), ...)`), since a custom model without
    children does its work in functional calls, which get a row each."""
    if next(module.children(), None) is not None:
        return False
    return not root or type(module).__module__.startswith(("torch.nn.", "nnstudy.models."))


def _build_rows(
    model: nn.Module, counter: OpCounter
) -> tuple[list[_RowBuilder], set[int], set[int]]:
    """Rows from the counter's events, the parameters each row credits, and which
    parameters were used at all and as biases (by id)."""
    by_storage: dict[int, list[nn.Parameter]] = {}
    for p in model.parameters():
        key = storage_key(p)
        if key is not None:
            by_storage.setdefault(key, []).append(p)
    credited: set[int] = set()
    rows: list[_RowBuilder] = []
    row_of_call: dict[int, _RowBuilder] = {}
    names: Counter[str] = Counter()

    def unique(name: str) -> str:
        names[name] += 1
        return name if names[name] == 1 else f"{name}#{names[name]}"

    def credit(row: _RowBuilder, params: Any) -> None:
        for p in params:
            if id(p) not in credited:
                credited.add(id(p))
                row.params.append(p)

    for event in counter.events:
        if isinstance(event, ModuleCall):
            if not _is_layer(event.module, root=event.module is model):
                continue
            row = _RowBuilder(
                unique(event.name or type(event.module).__name__),
                type(event.module).__name__,
                layer_kind(event.module),
                event.input_shape,
            )
            row.call = event
            credit(row, event.module.parameters())
            rows.append(row)
            row_of_call[id(event)] = row
            continue
        record: OpRecord = event
        row = row_of_call.get(id(record.call)) if record.call is not None else None
        if row is None:
            prefix = record.call.name if record.call is not None else ""
            name = f"{prefix}.{record.op}" if prefix else record.op
            row = _RowBuilder(unique(name), record.op, layer_kind(record.op), record.input_shape)
            row.output_shape = _per_sample(record.output_shape)
            rows.append(row)
        for key in record.storages:
            credit(row, by_storage.get(key, ()))
        if record.cost is None:
            row.uncounted.append(record.op)
        else:
            row.cost = row.cost + record.cost
    for row in rows:
        if row.call is not None:
            row.output_shape = _per_sample(row.call.output_shape)
    bias_keys = {r.bias_storage for r in counter.records} - {None}
    bias_ids = {id(p) for key in bias_keys for p in by_storage.get(key, ())}
    return rows, credited, bias_ids


def _forward(model: nn.Module, shape: tuple[int, ...]) -> OpCounter:
    reference = next(iter(model.parameters()), None)
    if reference is None:
        reference = next(iter(model.buffers()), torch.empty(0))
    dtype = reference.dtype if reference.is_floating_point() else torch.float32
    devices = [reference.device] if reference.device.type == "cuda" else []
    modes = {m: m.training for m in model.modules()}
    counter = OpCounter(model)
    try:
        # Gradients stay enabled: with them off, some layers (TransformerEncoderLayer,
        # MultiheadAttention) take fused fast paths that hide their operators.
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(0)
            model.eval()
            x = torch.randn(1, *shape, dtype=dtype, device=reference.device)
            with counter:
                model(x)
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        where = counter.stack[-1] if counter.stack else None
        layer = (where.name or type(where.module).__name__) if where else "model"
        kind = type(where.module).__name__ if where else type(model).__name__
        got = "x".join(map(str, where.input_shape[1:])) if where and where.input_shape else None
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        seen = f"input {got} " if got else ""
        raise ShapeError(
            f"{layer} ({kind}): {seen}does not fit (model input "
            f"{'x'.join(map(str, shape))}): {detail}"
        ) from exc
    finally:
        for module, training in modes.items():
            module.train(training)
    return counter


def inspect(
    model_or_spec: nn.Module | str | list | dict,
    input_shape: Sequence[int] | None = None,
    *,
    num_classes: int | None = None,
    training: bool = True,
    name: str | None = None,
) -> Summary:
    """Count shapes, parameters, MACs, FLOPs (with and without bias) and activation memory
    of every layer, and the training cost per sample.

    Args:
        model_or_spec: a torch.nn.Module; a zoo name, YAML model-spec path or
            `package.module:factory` (see `nnstudy.models.load_model`); or a model spec
            (a list of layers or a builder dict).
        input_shape: one sample's shape, (C, H, W) or (N,); optional for zoo names.
        num_classes: outputs of specs and zoo models that take it.
        training: also count one training step (forward + backward), per sample.
        name: the model's name in the output (default: the zoo name or class name).

    Returns:
        A `Summary`: `.rows`, `.total_params`, `.macs`, `.flops`, `.flops_no_bias`,
        `.training`, `.uncounted`, `.collapse`, `.to_markdown()`, `.to_dict()`.

    Raises:
        ConfigError: a bad input shape or spec. ShapeError: the input does not fit a
        layer (the message names it).
    """
    model, shape, default_name = _resolve(model_or_spec, input_shape, num_classes)
    from nnstudy.models.features import FeatureExtractor

    if isinstance(model, FeatureExtractor):
        from nnstudy.analysis.features import inspect_features

        return inspect_features(model, name=name or default_name, training=training)
    return inspect_module(model, shape, name=name or default_name, training=training)


def inspect_module(model: nn.Module, shape: tuple[int, ...], *, name: str,
                   training: bool = True) -> Summary:
    """`inspect` of a module as it is (no features view): one row per layer, totals,
    and with `training` the counted training step."""
    counter = _forward(model, shape)
    builders, credited, bias_ids = _build_rows(model, counter)
    rows = []
    for b in builders:
        biases = [p for p in b.params if id(p) in bias_ids]
        rows.append(
            LayerRow(
                name=b.name,
                type=b.type,
                kind=b.kind,
                input_shape=b.input_shape,
                output_shape=b.output_shape,
                params=sum(p.numel() for p in b.params),
                bias_params=sum(p.numel() for p in biases),
                trainable_params=sum(p.numel() for p in b.params if p.requires_grad),
                trainable_bias_params=sum(p.numel() for p in biases if p.requires_grad),
                cost=b.cost,
                activation_bytes=FLOAT32_BYTES * _numel(b.output_shape),
                uncounted=tuple(b.uncounted),
            )
        )
    params = list(model.parameters())
    biases = [p for p in params if id(p) in bias_ids]
    cost = None
    if training:
        macs = sum(r.cost.macs for r in rows)
        large = macs > META_MACS or sum(p.numel() for p in params) > META_PARAMS
        cost = measure_training_cost(model, shape, meta=large)
    return Summary(
        model=name,
        input_shape=shape,
        rows=tuple(rows),
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        bias_params=sum(p.numel() for p in biases),
        trainable_bias_params=sum(p.numel() for p in biases if p.requires_grad),
        unused_params=sum(p.numel() for p in params if id(p) not in credited),
        uncounted=counter.uncounted(),
        collapse=tuple(run.describe() for run in affine_runs(model)),
        training=cost,
        containers=tuple(n for n, m in model.named_modules()
                         if n and next(m.children(), None) is not None),
    )


def _numel(shape: tuple[int, ...] | None) -> int:
    if shape is None:
        return 0
    total = 1
    for size in shape:
        total *= size
    return total
