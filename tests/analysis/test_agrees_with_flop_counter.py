"""On random small models, our totals agree with independent counts."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nnstudy.analysis import inspect


@st.composite
def small_models(draw: st.DrawFn) -> tuple[nn.Module, tuple[int, ...]]:
    channels, size = draw(st.integers(1, 3)), draw(st.integers(6, 12))
    shape = (channels, size, size)
    layers: list[nn.Module] = []
    for _ in range(draw(st.integers(0, 3))):
        kernel = draw(st.integers(1, 3))
        stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 1))
        if size + 2 * padding < kernel:
            break
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))
        out = groups * draw(st.integers(1, 3))
        layers.append(nn.Conv2d(channels, out, kernel, stride, padding, groups=groups,
                                bias=draw(st.booleans())))  # fmt: skip
        channels, size = out, (size + 2 * padding - kernel) // stride + 1
        layers.append(draw(st.sampled_from([nn.ReLU(), nn.Tanh(), nn.Identity()])))
        if size >= 2 and draw(st.booleans()):
            layers.append(nn.MaxPool2d(2))
            size //= 2
    layers.append(nn.Flatten())
    features = channels * size * size
    for _ in range(draw(st.integers(1, 3))):
        out = draw(st.integers(1, 8))
        layers.append(nn.Linear(features, out, bias=draw(st.booleans())))
        features = out
    return nn.Sequential(*layers), shape


@settings(max_examples=30, deadline=None)
@given(small_models())
def test_parameter_totals_equal_the_sum_of_numel(case):
    model, shape = case
    summary = inspect(model, shape, training=False)
    expected = sum(p.numel() for p in model.parameters())
    assert summary.total_params == expected
    assert sum(r.params for r in summary.rows) == expected
    assert summary.bias_params == sum(
        m.bias.numel() for m in model.modules() if getattr(m, "bias", None) is not None
    )


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(small_models())
def test_conv_and_linear_macs_are_half_of_flop_counter_mode(case):
    model, shape = case
    summary = inspect(model, shape, training=False)
    with FlopCounterMode(display=False) as reference:
        model.eval()(torch.randn(1, *shape))
    macs = sum(r.macs for r in summary.rows if r.kind in ("conv", "linear"))
    assert 2 * macs == reference.get_total_flops()
    assert macs == summary.macs
    for row in summary.rows:
        if row.kind in ("conv", "linear"):
            outputs = 1
            for s in row.output_shape:
                outputs *= s
            assert row.flops_no_bias == 2 * row.macs - outputs
