"""Weight images: each tile is a row of the first Linear layer reshaped to the input, or a
kernel of the first convolution, on a colour scale symmetric about zero."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nnstudy.errors import ConfigError
from nnstudy.report.plots.weights import input_weight_tiles, plot_weight_tiles


def _tiles(fig) -> dict[int, object]:
    return {int(im.get_gid().split("|")[1]): im for ax in fig.axes for im in ax.images
            if (im.get_gid() or "").startswith("tile|")}


def test_softmax_regression_tiles_are_the_rows_of_its_weight():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    weight = model.state_dict()["1.weight"].numpy()
    names = [f"digit {k}" for k in range(10)]
    fig = plot_weight_tiles(model, (1, 8, 8), unit_names=names)
    tiles = _tiles(fig)
    assert sorted(tiles) == list(range(10))
    m = np.abs(weight).max()
    for k, image in tiles.items():
        np.testing.assert_allclose(image.get_array(), weight[k].reshape(8, 8), rtol=1e-6)
        assert image.get_clim() == pytest.approx((-m, m))
        assert image.get_cmap().name == "RdBu_r"
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == names


def test_an_mlp_shows_the_chosen_hidden_units_each_on_its_own_scale():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 100), nn.ReLU(), nn.Linear(100, 10))
    weight = model.state_dict()["1.weight"].numpy()
    fig = plot_weight_tiles(model, (1, 28, 28), units=[5, 0, 99], shared_scale=False)
    tiles = _tiles(fig)
    assert sorted(tiles) == [0, 5, 99]
    for k, image in tiles.items():
        np.testing.assert_allclose(image.get_array(), weight[k].reshape(28, 28), rtol=1e-6)
        m = np.abs(weight[k]).max()
        assert image.get_clim() == pytest.approx((-m, m))


def test_a_cnn_shows_its_first_convolutions_kernels():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.Conv2d(6, 16, 5))
    name, tiles = input_weight_tiles(model, (1, 32, 32))
    assert name == "0"
    np.testing.assert_allclose(tiles, model.state_dict()["0.weight"].numpy(), rtol=1e-6)
    fig = plot_weight_tiles(model, (1, 32, 32))
    drawn = _tiles(fig)
    assert len(drawn) == 6
    np.testing.assert_allclose(drawn[3].get_array(), tiles[3, 0], rtol=1e-6)
    assert "kernels" in fig.get_suptitle()


def test_colour_kernels_are_drawn_with_grey_at_zero():
    model = nn.Conv2d(3, 4, 3)
    with torch.no_grad():
        model.weight.zero_()
        model.weight[1, 0, 1, 1] = 2.0   # the largest |w|: full red at the centre
        model.weight[1, 2, 0, 0] = -2.0  # full blue at a corner
    fig = plot_weight_tiles(model, (3, 16, 16))
    rgb = _tiles(fig)[1].get_array()
    assert rgb.shape == (3, 3, 3)
    np.testing.assert_allclose(rgb[2, 2], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(rgb[1, 1], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(rgb[0, 0], [0.5, 0.5, 0.0])


def test_a_model_the_tiles_cannot_fit_is_one_clear_error():
    with pytest.raises(ConfigError, match="no Linear or Conv2d layer"):
        plot_weight_tiles(nn.Sequential(nn.ReLU()), (1, 8, 8))
    with pytest.raises(ConfigError, match=r"'fc' takes 100 inputs, but an input of shape 1x8x8 has 64"):
        input_weight_tiles(nn.ModuleDict({"fc": nn.Linear(100, 3)}), (1, 8, 8))
    with pytest.raises(ConfigError, match=r"units \[12\] are not in 0\.\.9"):
        plot_weight_tiles(nn.Linear(64, 10), (1, 8, 8), units=[1, 12])
