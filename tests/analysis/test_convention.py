"""The textbook counting convention, on the examples the course reports work by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnstudy.analysis import inspect
from nnstudy.models.layers import LinearActivation


def _seed_report_net() -> nn.Sequential:
    # Reports 000/004: input 50x12x12, conv 20@4x4 stride 2 pad 1, then max pool 3x3 stride 1.
    return nn.Sequential(nn.Conv2d(50, 20, 4, stride=2, padding=1), nn.MaxPool2d(3, stride=1))


def test_conv_example_counts_1151280_flops_without_bias_and_1152000_with():
    conv = inspect(_seed_report_net(), (50, 12, 12), training=False).rows[0]
    assert conv.output_shape == (20, 6, 6)
    assert conv.flops_no_bias == 1_151_280  # 20*36 outputs * (800 mults + 799 adds)
    assert conv.flops == 1_152_000  # + 720 bias additions
    assert conv.macs == 20 * 36 * 800


def test_max_pool_3x3_stride_1_after_the_conv_costs_2560_comparisons():
    pool = inspect(_seed_report_net(), (50, 12, 12), training=False).rows[1]
    assert pool.output_shape == (20, 4, 4)
    assert pool.cost.comparisons == 2_560  # (3*3 - 1) * 4*4 * 20
    assert pool.flops == pool.flops_no_bias == 2_560


def test_conv_and_pool_totals_are_1153840_without_bias_and_1154560_with():
    summary = inspect(_seed_report_net(), (50, 12, 12), training=False)
    assert summary.flops_no_bias == 1_153_840
    assert summary.flops == 1_154_560


def _hand_lenet5() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
    )  # fmt: skip


def test_lenet5_layers_have_156_0_2416_0_48120_10164_850_parameters():
    summary = inspect(_hand_lenet5(), (1, 32, 32), training=False)
    layers = [r.params for r in summary.rows if r.kind in ("conv", "pool", "linear")]
    assert layers == [156, 0, 2_416, 0, 48_120, 10_164, 850]
    assert summary.total_params == summary.trainable_params == 61_706
    assert all(r.params == 0 for r in summary.rows if r.kind in ("activation", "reshape"))


def test_linear_counts_in_features_mults_and_one_fewer_adds_per_output_plus_bias():
    row = inspect(nn.Linear(120, 84), (120,), training=False).rows[0]
    assert (row.macs, row.cost.mults, row.cost.adds, row.cost.bias) == (
        84 * 120, 84 * 120, 84 * 119, 84
    )  # fmt: skip


def test_grouped_conv_counts_in_channels_per_group():
    row = inspect(nn.Conv2d(8, 4, 3, groups=2, bias=False), (8, 5, 5), training=False).rows[0]
    assert row.macs == 4 * 3 * 3 * (8 // 2 * 3 * 3)
    assert row.flops == row.flops_no_bias == 4 * 9 * (2 * 36 - 1)


def test_avg_pool_costs_k2_minus_1_adds_and_one_division_per_output():
    row = inspect(nn.AvgPool2d(2), (3, 8, 8), training=False).rows[0]
    assert (row.cost.adds, row.cost.divs) == (3 * 16 * 3, 3 * 16)


def test_adaptive_avg_pool_sums_each_window_exactly():
    # 5 -> 3 windows: [0,2) [1,4) [3,5): sizes 2, 3, 2 per dimension, 9 outputs per plane.
    row = inspect(nn.AdaptiveAvgPool2d(3), (2, 5, 5), training=False).rows[0]
    assert row.cost.adds == 2 * (7 * 7 - 9)
    assert row.cost.divs == 2 * 9


@pytest.mark.parametrize(
    ("layer", "per_element"),
    [
        (nn.ReLU(), 1),
        (nn.LeakyReLU(0.1), 2),
        (nn.Sigmoid(), 3),
        (nn.Tanh(), 1),
        (nn.ELU(), 4),
        (nn.GELU(), 5),
        (nn.SiLU(), 4),
        (nn.Identity(), 0),
        (LinearActivation(2.0, 1.0), 2),
    ],
)
def test_activations_cost_a_fixed_number_of_flops_per_element(layer, per_element):
    row = inspect(nn.Sequential(layer), (3, 4), training=False).rows[0]
    assert row.kind == "activation"
    assert row.flops == per_element * 12


def test_softmax_costs_3k_minus_1_per_row_and_log_softmax_3k():
    assert inspect(nn.Softmax(dim=-1), (4, 10), training=False).flops == 4 * 29
    assert inspect(nn.LogSoftmax(dim=-1), (4, 10), training=False).flops == 4 * 30


def test_batchnorm_in_eval_costs_4_per_element_and_3_per_channel_with_beta_as_bias():
    row = inspect(nn.BatchNorm2d(3), (3, 4, 4), training=False).rows[0]
    assert row.flops == 4 * 48 + 3 * 3
    assert row.flops - row.flops_no_bias == 48
    assert row.bias_params == 3


def test_dropout_in_eval_mode_costs_nothing():
    row = inspect(nn.Dropout(0.5), (10,), training=False).rows[0]
    assert row.flops == 0 and row.uncounted == ()


def test_activation_bytes_are_the_float32_output_size_per_sample():
    row = inspect(nn.Conv2d(1, 6, 5), (1, 32, 32), training=False).rows[0]
    assert row.activation_bytes == 4 * 6 * 28 * 28


def test_each_call_of_a_shared_module_is_its_own_row():
    class Tutorial(nn.Module):  # the PyTorch CIFAR tutorial calls self.pool twice
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.pool(self.conv2(self.pool(self.conv1(x))))

    rows = inspect(Tutorial(), (3, 32, 32), training=False).rows
    assert [r.name for r in rows] == ["conv1", "pool", "conv2", "pool#2"]
    assert rows[1].output_shape == (6, 14, 14) and rows[3].output_shape == (16, 5, 5)


def test_transposed_conv_counts_the_products_that_land_in_the_output():
    # 4 inputs per dimension, kernel 3, stride 2, padding 1: output 7; the pairs
    # (input i, offset k) landing on 0 <= 2i - 1 + k < 7 number 2 + 3 + 3 + 2 = 10.
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, bias=False)
    row = inspect(layer, (2, 4, 4), training=False).rows[0]
    assert row.output_shape == (3, 7, 7)
    assert row.macs == 2 * 3 * 10 * 10
    assert row.cost.adds == row.macs - 3 * 7 * 7  # every output receives a product


def test_attention_layers_are_counted_operator_by_operator():
    summary = inspect(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), (5, 16))
    assert summary.uncounted == {} and summary.training.uncounted == {}
    attention = next(r for r in summary.rows if "attention" in r.type)
    # two heads of 5x8: Q K^T and A V, 5*5*8 MACs each
    assert attention.macs == 2 * 2 * 5 * 5 * 8
