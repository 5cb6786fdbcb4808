"""G models of one architecture as one: parameters stacked along a leading model axis.

`StackedModel(modules)` holds every parameter as a tensor [G, ...] and computes the G
forward passes at once. For models built from specs (`SpecNet`) it runs explicit batched
ops, layer by layer:

- linear: y[g] = x[g] @ W[g]^T + b[g] as one `baddbmm` over the model axis;
- conv: the G models' channels side by side, x as [B, G*C, H, W], one grouped conv
  (groups = G * groups); pooling, batch norm (per-channel, so per model) and activations
  work on that layout unchanged;
- a batch shared by all models (evaluation) enters the first layer without copies:
  one matmul against all G weight matrices, or one conv with G*O filters.

Any other nn.Module is run through `torch.func.vmap` over `functional_call`. Either way
the models stay independent: the loss is the sum of the G models' losses, so the gradient
of each model's parameters is that model's own.

`loss_and_grads` is the training pass: chains of linear layers and element-wise
activations (MLPs) take the hand-written backward of `nnstudy.training.dense`, every
other model autograd.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnstudy.config import layers as spec
from nnstudy.models.build import SpecNet
from nnstudy.models.layers import decayed_names, kind_of_module
from nnstudy.training.dense import DenseChain
from nnstudy.training.losses import add_l2_gradient, l2_penalty, per_model_loss

# Families of layers whose torch module runs unchanged on every layout of the G models
# (pooling and activations act per channel or per element); the other kinds the explicit
# forward runs have a batched op of their own (`_BATCHED`).
_ANY_LAYOUT = ("pool", "activation")


def _is_explicit(module: nn.Module) -> bool:
    """A SpecNet whose every child has a batched op or acts on any layout."""
    if not isinstance(module, SpecNet):
        return False
    kinds = [kind_of_module(child) for child in module.children()]
    return all(k is not None and (k.spec in _BATCHED or k.family in _ANY_LAYOUT)
               for k in kinds)


class StackedModel:
    """G models of the same architecture, trained and evaluated at once.

    Args:
        modules: G modules with the same parameter names and shapes (each with its own
            initial weights).

    Attributes:
        params: name -> Tensor [G, ...] (leaf tensors that require grad).
        buffers: name -> Tensor [G, ...] (batch-norm running statistics).
    """

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        if not modules:
            raise ValueError("StackedModel needs at least one module")
        self.G = len(modules)
        self.template = modules[0]
        names = [n for n, _ in self.template.named_parameters()]
        self.params: dict[str, Tensor] = {}
        for name in names:
            stacked = torch.stack([dict(m.named_parameters())[name].detach() for m in modules])
            self.params[name] = stacked.clone().requires_grad_(True)
        self.buffers: dict[str, Tensor] = {
            name: torch.stack([dict(m.named_buffers())[name] for m in modules]).clone()
            for name, _ in self.template.named_buffers()
        }
        self.explicit = _is_explicit(self.template)
        if self.explicit:  # each child with its batched op
            self._steps = [(name, mod, _BATCHED.get(kind_of_module(mod).spec, _same_op))
                           for name, mod in self.template.named_children()]
        self.dense = DenseChain.of(self.template) if self.explicit else None
        self.training = True
        self.record: dict[str, Tensor] | None = None
        if not self.explicit:
            self._meta = copy.deepcopy(self.template).to("meta")

    # -- state ------------------------------------------------------------------------
    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> StackedModel:
        for k, v in self.params.items():
            self.params[k] = v.detach().to(device=device, dtype=dtype).requires_grad_(True)
        for k, v in self.buffers.items():
            if v.is_floating_point():
                self.buffers[k] = v.to(device=device, dtype=dtype)
            else:
                self.buffers[k] = v.to(device=device)
        return self

    def snapshot(self) -> StackedModel:
        """A copy of the G models' current weights that later training leaves alone."""
        snap = copy.copy(self)
        snap.params = {k: v.detach().clone() for k, v in self.params.items()}
        snap.buffers = {k: v.clone() for k, v in self.buffers.items()}
        snap.record = None
        return snap

    @torch.no_grad()
    def copy_models_from(self, other: StackedModel, models: Sequence[int]) -> None:
        """Give the models `models` the weights (and buffers) they have in `other`."""
        idx = torch.tensor(list(models), device=next(iter(self.params.values())).device)
        for k, v in self.params.items():
            v[idx] = other.params[k][idx]
        for k, v in self.buffers.items():
            v[idx] = other.buffers[k][idx]

    def state_dict(self, g: int) -> dict[str, Tensor]:
        """The state dict of model `g`, with the template's keys (loads into it)."""
        out = {k: v[g].detach().clone().cpu() for k, v in self.params.items()}
        out.update({k: v[g].clone().cpu() for k, v in self.buffers.items()})
        template_keys = list(self.template.state_dict().keys())
        return {k: out[k] for k in template_keys}

    def module(self, g: int) -> nn.Module:
        """A fresh nn.Module holding model `g`'s weights."""
        m = copy.deepcopy(self.template).cpu()
        m.load_state_dict(self.state_dict(g))
        return m

    def weight_names(self) -> list[str]:
        """Parameters that are weights (not biases nor batch-norm scales): the L2 term's,
        as each layer kind says (`nnstudy.models.layers.decayed_names`)."""
        names = set(decayed_names(self.template))
        return [name for name in self.params if name in names]

    # -- training pass ----------------------------------------------------------------
    def loss_and_grads(self, x: Tensor, y: Tensor, loss: str, lam: Tensor | None = None,
                       weight_names: Sequence[str] = ()) -> tuple[Tensor, list[Tensor]]:
        """The mean batch loss of each model [G] and the gradient of every parameter.

        Args:
            x: each model's inputs [G, B, ...]; y: labels [G, B]. Or x [1, B, ...] and y
                [1, B]: one batch every model trains on (models that share a data order).
            loss: "cross_entropy" or "mse".
            lam: per-model L2 strength [G] (the reports' lambda * ||W||^2 on the weights
                `weight_names`, gradient 2 * lambda * W), or None.

        Returns:
            (losses [G] without the L2 term, gradients aligned with `params`). The
            gradients may be buffers the next call reuses.
        """
        if self.dense is not None:
            losses, grads = self.dense.loss_and_grads(self.params, x, y, loss, self.training)
            if lam is not None:
                add_l2_gradient(grads, self.params, weight_names, lam)
            return losses, grads
        if x.shape[0] == 1 and self.G > 1:  # one batch for every model
            logits = self(x[0], shared=True)
            y = y.expand(self.G, -1)
        else:
            logits = self(x)
        losses = per_model_loss(loss, logits, y)
        objective = losses.sum()
        if lam is not None:
            objective = objective + l2_penalty(self.params, weight_names, lam).sum()
        return losses.detach(), list(torch.autograd.grad(objective, list(self.params.values())))

    # -- forward ----------------------------------------------------------------------
    def __call__(self, x: Tensor, shared: bool = False) -> Tensor:
        """Logits [G, B, K] for inputs x [G, B, ...], or x [B, ...] when `shared`."""
        if self.explicit:
            return self._forward_explicit(x, shared)
        return self._forward_vmap(x, shared)

    def _forward_vmap(self, x: Tensor, shared: bool) -> Tensor:
        from torch.func import functional_call, vmap

        def one(p, b, xb):
            return functional_call(self._meta, (p, b), (xb,))

        self._meta.train(self.training)
        in_dims = (0, 0, None if shared else 0)
        return vmap(one, in_dims=in_dims, randomness="different")(self.params, self.buffers, x)

    def _forward_explicit(self, x: Tensor, shared: bool) -> Tensor:
        G = self.G
        # Layouts: "flat" [G, B, D]; "image" [B, G*C, H, W]; a batch shared by all models
        # (evaluation) has no model axis: "shared_flat" [B, D] or "shared" [B, C, H, W].
        if shared:
            layout = "shared_flat" if x.dim() == 2 else "shared"
            h = x
        elif x.dim() == 3:
            layout, h = "flat", x
        else:
            B = x.shape[1]
            layout, h = "image", x.transpose(0, 1).reshape(B, G * x.shape[2], *x.shape[3:])
        for name, mod, op in self._steps:
            h, layout = op(self, name, mod, h, layout)
        if layout in {"shared", "shared_flat"}:  # a model of no parameters
            h = h.unsqueeze(0).expand(G, *h.shape)
        return h

    @torch.no_grad()
    def largest_activation(self, x: Tensor) -> int | None:
        """Elements of the largest output of any layer of the G models for the inputs `x`
        [B, ...] shared by every model; None for a model that goes through vmap. Call it in
        eval mode (as `evaluation.evaluate` does), so that batch norm uses and keeps its
        running statistics."""
        if not self.explicit:
            return None
        h, layout = x, "shared_flat" if x.dim() == 2 else "shared"
        largest = 0
        record, self.record = self.record, None  # this pass is no observation
        try:
            for name, mod, op in self._steps:
                h, layout = op(self, name, mod, h, layout)
                largest = max(largest, h.numel())
        finally:
            self.record = record
        return largest

    def _linear(self, name: str, mod: nn.Linear, h: Tensor, layout: str) -> tuple[Tensor, str]:
        """y[g] = x[g] @ W[g]^T + b[g] as one baddbmm over the model axis."""
        G, w, b = self.G, self.params[f"{name}.weight"], self.params.get(f"{name}.bias")
        if layout == "shared_flat":
            # one matmul against all G weight matrices: [B, D] @ [D, G*O]
            y = h @ w.reshape(G * w.shape[1], w.shape[2]).t()
            h = y.view(h.shape[0], G, w.shape[1]).transpose(0, 1)
            if b is not None:
                h = h + b.unsqueeze(1)
        elif b is not None:
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        else:
            h = torch.bmm(h, w.transpose(1, 2))
        return h, "flat"

    def _conv(self, name: str, mod: nn.Conv2d, h: Tensor, layout: str) -> tuple[Tensor, str]:
        """The G models' channels side by side: one conv with groups = G * groups."""
        G, w, b = self.G, self.params[f"{name}.weight"], self.params.get(f"{name}.bias")
        wf = w.reshape(G * w.shape[1], *w.shape[2:])
        bf = b.reshape(-1) if b is not None else None
        if layout == "shared" and mod.groups > 1:
            h, layout = h.repeat(1, G, 1, 1), "image"
        groups = mod.groups if layout == "shared" else mod.groups * G
        return F.conv2d(h, wf, bf, mod.stride, mod.padding, mod.dilation, groups), "image"

    def _flatten(self, name: str, mod: nn.Flatten, h: Tensor, layout: str
                 ) -> tuple[Tensor, str]:
        if layout == "image":
            B = h.shape[0]
            return h.reshape(B, self.G, -1).transpose(0, 1), "flat"
        if layout == "shared":
            return h.reshape(h.shape[0], -1), "shared_flat"
        return h, layout

    def _dropout(self, name: str, mod: nn.Dropout, h: Tensor, layout: str
                 ) -> tuple[Tensor, str]:
        return F.dropout(h, mod.p, self.training), layout

    def _per_model(self, h: Tensor, layout: str) -> Tensor:
        """Activations as [G, B, units]."""
        if layout == "image":
            B = h.shape[0]
            return h.reshape(B, self.G, -1).transpose(0, 1)
        return h

    def _batchnorm(self, name: str, mod: nn.Module, h: Tensor, layout: str) -> tuple[Tensor, str]:
        G = self.G
        if layout in {"shared", "shared_flat"}:
            h = h.unsqueeze(0).expand(G, *h.shape) if layout == "shared_flat" else h.repeat(
                1, G, 1, 1)
            layout = "flat" if layout == "shared_flat" else "image"
        w = self.params.get(f"{name}.weight")
        b = self.params.get(f"{name}.bias")
        rm = self.buffers.get(f"{name}.running_mean")
        rv = self.buffers.get(f"{name}.running_var")
        flat = lambda t: t.reshape(-1) if t is not None else None  # noqa: E731
        if layout == "flat":  # [G, B, D] -> [B, G*D]
            B = h.shape[1]
            y = F.batch_norm(h.transpose(0, 1).reshape(B, -1), flat(rm), flat(rv), flat(w),
                             flat(b), self.training, mod.momentum, mod.eps)
            y = y.view(B, G, -1).transpose(0, 1)
        else:
            y = F.batch_norm(h, flat(rm), flat(rv), flat(w), flat(b), self.training,
                             mod.momentum, mod.eps)
        # F.batch_norm updated the running statistics in place through the flat views.
        tracked = self.buffers.get(f"{name}.num_batches_tracked")
        if tracked is not None and self.training:
            tracked += 1
        return y, layout

    def train(self, mode: bool = True) -> StackedModel:
        self.training = mode
        return self

    def eval(self) -> StackedModel:
        return self.train(False)


def _same_op(model: StackedModel, name: str, mod: nn.Module, h: Tensor, layout: str
             ) -> tuple[Tensor, str]:
    """Pools and activations act on any layout unchanged (ReLU outputs are recorded for
    the dead-unit diagnosis)."""
    h = mod(h)
    if model.record is not None and isinstance(mod, nn.ReLU):
        model.record[name] = model._per_model(h, layout)
    return h, layout


# The kinds with a batched op of their own; any other kind of a family in _ANY_LAYOUT
# runs its module unchanged, and a model with any other layer goes through vmap.
_BATCHED = {
    spec.Linear: StackedModel._linear,
    spec.Conv: StackedModel._conv,
    spec.Flatten: StackedModel._flatten,
    spec.BatchNorm: StackedModel._batchnorm,
    spec.Dropout: StackedModel._dropout,
}
