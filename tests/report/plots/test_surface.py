"""The loss contour with descent paths: the contours span the grid's losses, each path is
drawn through its points, with its start and end marked."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudy.errors import ConfigError
from nnstudy.report.plots.surface import contour_levels, plot_loss_surface


def _bowl():
    xs = np.linspace(-2, 2, 41)
    ys = np.linspace(-1, 1, 21)
    a, b = np.meshgrid(xs, ys)
    return xs, ys, a**2 + 10 * b**2


def test_paths_start_and_end_are_drawn_at_their_points():
    xs, ys, z = _bowl()
    slow = np.array([[-1.5, 0.8], [-1.2, -0.6], [-1.0, 0.4], [-0.8, -0.2]])
    fast = np.array([[-1.5, 0.8], [-0.5, 0.1], [0.1, 0.0]])
    fig = plot_loss_surface(xs, ys, z, {"momentum 0": slow, "momentum 0.8": fast},
                            xlabel="fc1.weight[3,7]", ylabel="fc2.weight[0,1]", mark=(0, 0))
    ax = fig.axes[0]
    lines = {ln.get_gid(): ln for ax_ in fig.axes for ln in ax_.get_lines() if ln.get_gid()}
    for label, path in (("momentum 0", slow), ("momentum 0.8", fast)):
        np.testing.assert_array_equal(lines[f"path|{label}"].get_xydata(), path)
        np.testing.assert_array_equal(lines[f"start|{label}"].get_xydata(), path[:1])
        np.testing.assert_array_equal(lines[f"end|{label}"].get_xydata(), path[-1:])
    assert lines["mark"].get_xydata().tolist() == [[0, 0]]
    assert ax.get_xlabel() == "fc1.weight[3,7]" and ax.get_ylabel() == "fc2.weight[0,1]"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["momentum 0 (3 steps)", "momentum 0.8 (2 steps)"]


def test_the_contours_span_the_grids_losses():
    xs, ys, z = _bowl()
    fig = plot_loss_surface(xs, ys, z, levels=12)
    contour = next(c for c in fig.axes[0].collections if c.get_gid() == "contour")
    np.testing.assert_allclose(contour.levels, np.quantile(z, np.linspace(0, 1, 12)))
    assert contour.levels[0] == z.min() and contour.levels[-1] == z.max()
    assert fig.axes[0].get_xlim() == (-2, 2) and fig.axes[0].get_ylim() == (-1, 1)


def test_a_path_that_leaves_the_grid_ends_in_red_on_its_edge():
    xs, ys, z = _bowl()
    fig = plot_loss_surface(xs, ys, z, [("lr 10", [[0.5, 0.5], [5.0, -3.0]])])
    end = next(ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "end|lr 10")
    assert end.get_xydata().tolist() == [[2.0, -1.0]]
    assert end.get_color() == "#d62728"


def test_a_grid_of_the_wrong_shape_or_without_values_is_refused():
    xs, ys, z = _bowl()
    with pytest.raises(ConfigError, match=r"z has shape \[41, 21\], expected"):
        plot_loss_surface(xs, ys, z.T)
    with pytest.raises(ConfigError, match="no finite loss"):
        contour_levels(np.full((2, 2), np.nan))
