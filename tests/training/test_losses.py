"""Each training loss's hand-written gradient and the L2 term's equal autograd's."""

from __future__ import annotations

import pytest
import torch

from nnstudy.training.losses import LOSSES, add_l2_gradient, l2_penalty, per_model_loss


@pytest.mark.parametrize("name", list(LOSSES))
def test_value_and_grad_equal_the_value_and_its_autograd_gradient(name):
    G, B, K = 3, 5, 4
    z = torch.randn(G, B, K, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, K, (G, B))
    value = per_model_loss(name, z, y)
    (expected,) = torch.autograd.grad(value.sum(), z)
    losses, dz = LOSSES[name]().value_and_grad(z.detach(), y)
    torch.testing.assert_close(losses, value.detach(), rtol=1e-14, atol=0)
    torch.testing.assert_close(dz, expected, rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_the_mean_negative_log_probability_of_the_label():
    z = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]], dtype=torch.float64)
    y = torch.tensor([[0, 1]])
    expected = (torch.log1p(torch.exp(torch.tensor(-2.0))) + torch.log(torch.tensor(2.0))) / 2
    assert per_model_loss("cross_entropy", z, y).item() == pytest.approx(expected.item())


def test_l2_gradient_is_the_autograd_gradient_of_the_penalty_on_the_weights_only():
    params = {"fc1.weight": torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True),
              "fc1.bias": torch.randn(2, 3, dtype=torch.float64, requires_grad=True)}
    lam = torch.tensor([0.0, 0.25], dtype=torch.float64)
    expected = torch.autograd.grad(l2_penalty(params, ["fc1.weight"], lam).sum(),
                                   list(params.values()), allow_unused=True)
    grads = [torch.zeros(2, 3, 4, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64)]
    add_l2_gradient(grads, params, ["fc1.weight"], lam)
    torch.testing.assert_close(grads[0], expected[0])
    assert expected[1] is None and not grads[1].any()


def test_an_unknown_loss_is_an_error_naming_the_choices():
    with pytest.raises(ValueError, match="loss: unknown 'hinge'; one of cross_entropy, mse"):
        per_model_loss("hinge", torch.zeros(1, 1, 2), torch.zeros(1, 1, dtype=torch.long))
