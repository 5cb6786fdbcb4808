"""Forward and backward by hand for G stacked chains of linear layers.

Most models of the reports are multi-layer perceptrons: linear layers with activations
(and perhaps dropout) between them. For those, `DenseChain` computes the G models' batch
losses and every parameter's gradient without autograd. As in micrograd, each op's
forward returns its output and, beside it, the closure that pushes the gradient back
through it; the pass runs the ops forward, then the closures in reverse, each parameter's
gradient written into a buffer allocated once. On a CPU at batch size 64 this removes most
of the per-step overhead around the two large matrix products (the first layer's forward
product and its weight gradient), which dominate the arithmetic.

The backward formulas are autograd's own (`torch.ops.aten.*_backward`, the same kernels
`loss.backward()` runs; an activation's is its kind's `backward`, in
`nnstudy.models.layers.activations`), and tests compare every gradient with
`torch.autograd.grad`. With G = 1 the products are plain `mm`/`addmm` on the one model's
matrices (faster than `bmm` with a batch of one); with G > 1 they are `bmm`/`baddbmm` over
the model axis. In float32 a batched product can round differently from a single one for
some shapes (MKL picks its kernel by shape and batch; seen for a 10-unit output layer's
weight gradient), so a model trained in a group of G and the same model trained alone
agree to rounding, not always to the last bit; in float64 they agree to 1e-10 (tested).
Making them bitwise equal would take one `mm` per model, which costs a group of 20 MLPs a
third of its speed.

Any other architecture (convolutions, batch norm) goes through autograd in
`StackedModel.loss_and_grads`; the two paths give the same gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from nnstudy.config import layers as spec
from nnstudy.models.layers import kind_of_module
from nnstudy.models.layers.kind import Backward
from nnstudy.training.losses import CrossEntropy, MeanSquaredError, loss_class

BATCH_AXIS = -2  # of activations [B, D] or [G, B, D]: a bias gradient sums over it

Pullback = Callable[[Tensor], Tensor]  # dL/d(output) -> dL/d(input)


@dataclass(frozen=True)
class _Operands:
    """A linear layer's tensors as the products take them (views, no copies)."""

    w: Tensor               # weight, [O, D] or [G, O, D]
    wt: Tensor              # its transpose (a view)
    b: Tensor | None        # bias as added to the product: [O] or [G, 1, O]
    gw: Tensor              # the weight's gradient buffer, shaped like w
    gb: Tensor | None       # the bias's gradient buffer, [O] or [G, O]
    # The G models' weights side by side, for one input batch shared by all (G > 1):
    wide_t: Tensor | None = None   # [D, G*O], a view of w
    wide_b: Tensor | None = None   # [G*O], a view of the bias
    wide_gw: Tensor | None = None  # [G*O, D], a view of gw


class _Step(NamedTuple):
    """What one pass gives every op: the linear layers' operands, whether the G models
    run as one 2-D product (G = 1), whether dropout is active, and whether the input is
    one batch [B, D] shared by the G models (`DenseChain.loss_and_grads`)."""

    operands: dict[str, _Operands]
    single: bool
    training: bool
    shared: bool = False


@dataclass(frozen=True)
class _Linear:
    """y = x W^T + b; dL/dW = dy^T x, dL/db = sum over the batch of dy, dL/dx = dy W
    (not for the first op: its input is the data, and dy passes through unused)."""

    kind: ClassVar[str] = "linear"
    module: nn.Linear
    weight: str
    bias: str | None
    input_grad: bool

    def __call__(self, x: Tensor, step: _Step) -> tuple[Tensor, Pullback]:
        op = step.operands[self.weight]
        if step.shared and x.dim() == 2:  # the shared input batch (first layer only)
            return self._shared(x, op)
        if step.single:
            y = torch.addmm(op.b, x, op.wt) if op.b is not None else x @ op.wt
        elif op.b is not None:
            y = torch.baddbmm(op.b, x, op.wt)
        else:
            y = torch.bmm(x, op.wt)

        def backward(dy: Tensor) -> Tensor:
            if step.single:
                torch.mm(dy.t(), x, out=op.gw)
            else:
                torch.bmm(dy.transpose(1, 2), x, out=op.gw)
            if op.gb is not None:
                torch.sum(dy, BATCH_AXIS, out=op.gb)
            if not self.input_grad:
                return dy
            return dy @ op.w if step.single else torch.bmm(dy, op.w)

        return y, backward

    def _shared(self, x: Tensor, op: _Operands) -> tuple[Tensor, Pullback]:
        """The G models' layer on one input batch x [B, D]: one product with their weights
        side by side, [B, D] x [D, G*O], instead of G products of [B, D] x [D, O]; and the
        weight gradients as one [G*O, B] x [B, D]. The output is [G, B, O] (a view)."""
        G, out = op.w.shape[0], op.w.shape[1]
        B = x.shape[0]
        wide = torch.addmm(op.wide_b, x, op.wide_t) if op.wide_b is not None else x @ op.wide_t
        y = wide.view(B, G, out).transpose(0, 1)

        def backward(dy: Tensor) -> Tensor:
            torch.mm(dy.transpose(0, 1).reshape(B, G * out).t(), x, out=op.wide_gw)
            if op.gb is not None:
                torch.sum(dy, BATCH_AXIS, out=op.gb)
            return dy  # the data's gradient is not needed (first layer)

        return y, backward


@dataclass(frozen=True)
class _Activation:
    """y = f(x) by the module; dL/dx = its kind's `backward(module, dy, x, y)`."""

    kind: ClassVar[str] = "act"
    module: nn.Module
    grad: Backward

    def __call__(self, x: Tensor, step: _Step) -> tuple[Tensor, Pullback]:
        y = self.module(x)
        return y, lambda dy: self.grad(self.module, dy, x, y)


@dataclass(frozen=True)
class _Dropout:
    """In training y = x m, with m = bernoulli(1 - p) / (1 - p) per element, and
    dL/dx = dy m; else y = x."""

    kind: ClassVar[str] = "dropout"
    p: float

    def __call__(self, x: Tensor, step: _Step) -> tuple[Tensor, Pullback]:
        if not (step.training and self.p > 0):
            return x, _unchanged
        mask = _dropout_mask(x, self.p)
        return x * mask, lambda dy: dy * mask


def _unchanged(dy: Tensor) -> Tensor:
    return dy


def _dropout_mask(h: Tensor, p: float) -> Tensor:
    """The scaled keep-mask F.dropout draws on the CPU: bernoulli(1 - p) / (1 - p)."""
    if p >= 1:
        return torch.zeros_like(h)
    return torch.empty_like(h).bernoulli_(1 - p).div_(1 - p)


_Op = _Linear | _Activation | _Dropout


class DenseChain:
    """The hand-written training pass for a chain of Linear, activation and Dropout layers.

    Build it with `DenseChain.of(template)`, which returns None for any other model.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> chain = DenseChain.of(net)
        >>> [layer.kind for layer in chain.layers]
        ['linear', 'act', 'linear']
    """

    def __init__(self, layers: Sequence[_Op]) -> None:
        self.layers = list(layers)
        self._grads: dict[str, Tensor] = {}
        self._operands_of: list[Tensor] = []
        self._ops: dict[str, _Operands] = {}
        self._losses: dict[str, CrossEntropy | MeanSquaredError] = {}

    @classmethod
    def of(cls, template: nn.Module) -> DenseChain | None:
        """The chain of `template`'s children, or None when a child is not supported.

        Supported: nn.Flatten (first only), nn.Linear, nn.Dropout, and every activation
        whose kind has a `backward` that covers the module (`nnstudy.models.layers`; not
        an in-place ELU or LeakyReLU, a softmax only over the last axis).
        """
        layers: list[_Op] = []
        children = list(template.named_children())
        if not children:
            return None
        for i, (name, mod) in enumerate(children):
            kind = kind_of_module(mod)
            if kind is None:
                return None
            if kind.spec is spec.Flatten:
                if i != 0 or mod.start_dim != 1 or mod.end_dim != -1:
                    return None
            elif kind.spec is spec.Linear:
                layers.append(_Linear(mod, f"{name}.weight",
                                      f"{name}.bias" if mod.bias is not None else None,
                                      input_grad=bool(layers)))
            elif kind.spec is spec.Dropout:
                layers.append(_Dropout(mod.p))
            elif kind.backward is not None and kind.dense_covers(mod):
                layers.append(_Activation(mod, kind.backward))
            else:
                return None
        if not any(isinstance(layer, _Linear) for layer in layers):
            return None
        return cls(layers)

    # -- the training pass ----------------------------------------------------------------

    def loss_and_grads(self, params: dict[str, Tensor], x: Tensor, y: Tensor, loss: str,
                       training: bool = True) -> tuple[Tensor, list[Tensor]]:
        """The mean batch loss of each model [G] and the gradient of every parameter.

        Args:
            params: name -> stacked parameter [G, ...] (as `StackedModel.params`).
            x: inputs [G, B, ...] (each model's own batch), or [1, B, ...]: one batch that
                every model trains on (models with one data order). The first layer then
                multiplies it once by the G models' weights side by side (`_Linear._shared`).
            y: labels [G, B], or [1, B] with a shared batch.
            loss: "cross_entropy" or "mse" (see `nnstudy.training.losses`).
            training: dropout active (True while training).

        Returns:
            (losses [G], gradients aligned with `params`' order). The gradient tensors are
            buffers reused by the next call: consume them before calling again.
        """
        G, B = next(iter(params.values())).shape[0], x.shape[1]
        # One model runs in 2-D ([B, D]: mm, addmm), G models in 3-D ([G, B, D]: bmm).
        single = G == 1
        ops = self._operands(params, single)
        first = self.layers[0]
        shared = (x.shape[0] == 1 and not single and isinstance(first, _Linear)
                  and ops[first.weight].wide_t is not None)
        if x.shape[0] != G and not shared:  # dropout first, or weights not side by side
            x, y = x.expand(G, *x.shape[1:]), y.expand(G, -1)
        step = _Step(ops, single, training, shared)
        h = x.reshape(B, -1) if single or shared else x.reshape(G, B, -1)
        if shared:
            y = y.expand(G, -1)
        backwards: list[Pullback] = []
        with torch.no_grad():
            for layer in self.layers:
                h, backward = layer(h, step)
                backwards.append(backward)
            losses, dh = self._loss(loss).value_and_grad(h.reshape(G, B, -1), y)
            if single:
                dh = dh.view(B, -1)
            for backward in reversed(backwards):
                dh = backward(dh)
        return losses, [self._grads[name] for name in params]

    def _loss(self, name: str) -> CrossEntropy | MeanSquaredError:
        loss = self._losses.get(name)
        if loss is None:
            loss = self._losses[name] = loss_class(name)()
        return loss

    def _operands(self, params: dict[str, Tensor], single: bool) -> dict[str, _Operands]:
        """Each linear layer's tensors as the products take them (views, no copies): the
        one model's [O, D] matrices when G = 1, else the stacked [G, O, D] ones. Made
        once per set of parameter tensors: the optimizer updates them in place, so the
        views stay valid."""
        current = list(params.values())
        if len(current) == len(self._operands_of) and all(
                a is b for a, b in zip(current, self._operands_of, strict=True)):
            return self._ops
        self._operands_of = current
        self._grads = {name: torch.empty_like(p, memory_format=torch.contiguous_format)
                       for name, p in params.items()}
        self._ops = {}
        for layer in self.layers:
            if not isinstance(layer, _Linear):
                continue
            w, gw = params[layer.weight].detach(), self._grads[layer.weight]
            b = params[layer.bias].detach() if layer.bias else None
            gb = self._grads[layer.bias] if layer.bias else None
            if single:
                self._ops[layer.weight] = _Operands(
                    w[0], w[0].t(), b[0] if b is not None else None, gw[0],
                    gb[0] if gb is not None else None)
            else:
                # views, never copies (the optimizer updates the parameters in place), so
                # only of contiguous tensors; else no shared-input product
                G, out, D = w.shape
                wide = w.is_contiguous() and (b is None or b.is_contiguous())
                self._ops[layer.weight] = _Operands(
                    w, w.transpose(1, 2), b.unsqueeze(1) if b is not None else None, gw, gb,
                    wide_t=w.view(G * out, D).t() if wide else None,
                    wide_b=b.view(G * out) if wide and b is not None else None,
                    wide_gw=gw.view(G * out, D) if wide else None)
        return self._ops
