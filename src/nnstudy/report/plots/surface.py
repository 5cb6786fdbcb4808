"""The loss over two weights as a contour map, with gradient-descent paths drawn over it
(report 001, Figures 6 and 7): where each path starts (a circle), where it ends (a square),
and every step between. The grid comes from `nnstudy.training.loss_surface.loss_grid`, the
paths from `descent_path`; this module only draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from nnstudy.errors import ConfigError
from nnstudy.report.plots.figure import WRONG, add_caption, category_colour, new_figure

PathsLike = Mapping[str, ArrayLike] | Sequence[tuple[str, ArrayLike]]


def contour_levels(z: np.ndarray, count: int = 20) -> np.ndarray:
    """`count` levels at evenly spaced quantiles of the finite losses, from the lowest to
    the highest: each band between two lines covers about the same share of the grid, so a
    flat valley floor gets as many lines as its steep walls (evenly spaced values would give
    the floor one or two)."""
    finite = z[np.isfinite(z)]
    if not finite.size:
        raise ConfigError("loss surface: no finite loss on the grid")
    levels = np.unique(np.quantile(finite, np.linspace(0, 1, count)))
    if len(levels) < 2:
        return np.array([levels[0], levels[0] + max(abs(levels[0]) * 1e-9, 1e-12)])
    return levels


def plot_loss_surface(
    xs: ArrayLike,
    ys: ArrayLike,
    z: ArrayLike,
    paths: PathsLike = (),
    *,
    xlabel: str = "weight 1",
    ylabel: str = "weight 2",
    levels: int = 20,
    mark: Sequence[float] | None = None,
    title: str | None = None,
) -> Figure:
    """Filled contours of the loss z[i, j] at (xs[j], ys[i]) with each path over them.

    Args:
        xs, ys: the grid's values of the first and the second weight ([nx], [ny]).
        z: the loss, shape [ny, nx] (as `loss_grid` returns it).
        paths: label -> points [n, 2] (a dict, or a list of (label, points) pairs), e.g.
            {'momentum 0': p0, 'momentum 0.8': p1}; each point is (weight 1, weight 2).
        xlabel, ylabel: the weights' names (`fc1.weight[3,7]`).
        mark: one point to mark with a cross, e.g. the trained values of the two weights.

    The axes keep the grid's extent; a path that leaves it (a learning rate too large)
    runs off the edge, and its end marker is drawn at the edge in red.
    """
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    surface = np.asarray(z, dtype=float)
    if surface.shape != (len(y), len(x)):
        raise ConfigError(f"loss surface: z has shape {list(surface.shape)}, expected "
                          f"[len(ys), len(xs)] = [{len(y)}, {len(x)}]")
    items = list(paths.items()) if isinstance(paths, Mapping) else list(paths)
    fig = new_figure(7.2, 6.0)
    ax = fig.subplots()
    steps = contour_levels(surface, levels)
    # Colours by rank of the level, matching the quantile spacing of the lines.
    norm = BoundaryNorm(steps, ncolors=256)
    filled = ax.contourf(x, y, surface, levels=steps, cmap="Greys", norm=norm, alpha=0.6)
    filled.set_gid("filled")
    lines = ax.contour(x, y, surface, levels=steps, colors="0.3", linewidths=0.6)
    lines.set_gid("contour")
    bar = fig.colorbar(filled, ax=ax, shrink=0.85, format="%.3g")
    bar.set_label("training loss (lines at quantiles of the grid's losses)")
    box = (x.min(), x.max(), y.min(), y.max())
    for k, (label, points) in enumerate(items):
        p = np.asarray(points, dtype=float).reshape(-1, 2)
        if not len(p):
            continue
        colour = category_colour(k if k < 3 else k + 1)  # red (3) is kept for leaving the grid
        ax.plot(p[:, 0], p[:, 1], "-", color=colour, lw=1.6, marker=".", ms=4,
                label=f"{label} ({len(p) - 1} steps)", gid=f"path|{label}", zorder=3)
        ax.plot(*p[0], "o", ms=10, mfc="white", mec=colour, mew=2, zorder=4,
                gid=f"start|{label}")
        end = p[-1]
        outside = not (box[0] <= end[0] <= box[1] and box[2] <= end[1] <= box[3])
        shown = np.clip(end, [box[0], box[2]], [box[1], box[3]])
        ax.plot(*shown, "s", ms=9, color=WRONG if outside else colour, mec="black", mew=1,
                zorder=5, clip_on=False, gid=f"end|{label}")
    if mark is not None:
        ax.plot(*mark, "+", ms=16, mew=2.5, color="black", zorder=6, gid="mark",
                label="trained values")
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], ls="", marker="o", ms=9, mfc="white", mec="black", mew=2),
                Line2D([], [], ls="", marker="s", ms=8, color="0.5", mec="black")]
    labels += ["start", "end"]
    ax.legend(handles, labels, fontsize=9, loc="best", framealpha=0.9)
    fig.suptitle(title or "Training loss over two weights, gradient-descent paths", fontsize=12)
    add_caption(fig, "contours: the loss with every other weight held; a path ending in red "
                     "left the grid")
    return fig
