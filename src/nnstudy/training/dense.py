"""Forward and backward by hand for G stacked chains of linear layers.

Most models of the reports are multi-layer perceptrons: linear layers with element-wise
activations (and perhaps dropout) between them. For those, `DenseChain` computes the G
models' batch losses and every parameter's gradient without autograd: one forward pass
that keeps what the backward pass needs, then the backward pass written out layer by
layer, each gradient written into a buffer allocated once. On a CPU at batch size 64
this removes most of the per-step overhead around the two large matrix products (the
first layer's forward product and its weight gradient), which dominate the arithmetic.

The backward formulas are autograd's own (`torch.ops.aten.*_backward`, the same kernels
`loss.backward()` runs), and tests compare every gradient with `torch.autograd.grad`.
With G = 1 the products are plain `mm`/`addmm` on the one model's matrices (faster than
`bmm` with a batch of one); with G > 1 they are `bmm`/`baddbmm` over the model axis. In
float32 a batched product can round differently from a single one for some shapes (MKL
picks its kernel by shape and batch; seen for a 10-unit output layer's weight gradient),
so a model trained in a group of G and the same model trained alone agree to rounding,
not always to the last bit; in float64 they agree to 1e-10 (tested). Making them bitwise
equal would take one `mm` per model, which costs a group of 20 MLPs a third of its speed.

Any other architecture (convolutions, batch norm) goes through autograd in
`StackedModel.loss_and_grads`; the two paths give the same gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnstudy.models.layers import LinearActivation

aten = torch.ops.aten


@dataclass(frozen=True)
class _Layer:
    kind: str                    # "linear", "act", "dropout", "softmax", "log_softmax"
    module: nn.Module
    weight: str | None = None    # parameter names of a linear layer
    bias: str | None = None


_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.ELU, nn.GELU, nn.Identity,
                LinearActivation)


class DenseChain:
    """The hand-written training pass for a chain of Linear, activation and Dropout layers.

    Build it with `DenseChain.of(template)`, which returns None for any other model.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> chain = DenseChain.of(net)
        >>> [layer.kind for layer in chain.layers]
        ['linear', 'act', 'linear']
    """

    def __init__(self, layers: Sequence[_Layer]) -> None:
        self.layers = list(layers)
        self._grads: dict[str, Tensor] = {}
        self._operands_of: list[Tensor] = []
        self._ops: dict[str, _Operands] = {}
        self._seeds: dict[tuple, Tensor] = {}

    @classmethod
    def of(cls, template: nn.Module) -> DenseChain | None:
        """The chain of `template`'s children, or None when a child is not supported.

        Supported: nn.Flatten (first only), nn.Linear, element-wise activations (ReLU,
        LeakyReLU, Sigmoid, Tanh, ELU, GELU, Identity, the reports' linear activation),
        nn.Dropout, and a final Softmax or LogSoftmax over the last axis.
        """
        layers: list[_Layer] = []
        children = list(template.named_children())
        if not children:
            return None
        for i, (name, mod) in enumerate(children):
            if isinstance(mod, nn.Flatten):
                if i != 0 or mod.start_dim != 1 or mod.end_dim != -1:
                    return None
            elif isinstance(mod, nn.Linear):
                layers.append(_Layer("linear", mod, f"{name}.weight",
                                     f"{name}.bias" if mod.bias is not None else None))
            elif isinstance(mod, _ACTIVATIONS):
                if isinstance(mod, nn.ELU | nn.LeakyReLU) and mod.inplace:
                    return None
                layers.append(_Layer("act", mod))
            elif isinstance(mod, nn.Dropout):
                layers.append(_Layer("dropout", mod))
            elif isinstance(mod, nn.Softmax | nn.LogSoftmax) and i == len(children) - 1 \
                    and mod.dim in (-1, None):
                layers.append(_Layer("softmax" if isinstance(mod, nn.Softmax)
                                     else "log_softmax", mod))
            else:
                return None
        if not any(layer.kind == "linear" for layer in layers):
            return None
        return cls(layers)

    # -- the training pass ----------------------------------------------------------------

    def loss_and_grads(self, params: dict[str, Tensor], x: Tensor, y: Tensor, loss: str,
                       training: bool = True) -> tuple[Tensor, list[Tensor]]:
        """The mean batch loss of each model [G] and the gradient of every parameter.

        Args:
            params: name -> stacked parameter [G, ...] (as `StackedModel.params`).
            x: inputs [G, B, ...] (each model's own batch).
            y: labels [G, B].
            loss: "cross_entropy" or "mse" (see `nnstudy.training.losses.per_model_loss`).
            training: dropout active (True while training).

        Returns:
            (losses [G], gradients aligned with `params`' order). The gradient tensors are
            buffers reused by the next call: consume them before calling again.
        """
        G, B = x.shape[0], x.shape[1]
        # One model runs in 2-D ([B, D]: mm, addmm), G models in 3-D ([G, B, D]: bmm).
        single = G == 1
        ops = self._operands(params, single)
        h = x.reshape(B, -1) if single else x.reshape(G, B, -1)
        saved: list[tuple[Tensor, Tensor | None]] = []   # per layer: input, extra
        with torch.no_grad():
            for layer in self.layers:
                saved.append((h, None))
                if layer.kind == "linear":
                    op = ops[layer.weight]
                    if single:
                        h = torch.addmm(op.b, h, op.wt) if op.b is not None else h @ op.wt
                    elif op.b is not None:
                        h = torch.baddbmm(op.b, h, op.wt)
                    else:
                        h = torch.bmm(h, op.wt)
                elif layer.kind == "act":
                    h = layer.module(h)
                    saved[-1] = (saved[-1][0], h)
                elif layer.kind == "dropout":
                    p = layer.module.p
                    if training and p > 0:
                        mask = _dropout_mask(h, p)
                        saved[-1] = (h, mask)
                        h = h * mask
                elif layer.kind == "softmax":
                    h = torch.softmax(h, -1)
                    saved[-1] = (saved[-1][0], h)
                else:
                    h = torch.log_softmax(h, -1)
                    saved[-1] = (saved[-1][0], h)
            losses, dh = self._loss_and_grad(loss, h.view(G, B, -1), y)
            if single:
                dh = dh.view(B, -1)
            for i in range(len(self.layers) - 1, -1, -1):
                layer = self.layers[i]
                inp, extra = saved[i]
                if layer.kind == "linear":
                    op = ops[layer.weight]
                    if single:
                        torch.mm(dh.t(), inp, out=op.gw)
                    else:
                        torch.bmm(dh.transpose(1, 2), inp, out=op.gw)
                    if op.gb is not None:
                        torch.sum(dh, -2, out=op.gb)
                    if i > 0:
                        dh = dh @ op.w if single else torch.bmm(dh, op.w)
                elif layer.kind == "act":
                    dh = _activation_backward(layer.module, dh, inp, extra)
                elif layer.kind == "dropout":
                    if extra is not None:
                        dh = dh * extra
                elif layer.kind == "softmax":
                    dh = aten._softmax_backward_data(dh, extra, -1, extra.dtype)
                else:
                    dh = aten._log_softmax_backward_data(dh, extra, -1, extra.dtype)
        return losses, [self._grads[name] for name in params]

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
            if layer.kind != "linear":
                continue
            w, gw = params[layer.weight].detach(), self._grads[layer.weight]
            b = params[layer.bias].detach() if layer.bias else None
            gb = self._grads[layer.bias] if layer.bias else None
            if single:
                self._ops[layer.weight] = _Operands(
                    w[0], w[0].t(), b[0] if b is not None else None, gw[0],
                    gb[0] if gb is not None else None)
            else:
                self._ops[layer.weight] = _Operands(
                    w, w.transpose(1, 2), b.unsqueeze(1) if b is not None else None, gw, gb)
        return self._ops

    def _loss_and_grad(self, loss: str, z: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Per-model mean loss [G] and its gradient with respect to the outputs z [G, B, K].

        cross_entropy: loss = -mean_i log softmax(z_i)[y_i], through autograd's kernels
        (nll_loss, log_softmax backward); mse: loss = mean of (z - onehot(y))^2 over samples
        and classes, dz = 2 (z - onehot) / (B K).
        """
        G, B, K = z.shape
        if loss == "cross_entropy":
            logp = torch.log_softmax(z, -1)
            flat_logp, flat_y = logp.view(G * B, K), y.reshape(G * B)
            per_sample, total = aten.nll_loss_forward(flat_logp, flat_y, None, 0, -100)
            key = (G, B, z.dtype, z.device)
            seed = self._seeds.get(key)
            if seed is None:  # d(mean over the batch)/d(per-sample loss) = 1/B, as mean does
                seed = self._seeds[key] = torch.full((G * B,), 1.0, dtype=z.dtype,
                                                     device=z.device).div_(B)
            dlogp = aten.nll_loss_backward(seed, flat_logp, flat_y, None, 0, -100, total)
            dz = aten._log_softmax_backward_data(dlogp.view(G, B, K), logp, -1, z.dtype)
            return per_sample.view(G, B).mean(1), dz
        if loss == "mse":
            diff = z - F.one_hot(y, K).to(z.dtype)
            losses = (diff * diff).sum((1, 2)).div_(B * K)
            return losses, diff.mul_(2.0 / (B * K))
        raise ValueError(f"loss: unknown {loss!r}")


@dataclass(frozen=True)
class _Operands:
    w: Tensor               # weight, [O, D] or [G, O, D]
    wt: Tensor              # its transpose (a view)
    b: Tensor | None        # bias as added to the product: [O] or [G, 1, O]
    gw: Tensor              # the weight's gradient buffer, shaped like w
    gb: Tensor | None       # the bias's gradient buffer, [O] or [G, O]


def _dropout_mask(h: Tensor, p: float) -> Tensor:
    """The scaled keep-mask F.dropout draws on the CPU: bernoulli(1 - p) / (1 - p)."""
    if p >= 1:
        return torch.zeros_like(h)
    return torch.empty_like(h).bernoulli_(1 - p).div_(1 - p)


def _activation_backward(mod: nn.Module, dh: Tensor, inp: Tensor, out: Tensor) -> Tensor:
    """The gradient through an element-wise activation, with autograd's own kernels."""
    if isinstance(mod, nn.ReLU):
        return aten.threshold_backward(dh, out, 0)
    if isinstance(mod, nn.Sigmoid):
        return aten.sigmoid_backward(dh, out)
    if isinstance(mod, nn.Tanh):
        return aten.tanh_backward(dh, out)
    if isinstance(mod, nn.LeakyReLU):
        return aten.leaky_relu_backward(dh, inp, mod.negative_slope, False)
    if isinstance(mod, nn.ELU):
        return aten.elu_backward(dh, mod.alpha, 1.0, 1.0, False, inp)
    if isinstance(mod, nn.GELU):
        return aten.gelu_backward(dh, inp, approximate=mod.approximate)
    if isinstance(mod, LinearActivation):
        return dh * mod.a if mod.a != 1.0 else dh
    return dh  # nn.Identity
