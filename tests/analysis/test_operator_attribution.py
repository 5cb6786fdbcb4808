"""Each aten operator is counted once, in the row of the innermost module that ran it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnstudy.analysis import OpCounter, inspect
from nnstudy.errors import ConfigError, ShapeError


class FunctionalNet(nn.Module):
    """Calls F.conv2d, torch.relu, F.max_pool2d and F.linear on its own parameters."""

    def __init__(self, twin: nn.Sequential) -> None:
        super().__init__()
        self.w1, self.b1 = nn.Parameter(twin[0].weight.clone()), nn.Parameter(twin[0].bias.clone())
        self.w2, self.b2 = nn.Parameter(twin[4].weight.clone()), nn.Parameter(twin[4].bias.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(torch.relu(F.conv2d(x, self.w1, self.b1, padding=1)), 2)
        return F.linear(torch.flatten(x, 1), self.w2, self.b2)


def _twin() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 5)
    )


def test_functional_model_counts_the_same_as_its_nn_twin():
    twin = _twin()
    nn_rows = inspect(twin, (3, 8, 8)).rows
    f_summary = inspect(FunctionalNet(twin), (3, 8, 8))
    figures = [(r.params, r.bias_params, r.cost) for r in nn_rows if r.kind != "reshape"]
    assert [(r.params, r.bias_params, r.cost) for r in f_summary.rows] == figures
    assert [r.name for r in f_summary.rows] == [
        "convolution",
        "relu",
        "max_pool2d_with_indices",
        "addmm",
    ]
    assert f_summary.training.flops == inspect(twin, (3, 8, 8)).training.flops


def test_linear_on_a_3d_input_counts_every_position():
    summary = inspect(nn.Linear(64, 32), (50, 64), training=False)
    assert summary.macs == 50 * 64 * 32
    assert summary.rows[0].output_shape == (50, 32)


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.relu, self.conv2 = (
            nn.Conv2d(4, 4, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(4, 4, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x)))


def test_residual_addition_is_counted_once_in_the_block_that_adds():
    model = nn.Sequential(Residual(), nn.ReLU())
    summary = inspect(model, (4, 6, 6), training=False)
    adds = [r for r in summary.rows if r.type == "add"]
    assert [r.name for r in adds] == ["0.add"]
    assert adds[0].flops == adds[0].cost.adds == 4 * 6 * 6
    conv = 2 * (4 * 36 * (2 * 36 - 1) + 4 * 36)
    assert summary.flops == conv + 144 + 144 + 144  # two convs, relu, add, relu


def test_operators_without_a_formula_are_listed_as_uncounted_never_zero():
    class Cumulative(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cumsum(x, dim=-1).relu()

    summary = inspect(Cumulative(), (10,), training=False)
    assert summary.uncounted == {"cumsum": 1}
    assert [r.uncounted for r in summary.rows] == [("cumsum",), ()]
    assert "cumsum x1" in summary.to_markdown()


def test_views_and_copies_are_free_and_not_listed():
    class Reshaper(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.view(2, -1).t().contiguous().flatten().clone()

    summary = inspect(Reshaper(), (4, 3), training=False)
    assert summary.rows == () and summary.uncounted == {}


def test_parameters_shared_by_two_layers_are_counted_once():
    first, second = nn.Linear(6, 6), nn.Linear(6, 6)
    second.weight = first.weight
    summary = inspect(nn.Sequential(first, second), (6,), training=False)
    assert [r.params for r in summary.rows] == [42, 6]
    assert summary.total_params == 48


def test_unused_parameters_are_reported():
    class Spare(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.spare = nn.Linear(3, 2), nn.Parameter(torch.zeros(7))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    summary = inspect(Spare(), (3,), training=False)
    assert summary.unused_params == 7 and summary.total_params == 15


def test_counter_attributes_operators_to_the_innermost_module():
    model = nn.Sequential(nn.Sequential(nn.Linear(3, 3), nn.ReLU()))
    with OpCounter(model) as counter:
        model(torch.ones(1, 3))
    assert [(r.op, r.call.name) for r in counter.records] == [("addmm", "0.0"), ("relu", "0.1")]


def test_a_layer_that_does_not_fit_raises_a_shape_error_naming_it():
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.MaxPool2d(2), nn.Conv2d(6, 16, 6))
    with pytest.raises(ShapeError, match=r"^2 \(Conv2d\): input 6x2x2 does not fit"):
        inspect(model, (1, 9, 9))


@pytest.mark.parametrize("shape", [(), (0, 3), (-1,), ("a",)])
def test_a_bad_input_shape_is_a_config_error(shape):
    with pytest.raises(ConfigError, match="input_shape"):
        inspect(nn.Linear(3, 2), shape)


def test_inspect_leaves_the_model_mode_buffers_gradients_and_rng_untouched():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 2))
    model[2].eval()
    stats = model[1].running_mean.clone(), model[1].num_batches_tracked.clone()
    rng = torch.get_rng_state()
    inspect(model, (4,))
    assert model.training and not model[2].training
    assert torch.equal(model[1].running_mean, stats[0])
    assert torch.equal(model[1].num_batches_tracked, stats[1])
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)
