"""The reports' hand counts from the example files in examples/, through `nnstudy inspect`'s
path (a YAML file with `model:` and `input:`)."""

from pathlib import Path

import torch

from nnstudy.analysis import collapse, inspect
from nnstudy.models import load_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_conv_pool_000_gives_the_reports_flops():
    net, shape = load_model(str(EXAMPLES / "conv-pool-000.yaml"))
    s = inspect(net, shape)
    assert shape == (50, 12, 12)
    assert (s.rows[0].flops_no_bias, s.rows[0].flops) == (1_151_280, 1_152_000)
    assert s.rows[1].cost.comparisons == 2_560
    assert (s.flops_no_bias, s.flops) == (1_153_840, 1_154_560)


def test_linear_collapse_example_is_one_affine_map():
    net, shape = load_model(str(EXAMPLES / "linear-collapse.yaml"))
    s = inspect(net, shape)
    assert any("one affine map 784 -> 10" in line for line in s.collapse)
    w, b = collapse(net)
    x = torch.randn(5, *shape)
    with torch.no_grad():
        assert torch.allclose(x.flatten(1) @ w.T + b, net(x), atol=1e-4)
