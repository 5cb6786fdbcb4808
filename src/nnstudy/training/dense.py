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
`bmm` with a batch of one); with G > 1 they are `bmm`/`baddbmm` over the model axis.

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
        self._mats_of: list[Tensor] = []
        self._mats: dict[str, Tensor] = {}
        self._grad_mats: dict[str, Tensor] = {}
        self._neg_ones: dict[tuple, Tensor] = {}

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
        single = G == 1
        mats, grad_mats = self._matrices(params, single)
        h = x.reshape(G, B, -1)
        saved: list[tuple[Tensor, Tensor | None]] = []   # per layer: input, extra
        with torch.no_grad():
            for layer in self.layers:
                saved.append((h, None))
                if layer.kind == "linear":
                    h = _linear(h, mats[layer.weight], mats[layer.bias] if layer.bias else None,
                                single)
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
            losses, dh = self._loss_and_grad(loss, h, y)
            for i in range(len(self.layers) - 1, -1, -1):
                layer = self.layers[i]
                inp, extra = saved[i]
                if layer.kind == "linear":
                    w = mats[layer.weight]
                    _weight_grad(dh, inp, grad_mats[layer.weight], single)
                    if layer.bias:
                        torch.sum(dh, 1, out=self._grads[layer.bias])
                    if i > 0:
                        dh = _input_grad(dh, w, single)
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

    def _matrices(self, params: dict[str, Tensor], single: bool,
                  ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """The parameters and gradient buffers as the products take them: the one model's
        tensors (views, no copy) when G = 1, else the stacked ones. Made once per set of
        parameter tensors (the optimizer updates them in place, so the views stay valid)."""
        current = list(params.values())
        if len(current) != len(self._mats_of) or any(
                a is not b for a, b in zip(current, self._mats_of, strict=False)):
            self._mats_of = current
            self._grads = {name: torch.empty_like(p, memory_format=torch.contiguous_format)
                           for name, p in params.items()}
            pick = (lambda t: t[0]) if single else (lambda t: t)
            self._mats = {name: pick(p.detach()) for name, p in params.items()}
            self._grad_mats = {name: pick(g) for name, g in self._grads.items()}
        return self._mats, self._grad_mats

    def _loss_and_grad(self, loss: str, z: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Per-model mean loss [G] and its gradient with respect to the outputs z [G, B, K].

        cross_entropy: loss = -mean_i log softmax(z_i)[y_i]; dz = (softmax(z) - onehot(y)) / B.
        mse: loss = mean (z - onehot(y))^2 over samples and classes; dz = 2 (z - onehot) / (B K).
        """
        G, B, K = z.shape
        if loss == "cross_entropy":
            logp = torch.log_softmax(z, -1)
            picked = y.unsqueeze(-1)
            losses = logp.gather(-1, picked).sum((1, 2)).div_(-B)
            key = (G, B, z.dtype, z.device)
            neg_ones = self._neg_ones.get(key)
            if neg_ones is None:
                neg_ones = self._neg_ones[key] = torch.full((G, B, 1), -1.0, dtype=z.dtype,
                                                            device=z.device)
            dz = logp.exp_().scatter_add_(-1, picked, neg_ones)   # softmax - onehot
            return losses, dz.div_(B)
        if loss == "mse":
            diff = z - F.one_hot(y, K).to(z.dtype)
            losses = (diff * diff).sum((1, 2)).div_(B * K)
            return losses, diff.mul_(2.0 / (B * K))
        raise ValueError(f"loss: unknown {loss!r}")


def _linear(h: Tensor, w: Tensor, b: Tensor | None, single: bool) -> Tensor:
    """h [G, B, D] times w transposed, plus b: [G, B, O]. With `single`, w is the one
    model's [O, D] and b its [O]; else they are stacked, [G, O, D] and [G, O]."""
    if single:
        out = torch.addmm(b, h[0], w.t()) if b is not None else h[0] @ w.t()
        return out.unsqueeze(0)
    if b is not None:
        return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
    return torch.bmm(h, w.transpose(1, 2))


def _weight_grad(dh: Tensor, inp: Tensor, out: Tensor, single: bool) -> None:
    """dW = dh^T inp per model, written into `out` ([O, D] with `single`, else [G, O, D])."""
    if single:
        torch.mm(dh[0].t(), inp[0], out=out)
    else:
        torch.bmm(dh.transpose(1, 2), inp, out=out)


def _input_grad(dh: Tensor, w: Tensor, single: bool) -> Tensor:
    """d(inp) = dh W per model: [G, B, D]."""
    if single:
        return (dh[0] @ w).unsqueeze(0)
    return torch.bmm(dh, w)


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
