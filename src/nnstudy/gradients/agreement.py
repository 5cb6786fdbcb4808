"""The reference engine against torch.autograd on the same model, inputs and loss."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from nnstudy.errors import ConfigError
from nnstudy.gradients.fixed_dropout import fixed_dropout
from nnstudy.gradients.l2 import l2_term, penalized_weights
from nnstudy.gradients.losses import torch_loss
from nnstudy.gradients.relerr import tensor_rel_error
from nnstudy.models.to_reference import from_torch
from nnstudy.reference.dropout import Dropout
from nnstudy.reference.losses import get_loss, l2_penalty


@dataclass
class Agreement:
    """How far the reference engine is from autograd: whole-tensor relative errors
    (see `tensor_rel_error`) of the output, the loss, and dL/dparam per parameter."""

    output_error: float
    loss_error: float
    grad_errors: dict[str, float] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        return max([self.output_error, self.loss_error, *self.grad_errors.values()])


def agreement(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
              loss: str = "cross_entropy", seed: int = 0, l2: float = 0.0) -> Agreement:
    """Run `model` (a float64 copy, in its own train/eval mode) under autograd and under
    the reference engine, with the same dropout masks, and compare. With `l2` > 0 both
    add the L2 term lambda Σ_W ||W||^2 (the reference engine's `l2_penalty`) to the loss.

    Raises ConfigError when the reference engine does not cover the model or the loss.
    """
    get_loss(loss)
    model = copy.deepcopy(model).double()
    net = from_torch(model)  # before the forward pass moves batchnorm's running statistics
    x = inputs.detach().double()
    t = targets.detach().double() if targets.is_floating_point() else targets.detach()
    params = dict(model.named_parameters())
    weights = penalized_weights(model) if l2 else {}
    with fixed_dropout(model, seed) as masks:
        out = model(x)
        value = torch_loss(loss)(out, t)
        if l2:
            value = value + l2_term(weights, l2)
        grads = torch.autograd.grad(value, list(params.values()), allow_unused=True)
    for name, layer in net.layers:
        if isinstance(layer, Dropout) and name in masks:
            layer.mask = masks[name].numpy()
    ref_out = net.forward(x.numpy())
    ref_value, dout = get_loss(loss)(ref_out, t.numpy())
    net.backward(dout)
    ref_grads = net.grads()
    if l2:
        ref_params = net.params()
        penalty, extra = l2_penalty({n: ref_params[n] for n in weights}, l2)
        ref_value += penalty
        ref_grads = {n: g + extra[n] if n in extra else g for n, g in ref_grads.items()}
    missing = set(params) - set(ref_grads)
    if missing:
        raise ConfigError(f"reference engine: no gradient for {', '.join(sorted(missing))}")
    torch_grads = {
        name: (g if g is not None else torch.zeros_like(params[name])).numpy()
        for name, g in zip(params, grads, strict=True)
    }
    scale = max((float(np.abs(g).max()) for g in torch_grads.values() if g.size), default=0.0)
    return Agreement(
        output_error=tensor_rel_error(out.detach().numpy(), ref_out),
        loss_error=tensor_rel_error(np.array(value.item()), np.array(ref_value)),
        grad_errors={n: tensor_rel_error(g, ref_grads[n], scale) for n, g in torch_grads.items()},
    )
