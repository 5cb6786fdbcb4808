"""Linear layers with identity or linear activations between them are one affine map."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnstudy.analysis import affine_runs, collapse, inspect
from nnstudy.errors import ConfigError
from nnstudy.models.layers import LinearActivation


class Mlp(nn.Sequential):
    def __init__(self, activation: type[nn.Module] | None = None) -> None:
        act = activation or (lambda: LinearActivation(0.5, -1.0))
        super().__init__()
        self.add_module("flatten", nn.Flatten())
        self.add_module("fc1", nn.Linear(784, 100))
        self.add_module("act1", act())
        self.add_module("fc2", nn.Linear(100, 50))
        self.add_module("act2", act())
        self.add_module("fc3", nn.Linear(50, 10))


def test_collapsed_map_gives_the_same_outputs_on_random_inputs():
    torch.manual_seed(0)
    model = Mlp()
    weight, bias = collapse(model)
    assert weight.shape == (10, 784) and bias.shape == (10,)
    x = torch.randn(64, 1, 28, 28)
    assert torch.allclose(model(x), x.flatten(1) @ weight.T + bias, atol=1e-4)


def test_identity_activations_and_a_leading_linear_activation_collapse_too():
    torch.manual_seed(1)
    model = nn.Sequential(
        LinearActivation(3.0, 2.0), nn.Linear(5, 4, bias=False), nn.Identity(),
        nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.0)), LinearActivation(-2.0, 0.5),
    )  # fmt: skip
    weight, bias = collapse(model)
    x = torch.randn(16, 5)
    assert torch.allclose(model(x), x @ weight.T + bias, atol=1e-5)


def test_inspect_says_which_layers_collapse_and_that_depth_adds_nothing():
    summary = inspect(Mlp(), (1, 28, 28), training=False)
    message = "fc1..fc3 with linear activations = one affine map 784 -> 10"
    assert summary.collapse == (f"{message}; depth adds no expressiveness",)
    assert message in summary.to_markdown()


def test_relu_between_linear_layers_does_not_collapse():
    assert affine_runs(Mlp(nn.ReLU)) == []
    assert inspect(Mlp(nn.ReLU), (1, 28, 28), training=False).collapse == ()
    with pytest.raises(ConfigError, match=r"act1 \(ReLU\) is not affine"):
        collapse(Mlp(nn.ReLU))


def test_runs_are_found_inside_a_larger_model():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(),
        nn.Sequential(nn.Linear(8, 6), nn.Identity(), nn.Linear(6, 4)), nn.ReLU(),
        nn.Linear(4, 2),
    )  # fmt: skip
    (run,) = affine_runs(model)
    assert run.names == ("3.0", "3.1", "3.2")
    assert run.describe().startswith("3.0..3.2 with identity activations = one affine map 8 -> 4")
    weight, bias = run.collapse()
    x = torch.randn(5, 8)
    assert torch.allclose(model[3](x), x @ weight.T + bias, atol=1e-5)


def test_a_model_with_a_custom_forward_is_not_collapsed():
    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(3, 3), nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(self.fc1(x)) * x

    assert affine_runs(Custom()) == []
    with pytest.raises(ConfigError, match=r"not an nn\.Sequential"):
        collapse(Custom())


def test_a_spec_built_mlp_with_linear_activations_collapses():
    from nnstudy.models import build_model

    torch.manual_seed(2)
    model = build_model({"mlp": {"hidden": [100, 50], "activation": "linear"}}, (1, 28, 28))
    weight, bias = collapse(model)
    x = torch.randn(8, 1, 28, 28)
    assert torch.allclose(model(x), x.flatten(1) @ weight.T + bias, atol=1e-4)
    assert (
        inspect(model, (1, 28, 28), training=False)
        .collapse[0]
        .startswith("fc1..fc3 with linear activations = one affine map 784 -> 10")
    )
