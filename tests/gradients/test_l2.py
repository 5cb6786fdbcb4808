"""The L2 term a gradient check adds: the trainer's weights, its value, its gradient."""

import pytest
import torch

from nnstudy.gradients.gradcheck import gradcheck
from nnstudy.gradients.l2 import l2_term, penalized_weights
from nnstudy.models import build_model


@pytest.mark.parametrize(("model", "shape", "weights"), [
    ({"mlp": {"hidden": [8, 6]}}, (5,), ["fc1.weight", "fc2.weight", "fc3.weight"]),
    ({"mlp": {"hidden": [8], "batchnorm": True}}, (5,), ["fc1.weight", "fc2.weight"]),
    ("lenet5", (1, 32, 32), ["conv1.weight", "conv2.weight", "conv3.weight", "fc1.weight",
                             "fc2.weight"]),
])
def test_the_penalized_weights_are_the_trainers_no_bias_nor_batchnorm_scale(model, shape,
                                                                             weights):
    net = build_model(model, shape, 10, seed=0)
    assert list(penalized_weights(net)) == weights


def test_the_checked_objective_adds_lambda_times_the_squared_weights():
    torch.manual_seed(0)
    net = build_model({"mlp": {"hidden": [4]}}, (3,), 2, seed=0)
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    plain = gradcheck(net, x, y, samples=None)
    with_l2 = gradcheck(net, x, y, samples=None, l2=0.3)
    w1, w2 = net.fc1.weight.detach().double(), net.fc2.weight.detach().double()
    by_hand = 0.3 * float((w1**2).sum() + (w2**2).sum())
    assert with_l2.l2_value == pytest.approx(by_hand, rel=1e-12)
    assert with_l2.loss_value == pytest.approx(plain.loss_value + by_hand, rel=1e-12)
    assert with_l2.passed and with_l2.reference == "covered"
    # the reference engine adds its own L2 gradient, 2 lambda W, written out: it agrees
    assert max(p.reference_error for p in with_l2.params) < 1e-12


def test_l2_term_of_no_weights_is_zero():
    assert l2_term({}, 0.5) == 0
