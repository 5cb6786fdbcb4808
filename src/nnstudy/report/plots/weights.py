"""Weights as images: what the first layer of a network looks for in its input.

Row j of the first Linear layer's weight, W[j] (in_features = C*H*W), is reshaped to the
input's shape C x H x W and drawn as an image: a pixel's colour is the weight from that
input pixel into unit j (reports 001, Figures 3, 5 and 9: the weights into each output of a
softmax regression look like the digits). For a CNN, the first Conv2d's kernels
W[j] (C x kH x kW) are drawn the same way.

The colour map diverges and is centred on zero (symmetric limits -m..m, with m the largest
|w| drawn): red pulls the unit up, blue pushes it down, white does nothing. With one scale
for all tiles (the default) their strengths compare; with one per tile each shows its own
pattern. Three channels are drawn as colour: w / (2m) + 0.5, so grey is zero.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from nnstudy.errors import ConfigError
from nnstudy.report.plots.figure import new_figure


def first_weight_layer(model: nn.Module) -> tuple[str, nn.Linear | nn.Conv2d]:
    """The first nn.Linear or nn.Conv2d in the model's module order, with its name."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear | nn.Conv2d):
            return name, module
    kinds = sorted({type(m).__name__ for m in model.modules()})
    raise ConfigError(f"weight images: the model has no Linear or Conv2d layer (it has "
                      f"{', '.join(kinds)})")


def input_weight_tiles(model: nn.Module, input_shape: Sequence[int]
                       ) -> tuple[str, np.ndarray]:
    """(layer name, tiles [units, C, h, w]): the first layer's weights into each of its units
    in the input's layout: a Linear's W[j].reshape(C, H, W), a Conv2d's kernels W[j].

    Raises ConfigError when a Linear layer's inputs are not the C*H*W pixels of the input
    (a model whose first weighted layer comes after something that changes the shape)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise ConfigError(f"weight images: input shape {shape} is not C x H x W")
    name, layer = first_weight_layer(model)
    weight = layer.weight.detach().to("cpu", torch.float64)
    if isinstance(layer, nn.Linear):
        pixels = math.prod(shape)
        if layer.in_features != pixels:
            raise ConfigError(
                f"weight images: first layer {name!r} takes {layer.in_features} inputs, but an "
                f"input of shape {'x'.join(map(str, shape))} has {pixels} pixels")
        return name, weight.reshape(layer.out_features, *shape).numpy()
    if layer.in_channels != shape[0] or layer.groups != 1:
        raise ConfigError(f"weight images: first convolution {name!r} takes "
                          f"{layer.in_channels} channels (groups {layer.groups}), the input has "
                          f"{shape[0]}")
    return name, weight.numpy()


def plot_weight_tiles(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    units: Sequence[int] | None = None,
    unit_names: Sequence[str] | None = None,
    max_tiles: int = 32,
    columns: int = 8,
    shared_scale: bool = True,
    title: str | None = None,
) -> Figure:
    """One tile per unit of the first Linear or Conv2d layer, in the input's shape.

    Args:
        model: any nn.Module; its first nn.Linear or nn.Conv2d (module order) is drawn.
        input_shape: C x H x W of one sample (1x8x8 digits, 1x28x28 MNIST, 3x32x32 CIFAR).
        units: which units to draw (default the first `max_tiles`).
        unit_names: a title per drawn unit (class names when the first layer is the output
            layer, as in softmax regression); default `unit j`.
        columns: most tiles per row (rows are then filled evenly).
        shared_scale: one colour scale for all tiles (default) or one per tile.

    Channels other than 1 or 3 are averaged into one image (the title says so).
    """
    name, tiles = input_weight_tiles(model, input_shape)
    chosen = list(range(min(len(tiles), max_tiles))) if units is None else list(units)
    bad = [u for u in chosen if not 0 <= u < len(tiles)]
    if bad or not chosen:
        raise ConfigError(f"weight images: units {bad or chosen} are not in 0..{len(tiles) - 1} "
                          f"(layer {name!r} has {len(tiles)})")
    if unit_names is not None and len(unit_names) != len(chosen):
        raise ConfigError(f"weight images: {len(unit_names)} unit names for {len(chosen)} "
                          "units")
    drawn = tiles[chosen]
    channels = drawn.shape[1]
    averaged = channels not in (1, 3)
    if averaged:
        drawn = drawn.mean(axis=1, keepdims=True)
    # As few rows as `columns` allows, then as few columns as fill them: 10
    # tiles make 2 rows of 5, not a row of 8 and a row of 2.
    nrows = math.ceil(len(chosen) / columns)
    ncols = math.ceil(len(chosen) / nrows)
    h, w = drawn.shape[2:]
    tile_in = 1.25 if max(h, w) <= 16 else 1.5
    fig = new_figure(ncols * tile_in + 1.2, nrows * (tile_in + 0.25) + 0.9, layout=None)
    bar = shared_scale and drawn.shape[1] != 3  # a colour bar beside the tiles
    axes = _tile_axes(fig, nrows, ncols, tile_in, len(chosen), bar)
    m_all = float(np.abs(drawn).max()) or 1.0
    image = None
    for k, ax in enumerate(axes):
        tile = drawn[k]
        m = m_all if shared_scale else (float(np.abs(tile).max()) or 1.0)
        if tile.shape[0] == 3:
            rgb = np.clip(tile.transpose(1, 2, 0) / (2 * m) + 0.5, 0, 1)
            im = ax.imshow(rgb, interpolation="nearest")
        else:
            im = ax.imshow(tile[0], cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
            image = im
        im.set_gid(f"tile|{chosen[k]}")
        label = unit_names[k] if unit_names is not None else f"unit {chosen[k]}"
        ax.set_title(label, fontsize=9)
    if image is not None and bar:
        width, height = fig.get_size_inches()
        grid_h = nrows * (tile_in + 0.25)
        cax = fig.add_axes(((0.3 + ncols * tile_in) / width,
                            (0.45 + 0.1 * grid_h) / height, 0.15 / width, 0.8 * grid_h / height))
        bar = fig.colorbar(image, cax=cax)
        bar.set_label("weight")
    is_conv = isinstance(first_weight_layer(model)[1], nn.Conv2d)
    kind = "kernels" if is_conv else "weights into units"
    how = " (channels averaged)" if averaged else ""
    scale = "one colour scale for all" if shared_scale else "each tile its own colour scale"
    text = title or (f"First layer {name!r}: {kind}{how}; red +, blue -, white 0 "
                     f"({scale})")
    # wrapped to the figure's width (11-point characters, about 12 an inch)
    fig.suptitle(textwrap.fill(text, int(fig.get_figwidth() * 12)), fontsize=11)
    return fig


def _tile_axes(fig: Figure, nrows: int, ncols: int, tile_in: float, n: int,
               bar: bool) -> list:
    """`n` square axes (off) in rows of `ncols`, placed by hand in inches rather than by a
    layout engine: a band of 0.45 in for the figure's title on top, then rows of
    `tile_in` + 0.25 in (the tile's title above each tile); 0.1 in in from the left and
    the right 1.1 in left for the colour bar when there is one (`bar`), else centred."""
    width, height = fig.get_size_inches()
    side = tile_in - 0.1
    margin = 0.1 if bar else (width - ncols * tile_in) / 2
    axes = []
    for k in range(n):
        row, col = divmod(k, ncols)
        left = margin + col * tile_in + 0.05
        bottom = height - 0.45 - (row + 1) * (tile_in + 0.25)
        ax = fig.add_axes((left / width, bottom / height, side / width, side / height))
        ax.set_axis_off()
        axes.append(ax)
    return axes
