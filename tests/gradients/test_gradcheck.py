"""gradcheck: autograd against central differences, a wrong backward caught and located."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnstudy.errors import ConfigError
from nnstudy.gradients import gradcheck
from nnstudy.gradients.gradcheck import verdict_of
from nnstudy.models import build_model


class _WrongLinearFunction(torch.autograd.Function):
    """y = x W^T + b with a backward that forgets to sum dW over the batch's first row."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        wrong_dw = dy[1:].T @ x[1:]  # should be dy.T @ x
        return dy @ weight, wrong_dw, dy.sum(0)


class WrongLinear(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / n_in**0.5)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return _WrongLinearFunction.apply(x, self.weight, self.bias)


def _batch(shape, n=4, classes=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=gen), torch.randint(0, classes, (n,), generator=gen)


def test_entries_at_the_rounding_floor_count_as_agreeing_but_are_reported():
    torch.manual_seed(3)
    # a wide layer on inputs with a few tiny features: their weights get gradients near 1e-9
    model = nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3))
    x, t = _batch((12,), classes=3)
    x[:, :4] *= 1e-6
    report = gradcheck(model, x, t, samples=None, params="0.weight")
    [p] = report.params
    assert p.max_rel_error > 1e-4  # the formula alone would fail a correct gradient
    assert p.at_floor > 0
    assert p.verdict in ("pass", "warn")
    floor_entries = [e for e in p.worst if e.within_rounding]
    assert all(abs(e.analytic - e.numeric) <= 10 * report.rounding_floor for e in floor_entries)
    assert "at the rounding floor" in report.render()


def test_verdict_thresholds_are_1e7_and_1e4():
    assert [verdict_of(e) for e in (0.0, 9.9e-8, 1e-7, 9.9e-5, 1e-4, float("nan"))] == [
        "pass", "pass", "warn", "warn", "fail", "fail"]


def test_lenet5_gradients_check_and_agree_with_the_reference_engine():
    torch.manual_seed(0)
    model = build_model("lenet5", (1, 32, 32))
    report = gradcheck(model, *_batch((1, 32, 32)), samples=20)
    assert report.passed
    assert report.max_rel_error < 1e-4
    assert [p.name for p in report.params] == [n for n, _ in model.named_parameters()]
    assert all(p.checked == min(20, p.numel) for p in report.params)
    assert report.reference == "covered"
    assert all(p.reference_error < 1e-6 for p in report.params)
    assert report.analytic_seconds > 0 and report.numeric_seconds > 0


def test_a_wrong_backward_fails_and_its_worst_entries_point_at_it():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), WrongLinear(5, 4), nn.Tanh(),
                          nn.Linear(4, 3))
    report = gradcheck(model, *_batch((6,), classes=3), samples=None)
    assert report.verdict == "fail"
    assert not report.passed
    by_name = {p.name: p for p in report.params}
    assert by_name["2.weight"].verdict == "fail"
    for name in ("0.weight", "0.bias", "2.bias", "4.weight", "4.bias"):
        assert by_name[name].verdict != "fail", name
    worst_name, worst = report.worst_entries(1)[0]
    assert worst_name == "2.weight"
    assert worst.rel_error > 1e-2
    assert report.reference.startswith("not covered")
    assert "WrongLinear" in report.reference
    assert "2.weight[" in report.render()


def test_large_tensors_are_sampled_and_the_full_numeric_time_extrapolated():
    model = nn.Sequential(nn.Linear(50, 40), nn.Tanh(), nn.Linear(40, 3))
    report = gradcheck(model, *_batch((50,), classes=3), samples=7)
    assert [p.checked for p in report.params] == [7, 7, 7, 3]
    assert report.total_entries == 50 * 40 + 40 + 40 * 3 + 3
    assert report.full_numeric_seconds == pytest.approx(
        report.numeric_seconds / 24 * report.total_entries)
    assert report.entry_seconds <= report.numeric_seconds
    full = gradcheck(model, *_batch((50,), classes=3), samples=None, params="2")
    assert [p.checked for p in full.params] == [120, 3]


def test_params_are_chosen_by_parameter_or_module_name():
    model = build_model([{"linear": 5}, "relu", {"linear": 3}], (4,))
    report = gradcheck(model, *_batch((4,), classes=3), params="fc1.weight,fc2")
    assert [p.name for p in report.params] == ["fc1.weight", "fc2.weight", "fc2.bias"]
    with pytest.raises(ConfigError, match=r"params: 'fc9' is not a parameter of the model; "
                                          r"one of fc1.weight, fc1.bias"):
        gradcheck(model, *_batch((4,), classes=3), params=["fc9"])


def test_dropout_and_batchnorm_in_training_mode_check_with_fixed_masks():
    torch.manual_seed(2)
    model = build_model({"mlp": {"hidden": [12], "dropout": 0.5, "batchnorm": True}}, (8,),
                        num_classes=3).train()
    report = gradcheck(model, *_batch((8,), n=6, classes=3), samples=None)
    assert report.passed, report.render()
    assert report.reference == "covered"
    assert all(p.reference_error < 1e-6 for p in report.params)


def test_mse_loss_and_a_custom_loss_callable():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    report = gradcheck(model, x, torch.randn(5, 2), loss="mse", samples=None)
    assert report.verdict in ("pass", "warn")
    custom = gradcheck(model, x, torch.randn(5, 2), loss=lambda out, t: ((out - t) ** 4).sum())
    assert custom.passed
    assert custom.reference == "not compared: a custom loss"


def test_bad_arguments_name_the_parameter():
    model = nn.Sequential(nn.Linear(3, 2))
    x, t = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(ConfigError, match="loss: 'hinge' is not one of cross_entropy, nll, mse"):
        gradcheck(model, x, t, loss="hinge")
    with pytest.raises(ConfigError, match="eps: must be > 0"):
        gradcheck(model, x, t, eps=0.0)
    with pytest.raises(ConfigError, match="samples: must be >= 1"):
        gradcheck(model, x, t, samples=0)


def test_the_checked_model_is_left_untouched():
    model = nn.Sequential(nn.Linear(3, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gradcheck(model, torch.randn(2, 3), torch.tensor([0, 1]))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).dtype == torch.float32


def test_gradcheck_is_public_api():
    import nnstudy

    report = nnstudy.gradcheck(nn.Linear(3, 2), torch.randn(2, 3), torch.tensor([1, 0]))
    assert report.passed
