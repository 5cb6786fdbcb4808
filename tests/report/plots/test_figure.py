"""save_figure and figure_bytes: PNG and SVG chosen by suffix, written atomically, no pyplot."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnstudy.errors import ConfigError
from nnstudy.report.plots import plot_confusion_matrix, plot_loss_surface
from nnstudy.report.plots.figure import new_figure, save_figure


def _figure():
    fig = new_figure(4, 3)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [3, 1, 2], label="line")
    ax.set_title("a title")
    return fig


def test_save_figure_writes_a_png_that_pil_opens(tmp_path: Path):
    path = save_figure(_figure(), tmp_path / "sub" / "fig.png", dpi=100)
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (400, 300)


def test_save_figure_writes_an_svg_document(tmp_path: Path):
    path = save_figure(_figure(), tmp_path / "fig.svg")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert "a title" in path.read_text() or root.find(".//{*}path") is not None


def test_save_figure_replaces_the_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    save_figure(_figure(), target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_save_figure_refuses_an_unknown_suffix(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"fig\.jpg.*'\.jpg'.*\.png, \.svg"):
        save_figure(_figure(), tmp_path / "fig.jpg")
    assert not list(tmp_path.iterdir())


def test_figures_are_not_managed_by_pyplot():
    """A Figure made through pyplot has a figure manager (a window, a global registry);
    ours have none, so they work in threads and with no display, whatever the backend."""
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    figures = [plot_confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0])),
               plot_loss_surface([0, 1], [0, 1], np.array([[1.0, 2.0], [3.0, 4.0]]))]
    assert all(fig.canvas.manager is None for fig in figures)
    assert plt.get_fignums() == before


def test_a_figure_shows_itself_in_a_notebook_as_png_without_pyplot():
    png = _figure()._repr_png_()  # what IPython's display asks for
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    fig = plot_confusion_matrix([0, 1, 1], [0, 1, 0])
    assert fig._repr_png_().startswith(b"\x89PNG")
