"""Acceptance figures on the zoo models (issue 2)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nnstudy.analysis import inspect
from nnstudy.config.zoo import ZOO
from nnstudy.models import load_model


@pytest.fixture(scope="module")
def alexnet():
    model, shape = load_model("alexnet")
    return model, shape, inspect(model, shape)


def test_lenet5_has_61706_trainable_parameters_laid_out_per_layer():
    summary = inspect("lenet5")
    assert summary.input_shape == (1, 32, 32)
    assert summary.trainable_params == summary.total_params == 61_706
    layers = [r.params for r in summary.rows if r.kind in ("conv", "pool", "linear")]
    assert layers == [156, 0, 2_416, 0, 48_120, 10_164, 850]


@pytest.mark.slow
def test_alexnet_has_61100840_parameters_and_714188480_conv_linear_macs(alexnet):
    summary = alexnet[2]
    assert summary.input_shape == (3, 224, 224)
    assert summary.total_params == 61_100_840
    assert sum(r.macs for r in summary.rows if r.kind in ("conv", "linear")) == 714_188_480


def test_alexnet_rows_keep_torchvision_module_names(alexnet):
    summary = alexnet[2]
    names = [r.name for r in summary.rows]
    assert names[0] == "features.0" and "avgpool" in names and names[-1] == "classifier.6"
    avgpool = next(r for r in summary.rows if r.name == "avgpool")
    assert avgpool.cost.divs == 256 * 6 * 6 and avgpool.macs == 0


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_model_is_fully_counted_and_agrees_with_flop_counter(name, alexnet):
    if name == "alexnet":
        model, shape, summary = alexnet
    else:
        model, shape = load_model(name)
        summary = inspect(model, shape, name=name)
    assert summary.uncounted == {} and summary.training.uncounted == {}
    assert summary.total_params == sum(p.numel() for p in model.parameters())
    assert sum(r.params for r in summary.rows) == summary.total_params
    with FlopCounterMode(display=False) as reference, torch.no_grad():
        model.eval()(torch.randn(1, *shape))
    assert 2 * summary.macs == reference.get_total_flops()
    assert summary.flops_no_bias < summary.flops < summary.training.flops
