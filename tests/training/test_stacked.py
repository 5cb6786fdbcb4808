"""StackedModel computes exactly what G separate modules compute, forward and backward."""

import copy

import pytest
import torch

from nnstudy.models import build_model
from nnstudy.training.stacked import StackedModel

SPECS = [
    ({"mlp": {"hidden": [32, 16], "activation": "tanh", "batchnorm": True}}, (1, 8, 8)),
    ("lenet5", (1, 32, 32)),
    ({"cnn": {"channels": [4, 8], "kernel": 3, "batchnorm": True, "hidden": [20]}}, (3, 12, 12)),
    (
        [{"conv": {"out": 4, "kernel": 3}}, "relu", {"conv": {"out": 8, "kernel": 3, "groups": 2}},
         {"avgpool": 2}, {"adaptive_avgpool": 2}, "flatten", {"linear": 10}, "log_softmax"],
        (2, 10, 10),
    ),
    ("residual", (6,)),
]


class Residual(torch.nn.Module):
    """Not a SpecNet: it takes the vmap path."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 6)
        self.bn = torch.nn.BatchNorm1d(6)
        self.out = torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.out(torch.relu(self.bn(self.fc(x))) + x)


def make(spec, shape, seed):
    if spec == "residual":
        torch.manual_seed(seed)
        return Residual().double()
    return build_model(spec, shape, seed=seed).double()


@pytest.mark.parametrize(("spec", "shape"), SPECS)
def test_stacked_forward_and_gradients_equal_separate_modules(spec, shape):
    G = 3
    modules = [make(spec, shape, i) for i in range(G)]
    twins = copy.deepcopy(modules)
    stacked = StackedModel(modules)
    x = torch.randn(G, 5, *shape, dtype=torch.float64)

    out = stacked(x)
    ref = torch.stack([m(x[g]) for g, m in enumerate(twins)])
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)

    (out**2).sum().backward()
    (ref**2).sum().backward()
    for g, m in enumerate(twins):
        for name, p in m.named_parameters():
            torch.testing.assert_close(stacked.params[name].grad[g], p.grad, rtol=1e-9,
                                       atol=1e-12)

    # batch-norm running statistics moved exactly as torch moved them
    stacked.eval()
    for m in twins:
        m.eval()
    for g, m in enumerate(twins):
        torch.testing.assert_close(stacked.state_dict(g), {
            k: v for k, v in m.state_dict().items()}, rtol=1e-10, atol=1e-12)
    shared = stacked(x[0], shared=True)
    torch.testing.assert_close(shared, torch.stack([m(x[0]) for m in twins]), rtol=1e-10,
                               atol=1e-12)


def test_specnets_take_the_explicit_path_and_other_modules_vmap():
    assert StackedModel([build_model("lenet5", (1, 32, 32))]).explicit
    assert not StackedModel([build_model("alexnet", (3, 64, 64))]).explicit


def test_weight_names_are_conv_and_linear_weights_only():
    net = build_model({"mlp": {"hidden": [8], "batchnorm": True}}, (4,))
    assert StackedModel([net]).weight_names() == ["fc1.weight", "fc2.weight"]
