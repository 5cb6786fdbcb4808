"""Layer behaviour beyond one forward and backward: running statistics, masks, windows."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nnstudy.models.to_reference import from_torch
from nnstudy.reference.activations import ReLU
from nnstudy.reference.dropout import Dropout
from nnstudy.reference.pool import adaptive_bins
from nnstudy.reference.windows import col2im, im2col, window_out


def test_batchnorm_running_statistics_move_as_torchs():
    torch.manual_seed(0)
    for momentum in (0.1, None):
        bn = nn.BatchNorm2d(3, momentum=momentum).double().train()
        net = from_torch(nn.Sequential(bn))
        for _ in range(3):
            x = torch.randn(4, 3, 2, 2, dtype=torch.float64) * 3 + 1
            bn(x)
            net.forward(x.numpy())
        layer = net.layer("0")
        assert np.allclose(layer.buffers["running_mean"], bn.running_mean.numpy(), atol=1e-14)
        assert np.allclose(layer.buffers["running_var"], bn.running_var.numpy(), atol=1e-14)
        assert layer.buffers["num_batches_tracked"] == int(bn.num_batches_tracked)
        assert set(net.buffers()) == {"0.running_mean", "0.running_var",
                                      "0.num_batches_tracked"}


def test_dropout_replays_a_given_mask_and_is_the_identity_in_eval():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    layer = Dropout(0.5)
    layer.training = True
    layer.mask = np.array([[True, False, True], [False, True, True]])
    y = layer.forward(x)
    assert np.array_equal(y, x * layer.mask * 2.0)
    assert np.array_equal(layer.backward(np.ones_like(x)), layer.mask * 2.0)
    layer.training = False
    assert np.array_equal(layer.forward(x), x)


def test_dropout_without_a_mask_keeps_about_one_minus_p():
    layer = Dropout(0.3, rng=np.random.default_rng(0))
    layer.training = True
    kept = (layer.forward(np.ones((200, 50))) != 0).mean()
    assert abs(kept - 0.7) < 0.02


def test_relu_passes_the_gradient_only_where_its_input_was_positive():
    layer = ReLU()
    layer.forward(np.array([-1.0, 0.0, 2.0]))
    assert np.array_equal(layer.backward(np.array([5.0, 5.0, 5.0])), [0.0, 0.0, 5.0])


def test_col2im_is_the_transpose_of_im2col():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 6))
    out = (window_out(7, 3, 2, 0, 2)[0], window_out(6, 3, 2, 0, 2)[0])
    cols = im2col(x, (3, 3), (2, 2), (2, 2), out)
    c = rng.normal(size=cols.shape)
    # <im2col(x), c> == <x, col2im(c)> for any x and c
    assert np.isclose((cols * c).sum(), (x * col2im(c, x.shape, (2, 2), (2, 2))).sum())


def test_ceil_mode_adds_a_last_partial_window_only_if_it_starts_inside():
    assert window_out(5, 2, 2, 0, ceil_mode=False) == (2, 0)
    assert window_out(5, 2, 2, 0, ceil_mode=True) == (3, 1)
    assert window_out(4, 2, 2, 1, ceil_mode=True) == (3, 1)


def test_adaptive_bins_cover_the_input_and_overlap_when_upsampling():
    assert adaptive_bins(7, 3) == [(0, 3), (2, 5), (4, 7)]
    assert adaptive_bins(1, 6) == [(0, 1)] * 6
    assert adaptive_bins(6, 6) == [(i, i + 1) for i in range(6)]
