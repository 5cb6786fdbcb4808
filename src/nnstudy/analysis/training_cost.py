"""The arithmetic of one training step, counted operator by operator.

One step is a forward pass in training mode (dropout draws its mask, batch norm
computes batch statistics) and a backward pass that computes the gradient of every
trainable parameter. Both run for real under `OpCounter`, so the figure is what the
gradient operators actually compute: `convolution_backward` of the first layer, whose
input needs no gradient, does only the weight and bias halves; this is why a training
step is not exactly 3 x forward.

The backward pass starts from dL/dy = 1 (the loss is `y.sum()`), so the cost of the
loss function itself is left out: it depends on the loss, not on the model. Without
bias, the backward pass is run again asking only for the gradients of the weights
(every parameter that no operator used as a bias), so bias gradients are not computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call
from torch.utils._pytree import tree_leaves

from nnstudy.analysis.counting import OpCounter
from nnstudy.analysis.op_costs import OpCost

__all__ = ["TrainingCost", "measure_training_cost", "per_sample"]


def per_sample(value: int, batch_size: int) -> int | float:
    """`value / batch_size`, as an int when it divides exactly."""
    return value // batch_size if value % batch_size == 0 else value / batch_size


@dataclass(frozen=True)
class TrainingCost:
    """Counted cost of one training step on a batch of `batch_size` samples.

    `flops` (per sample) = (forward.flops + backward.flops) / batch_size;
    `flops_no_bias` = (forward.flops_no_bias + backward_no_bias.flops) / batch_size.
    """

    batch_size: int
    forward: OpCost
    backward: OpCost
    backward_no_bias: OpCost
    backward_by_op: dict[str, OpCost] = field(default_factory=dict)
    uncounted: dict[str, int] = field(default_factory=dict)

    @property
    def forward_flops(self) -> int | float:
        return per_sample(self.forward.flops, self.batch_size)

    @property
    def backward_flops(self) -> int | float:
        return per_sample(self.backward.flops, self.batch_size)

    @property
    def flops(self) -> int | float:
        return per_sample(self.forward.flops + self.backward.flops, self.batch_size)

    @property
    def flops_no_bias(self) -> int | float:
        return per_sample(self.forward.flops_no_bias + self.backward_no_bias.flops, self.batch_size)

    @property
    def macs(self) -> int | float:
        return per_sample(self.forward.macs + self.backward.macs, self.batch_size)

    def to_dict(self) -> dict[str, object]:
        """Per-sample figures, plus the batch they were measured on."""
        return {
            "batch_size": self.batch_size,
            "forward_flops": self.forward_flops,
            "backward_flops": self.backward_flops,
            "macs": self.macs,
            "flops": self.flops,
            "flops_no_bias": self.flops_no_bias,
            "backward_by_op": {k: v.flops for k, v in self.backward_by_op.items()},
            "uncounted": dict(self.uncounted),
        }


# Above this many parameters (or when `inspect` counts more than META_MACS forward MACs)
# the training step is counted on the meta device instead of on copies. Copies are the
# faster way up to AlexNet's size (0.4 s against 0.9 s, most of it the import that the
# first meta run triggers); the meta device bounds the memory and time of larger models.
META_PARAMS = 100_000_000
META_MACS = 5_000_000_000


def _needs_two_samples(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def measure_training_cost(
    model: nn.Module,
    input_shape: Sequence[int],
    batch_size: int | None = None,
    meta: bool | None = None,
) -> TrainingCost:
    """Count one training step of `model` on input of shape (batch, *input_shape).

    The step runs through `torch.func.functional_call` on stand-ins of the parameters
    and buffers, so the model itself is left as it was (mode, weights, batch-norm
    statistics, `.grad`, the global random state). The stand-ins are copies on the
    model's device, or, for large models, tensors on the meta device: shapes only, so
    AlexNet's step is counted without computing it (the first meta run imports
    torch._dynamo, about a second, which is why small models use copies). A model whose
    operators have no meta kernel falls back to copies.

    Args:
        model: any module.
        input_shape: one sample's shape, e.g. (1, 32, 32).
        batch_size: samples per step (default 1, or 2 when the model has batch norm,
            whose batch statistics need more than one sample); figures are per sample.
        meta: run on the meta device; default: when the model has more than
            `META_PARAMS` parameters.
    """
    batch = batch_size or (2 if _needs_two_samples(model) else 1)
    if meta is None:
        meta = sum(p.numel() for p in model.parameters()) > META_PARAMS
    if meta:
        try:
            return _measure(model, tuple(input_shape), batch, meta=True)
        except (NotImplementedError, RuntimeError):
            pass  # an operator without a meta kernel: count on copies instead
    return _measure(model, tuple(input_shape), batch, meta=False)


def _stand_in(tensor: torch.Tensor, meta: bool) -> torch.Tensor:
    if meta:
        return torch.empty_like(tensor, device="meta")
    return tensor.detach().clone()


def _measure(model: nn.Module, shape: tuple[int, ...], batch: int, meta: bool) -> TrainingCost:
    params = {
        name: _stand_in(p, meta).requires_grad_(p.requires_grad)
        for name, p in model.named_parameters()
    }
    buffers = {name: _stand_in(b, meta) for name, b in model.named_buffers()}
    reference = next(iter([*params.values(), *buffers.values()]), torch.empty(0))
    dtype = reference.dtype if reference.is_floating_point() else torch.float32
    device = reference.device
    modes = {m: m.training for m in model.modules()}
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(0)
            model.train()
            x = torch.randn(batch, *shape, dtype=dtype, device=device)
            with OpCounter(model) as forward:
                y = functional_call(model, {**params, **buffers}, (x,))
            outputs = [t for t in tree_leaves(y) if isinstance(t, torch.Tensor)]
            loss = sum(t.sum() for t in outputs if t.requires_grad)
            trainable = [p for p in params.values() if p.requires_grad]
            bias_ids = {r.bias_id for r in forward.records}
            weights = [p for p in trainable if id(p) not in bias_ids]
            backward = _count_gradients(loss, trainable, retain_graph=True)
            backward_no_bias = _count_gradients(loss, weights, retain_graph=False)
    finally:
        for module, training in modes.items():
            module.train(training)
    uncounted = dict(forward.uncounted())
    for op, calls in backward.uncounted().items():
        uncounted[op] = uncounted.get(op, 0) + calls
    return TrainingCost(
        batch_size=batch,
        forward=forward.total(),
        backward=backward.total(),
        backward_no_bias=backward_no_bias.total(),
        backward_by_op=backward.by_op(),
        uncounted=uncounted,
    )


def _count_gradients(loss: object, params: list[torch.Tensor], retain_graph: bool) -> OpCounter:
    counter = OpCounter()
    if isinstance(loss, torch.Tensor) and loss.requires_grad and params:
        with counter:
            torch.autograd.grad(loss, params, retain_graph=retain_graph, allow_unused=True)
    return counter
