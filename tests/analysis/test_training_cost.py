"""A training step, forward and backward, counted at the operator level."""

from __future__ import annotations

import torch
from torch import nn

from nnstudy.analysis import inspect, measure_training_cost


def test_first_layer_computes_no_input_gradient():
    # Linear(4, 3) on one sample: forward 12 mults + 9 adds + 3 bias adds; backward only
    # grad W = g^T x (12 mults, no adds), grad b = g (a sum over one sample: 0 adds).
    cost = measure_training_cost(nn.Linear(4, 3), (4,))
    assert cost.forward.flops == 24
    assert cost.backward.flops == 12 and cost.backward.macs == 12
    assert cost.flops == 36


def test_a_second_layer_adds_its_input_gradient_and_the_activation_gradient():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    cost = measure_training_cost(model, (4,))
    forward = (12 + 9 + 3) + 3 + (6 + 4 + 2)
    grad_weights = 12 + 6
    grad_input_of_second = 3 * 2 + 3 * 1  # g (1x2) @ W (2x3): 6 mults, 3 adds
    relu_backward = 3
    assert cost.forward.flops == forward
    assert cost.backward.flops == grad_weights + grad_input_of_second + relu_backward
    assert cost.flops != 3 * forward


def test_silu_costs_4_forward_and_8_backward_per_element():
    # x s(x) with s = 1/(1 + e^-x): 1 exp, 1 add, 1 division, 1 mult; its gradient
    # g s (1 + x (1 - s)): s again (3), 1 - s, x (.), 1 + (.), s (.), g (.): 8.
    model = nn.Sequential(nn.Linear(4, 3), nn.SiLU(), nn.Linear(3, 2))
    assert inspect(model, (4,), training=False).rows[1].flops == 4 * 3
    cost = measure_training_cost(model, (4,))
    assert cost.backward_by_op["silu_backward"].flops == 8 * 3


def test_training_without_bias_skips_bias_additions_and_bias_gradients():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    cost = measure_training_cost(model, (1, 4, 4))
    assert cost.forward.flops - cost.forward.flops_no_bias == 2 * 4 + 3
    conv_bias_gradient = 2 * (4 - 1)  # sum of 4 output gradients per channel
    assert cost.backward.flops - cost.backward_no_bias.flops == conv_bias_gradient
    assert cost.flops_no_bias == cost.flops - 11 - conv_bias_gradient


def test_batch_norm_models_are_measured_on_two_samples_and_reported_per_sample():
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    cost = measure_training_cost(model, (5,))
    assert cost.batch_size == 2
    assert cost.flops == (cost.forward.flops + cost.backward.flops) / 2


def test_dropout_in_training_mode_is_counted_in_the_forward():
    cost = measure_training_cost(nn.Sequential(nn.Linear(3, 10), nn.Dropout(0.5)), (3,))
    linear = 30 + 20 + 10
    assert cost.forward.flops == linear + 3 * 10  # mask draw, scale, multiply
    assert cost.uncounted == {}


def test_summary_reports_training_per_sample_with_the_backward_by_operator():
    summary = inspect(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)), (1, 4, 4))
    training = summary.training
    assert training.flops > summary.flops
    assert set(training.backward_by_op) == {"mm", "sum", "convolution_backward"}
    assert "Training per sample" in summary.to_markdown()
    assert summary.to_dict()["training"]["flops"] == training.flops


def test_max_pool_gradient_costs_one_add_per_window_whatever_the_weights():
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.MaxPool2d(2, stride=1))
    costs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model[0].reset_parameters()
        costs.append(measure_training_cost(model, (1, 3, 3)).backward_by_op)
    assert costs[0]["max_pool2d_with_indices_backward"].adds == 2 * 2
    assert costs[0] == costs[1]


def test_a_model_without_meta_kernels_is_measured_on_copies_and_left_unchanged():
    class Cumulative(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x) * torch.arange(3.0)  # a CPU tensor: the meta run fails

    model = Cumulative()
    before = model.fc.weight.detach().clone()
    cost = measure_training_cost(model, (3,))
    assert cost.forward.flops == 9 + 6 + 3 + 3
    assert torch.equal(model.fc.weight, before) and model.fc.weight.grad is None


def test_meta_stand_ins_and_copies_count_the_same_step():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(64, 10), nn.LogSoftmax(dim=1),
    )  # fmt: skip
    on_meta = measure_training_cost(model, (1, 8, 8), meta=True)
    on_copies = measure_training_cost(model, (1, 8, 8), meta=False)
    assert on_meta == on_copies
    assert on_meta.uncounted == {}
