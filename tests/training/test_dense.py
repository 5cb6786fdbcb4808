"""The hand-written backward of chains of linear layers equals torch.autograd's."""

import copy

import pytest
import torch
import torch.nn.functional as F

from nnstudy.models import build_model
from nnstudy.training.dense import DenseChain
from nnstudy.training.stacked import StackedModel

CHAINS = [
    {"mlp": {"hidden": [12], "activation": "relu"}},
    {"mlp": {"hidden": [12, 7], "activation": "sigmoid"}},
    {"mlp": {"hidden": [9, 9], "activation": "tanh"}},
    {"mlp": {"hidden": [8], "activation": "leaky_relu"}},
    {"mlp": {"hidden": [8], "activation": "elu"}},
    {"mlp": {"hidden": [8], "activation": "gelu"}},
    {"mlp": {"hidden": [8, 6], "activation": "silu"}},
    {"mlp": {"hidden": [8, 6], "activation": "linear"}},
    [{"linear": {"out": 10, "bias": False}}, "relu", {"linear": 5}],
    [{"linear": 10}, {"linear_activation": {"a": 0.5, "c": 1.0}}, {"linear": 5}],
    [{"linear": 10}, {"leaky_relu": 0.2}, {"dropout": 0.0}, {"linear": 5}],
    [{"linear": 10}, "relu", {"linear": 5}, "softmax"],
    [{"linear": 10}, "tanh", {"linear": 5}, "log_softmax"],
    [{"linear": 10}, "softmax", {"linear": 5}],
]


def autograd_reference(stacked: StackedModel, x, y, loss, lam=None):
    """The same pass through StackedModel's autograd path."""
    dense, stacked.dense = stacked.dense, None
    try:
        return stacked.loss_and_grads(x, y, loss, lam, stacked.weight_names())
    finally:
        stacked.dense = dense


@pytest.mark.parametrize("G", [1, 3])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("spec", CHAINS, ids=lambda s: str(s)[:40])
def test_losses_and_gradients_equal_autograd(spec, loss, G):
    shape, K, B = (1, 3, 4), 5, 6
    modules = [build_model(spec, shape, K, seed=g).double() for g in range(G)]
    stacked = StackedModel(modules)
    assert stacked.dense is not None
    x = torch.randn(G, B, *shape, dtype=torch.float64)
    y = torch.randint(0, K, (G, B))
    losses, grads = stacked.loss_and_grads(x, y, loss)
    ref_losses, ref_grads = autograd_reference(stacked, x, y, loss)
    torch.testing.assert_close(losses, ref_losses, rtol=1e-12, atol=1e-14)
    for name, g, r in zip(stacked.params, grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12, msg=name)


def test_each_model_gets_its_own_gradient_as_a_separate_module_would():
    """Against G nn.Modules and F.cross_entropy: nothing of ours in the reference."""
    spec = {"mlp": {"hidden": [16], "activation": "relu"}}
    modules = [build_model(spec, (20,), 4, seed=g).double() for g in range(3)]
    twins = copy.deepcopy(modules)
    stacked = StackedModel(modules)
    x = torch.randn(3, 8, 20, dtype=torch.float64)
    y = torch.randint(0, 4, (3, 8))
    losses, grads = stacked.loss_and_grads(x, y, "cross_entropy")
    for g, m in enumerate(twins):
        ref = F.cross_entropy(m(x[g]), y[g])
        ref.backward()
        assert losses[g].item() == pytest.approx(ref.item(), rel=1e-12)
        for (name, p), grad in zip(m.named_parameters(), grads, strict=True):
            torch.testing.assert_close(grad[g], p.grad, rtol=1e-10, atol=1e-12, msg=name)


def test_weight_gradient_matches_finite_differences():
    spec = {"mlp": {"hidden": [5], "activation": "tanh"}}
    stacked = StackedModel([build_model(spec, (4,), 3, seed=1).double()])
    x = torch.randn(1, 6, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (1, 6))
    _, grads = stacked.loss_and_grads(x, y, "cross_entropy")
    w = stacked.params["fc1.weight"]
    eps = 1e-6
    for idx in [(0, 0, 0), (0, 2, 3), (0, 4, 1)]:
        with torch.no_grad():
            w[idx] += eps
            up = stacked.loss_and_grads(x, y, "cross_entropy")[0].item()
            w[idx] -= 2 * eps
            down = stacked.loss_and_grads(x, y, "cross_entropy")[0].item()
            w[idx] += eps
        fd = (up - down) / (2 * eps)
        _, grads = stacked.loss_and_grads(x, y, "cross_entropy")
        assert grads[0][idx].item() == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_l2_term_adds_two_lambda_w_to_the_weights_only():
    spec = {"mlp": {"hidden": [6], "activation": "relu"}}
    stacked = StackedModel([build_model(spec, (4,), 3, seed=g).double() for g in range(2)])
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (2, 5))
    lam = torch.tensor([0.0, 0.3], dtype=torch.float64)
    losses, grads = stacked.loss_and_grads(x, y, "cross_entropy", lam, stacked.weight_names())
    grads = [g.clone() for g in grads]
    ref_losses, ref_grads = autograd_reference(stacked, x, y, "cross_entropy", lam)
    torch.testing.assert_close(losses, ref_losses)
    for name, g, r in zip(stacked.params, grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12, msg=name)
    plain = stacked.loss_and_grads(x, y, "cross_entropy")[1]
    w = stacked.params["fc1.weight"].detach()
    torch.testing.assert_close(grads[0] - plain[0], 2 * lam.view(2, 1, 1) * w)
    torch.testing.assert_close(grads[1], plain[1])  # the bias is not penalized


def test_dropout_masks_are_the_ones_f_dropout_draws():
    spec = {"mlp": {"hidden": [30], "activation": "relu", "dropout": 0.4}}
    stacked = StackedModel([build_model(spec, (10,), 4, seed=g).double() for g in range(2)])
    x = torch.randn(2, 7, 10, dtype=torch.float64)
    y = torch.randint(0, 4, (2, 7))
    torch.manual_seed(5)
    losses, grads = stacked.loss_and_grads(x, y, "cross_entropy")
    grads = [g.clone() for g in grads]
    torch.manual_seed(5)
    ref_losses, ref_grads = autograd_reference(stacked, x, y, "cross_entropy")
    torch.testing.assert_close(losses, ref_losses)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r)
    stacked.eval()
    a = stacked.loss_and_grads(x, y, "cross_entropy")[0]
    b = stacked.loss_and_grads(x, y, "cross_entropy")[0]
    torch.testing.assert_close(a, b)  # no dropout outside training


def test_silu_pass_is_x_sigmoid_x_forward_and_its_derivative_backward():
    """Against the formulas themselves: y = x s(x), dy/dx = s(x) (1 + x (1 - s(x)))."""
    stacked = StackedModel([build_model([{"linear": 3}, "swish", {"linear": 2}], (4,), 2,
                                        seed=0).double()])
    x = torch.randn(1, 5, 4, dtype=torch.float64)
    y = torch.randint(0, 2, (1, 5))
    _, grads = stacked.loss_and_grads(x, y, "mse")
    w1, b1, w2, b2 = (p.detach()[0] for p in stacked.params.values())
    z = x[0] @ w1.t() + b1
    s = 1 / (1 + torch.exp(-z))
    out = (z * s) @ w2.t() + b2
    dout = 2 * (out - F.one_hot(y[0], 2).double()) / out.numel()
    dz = (dout @ w2) * s * (1 + z * (1 - s))
    torch.testing.assert_close(grads[0][0], dz.t() @ x[0], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grads[2][0], dout.t() @ (z * s), rtol=1e-12, atol=1e-14)


def test_other_architectures_take_autograd():
    assert DenseChain.of(build_model("lenet5", (1, 32, 32), 10)) is None
    bn = build_model({"mlp": {"hidden": [8], "batchnorm": True}}, (4,), 3)
    assert DenseChain.of(bn) is None
    chain = DenseChain.of(build_model({"mlp": {"hidden": [8]}}, (1, 2, 2), 3))
    assert [layer.kind for layer in chain.layers] == ["linear", "act", "linear"]


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("spec", [*CHAINS, [{"linear": 5}]],
                         ids=lambda s: str(s)[:40])
def test_one_batch_shared_by_the_models_equals_each_model_given_it(spec, loss):
    """x [1, B, ...] for G models (models with one data order): the first layer runs as one
    product with the G weights side by side; losses and gradients equal those of the same
    batch given to each model ([G, B, ...], bmm) and autograd's."""
    shape, K, B, G = (1, 3, 4), 5, 6, 3
    stacked = StackedModel([build_model(spec, shape, K, seed=g).double() for g in range(G)])
    assert stacked.dense is not None
    x = torch.randn(1, B, *shape, dtype=torch.float64)
    y = torch.randint(0, K, (1, B))
    losses, grads = stacked.loss_and_grads(x, y, loss)
    grads = [g.clone() for g in grads]  # buffers the next call reuses
    each_losses, each_grads = stacked.loss_and_grads(x.expand(G, *x.shape[1:]),
                                                     y.expand(G, -1), loss)
    ref_losses, ref_grads = autograd_reference(stacked, x, y, loss)
    for other, other_grads in ((each_losses, each_grads), (ref_losses, ref_grads)):
        torch.testing.assert_close(losses, other, rtol=1e-12, atol=1e-14)
        for name, g, r in zip(stacked.params, grads, other_grads, strict=True):
            torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12, msg=name)
