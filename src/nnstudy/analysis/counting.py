"""Count the arithmetic of a real pass through a model, operator by operator.

`OpCounter` runs code under a `TorchDispatchMode`, so it sees every aten operator
that actually executes (a functional `F.conv2d`, a `torch.relu`, a residual `x + y`,
the `addmm` of a Linear on a 3-D input, and, under `loss.backward()`, every gradient
operator) and prices each with `op_costs.op_cost`. Global forward pre/post hooks keep
a stack of the model's modules being run, so each operator is attributed to the
innermost module that ran it, exactly once, whatever module or function called it.

    >>> model = torch.nn.Linear(64, 32)
    >>> with OpCounter(model) as counter:
    ...     _ = model(torch.ones(1, 50, 64))
    >>> counter.total().macs
    102400
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from nnstudy.analysis.op_costs import (
    FREE,
    OpCost,
    bias_argument,
    bind_arguments,
    has_formula,
    op_cost,
)

__all__ = ["ModuleCall", "OpCounter", "OpRecord"]

# Operators that only read metadata; they never do arithmetic.
_METADATA = {
    "size",
    "sym_size",
    "stride",
    "sym_stride",
    "numel",
    "sym_numel",
    "dim",
    "is_contiguous",
    "sym_is_contiguous",
    "storage_offset",
    "sym_storage_offset",
    "is_strides_like_format",
    "is_non_overlapping_and_dense",
}

# The argument whose shape a row shows as "input", in order of preference.
_MAIN_INPUT = ("input", "mat1", "batch1", "mat", "grad_output", "self")


@dataclass
class ModuleCall:
    """One call of a module of the model: which, where, and the shapes it saw."""

    module: nn.Module
    name: str
    index: int
    parent: ModuleCall | None
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class OpRecord:
    """One aten operator that ran: its cost (None when uncounted) and where it ran."""

    op: str
    call: ModuleCall | None
    cost: OpCost | None
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    storages: tuple[int, ...]
    bias_storage: int | None
    bias_id: int | None


def storage_key(tensor: torch.Tensor) -> int | None:
    """Address of the memory under a tensor (shared by its views), or None."""
    try:
        pointer = tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None
    return pointer or None


def _shape(value: Any) -> tuple[int, ...] | None:
    for leaf in tree_leaves(value):
        if isinstance(leaf, torch.Tensor):
            return tuple(leaf.shape)
    return None


class _CountingMode(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Counting never runs under torch.compile. Wrapping __torch_dispatch__ to skip
        # Dynamo would import torch._dynamo on the first operator: 1.5-2.5 s, more than
        # counting AlexNet takes.
        return False

    def __init__(self, counter: OpCounter) -> None:
        super().__init__()
        self.counter = counter

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.namespace == "aten" and not has_formula(func):
            # A composite operator that reached us: count the operators it is made of.
            with self:
                decomposed = func.decompose(*args, **kwargs)
            if decomposed is not NotImplemented:
                return decomposed
        out = func(*args, **kwargs)
        self.counter._record(func, args, kwargs, out)
        return out


class OpCounter:
    """Context manager that counts every aten operator run inside it.

    Args:
        model: the module whose submodules name the operators; operators run outside
            its modules (or with `model=None`) are recorded with `call=None`.

    After the block: `records` (one `OpRecord` per counted or uncounted operator, in
    order), `calls` (one `ModuleCall` per module call, in order), `events` (both,
    interleaved), `total()` and `uncounted()`. While the block runs, `stack` holds the
    module calls in progress (the innermost last), which names the layer that failed
    when a forward pass raises.
    """

    def __init__(self, model: nn.Module | None = None) -> None:
        self._names = {id(m): name for name, m in model.named_modules()} if model else {}
        self._modules = list(model.modules()) if model else []  # keep the ids alive
        self._call_counts: Counter[int] = Counter()
        self.stack: list[ModuleCall] = []
        self.calls: list[ModuleCall] = []
        self.records: list[OpRecord] = []
        self.events: list[ModuleCall | OpRecord] = []
        self._mode = _CountingMode(self)
        self._hooks: list[Any] = []

    def __enter__(self) -> OpCounter:
        self._hooks = [
            register_module_forward_pre_hook(self._enter_module),
            register_module_forward_hook(self._exit_module),
        ]
        self._mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._mode.__exit__(*exc)
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def total(self) -> OpCost:
        """Sum of the costs of every counted operator."""
        total = OpCost()
        for record in self.records:
            if record.cost is not None:
                total = total + record.cost
        return total

    def uncounted(self) -> dict[str, int]:
        """Operators with no formula: name -> number of calls."""
        return dict(Counter(r.op for r in self.records if r.cost is None))

    def by_op(self) -> dict[str, OpCost]:
        """Counted cost per operator name, in order of first use."""
        totals: dict[str, OpCost] = {}
        for record in self.records:
            if record.cost is not None:
                totals[record.op] = totals.get(record.op, OpCost()) + record.cost
        return totals

    def _enter_module(self, module: nn.Module, args: Any) -> None:
        name = self._names.get(id(module))
        if name is None:
            return  # not part of the model: its operators belong to the caller
        index = self._call_counts[id(module)]
        self._call_counts[id(module)] += 1
        parent = self.stack[-1] if self.stack else None
        call = ModuleCall(module, name, index, parent, _shape(args))
        self.stack.append(call)
        self.calls.append(call)
        self.events.append(call)

    def _exit_module(self, module: nn.Module, args: Any, output: Any) -> None:
        if self.stack and self.stack[-1].module is module:
            self.stack.pop().output_shape = _shape(output)

    def _record(self, func: Any, args: Any, kwargs: dict[str, Any], out: Any) -> None:
        name = str(func.overloadpacket).split(".", 1)[-1]
        if func.namespace == "prim" or name in _METADATA:
            return
        cost = op_cost(func, args, kwargs, out) if func.namespace == "aten" else name
        if cost is FREE:
            return
        if isinstance(cost, str):
            name, cost = cost, None
        bound = bind_arguments(func, args, kwargs)
        main = next((bound[k] for k in _MAIN_INPUT if isinstance(bound.get(k), torch.Tensor)), None)
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        bias_name = bias_argument(func)
        bias = bound.get(bias_name) if bias_name else None
        record = OpRecord(
            op=name,
            call=self.stack[-1] if self.stack else None,
            cost=cost,
            input_shape=tuple(main.shape) if main is not None else _shape(tensors),
            output_shape=_shape(out),
            storages=tuple(k for k in map(storage_key, tensors) if k is not None),
            bias_storage=storage_key(bias) if isinstance(bias, torch.Tensor) else None,
            bias_id=id(bias) if isinstance(bias, torch.Tensor) else None,
        )
        self.records.append(record)
        self.events.append(record)
