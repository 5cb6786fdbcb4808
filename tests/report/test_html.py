"""Helpers of the pages (`nnstudy.report.html`)."""

from __future__ import annotations

import gc

import pytest

from nnstudy.report.html import gc_paused


def test_figures_are_drawn_with_the_collector_paused_and_it_comes_back():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()  # a caller that paused it itself keeps it paused
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("a figure failed")
    assert gc.isenabled()


def test_every_report_file_has_the_usual_permissions_not_a_temporary_files(tmp_path):
    """report.md, results.csv, report.html and saved figures are written through private
    temporary files; each ends with 0666 less the umask, as `open` would make it (a TA
    sharing a study directory can read all of them)."""
    import os

    import matplotlib

    matplotlib.use("Agg")
    from nnstudy.report.html import write_page
    from nnstudy.report.plots.figure import new_figure, save_figure
    from nnstudy.report.tables import write_text_atomic

    umask = os.umask(0o022)
    try:
        fig = new_figure(2, 2)
        fig.subplots().plot([0, 1], [1, 0])
        written = [write_text_atomic(tmp_path / "report.md", "# x\n"),
                   write_page(tmp_path / "report.html", "<p>x</p>"),
                   save_figure(fig, tmp_path / "f.png")]
    finally:
        os.umask(umask)
    for path in written:
        assert path.stat().st_mode & 0o777 == 0o644, path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "report.html", "report.md"]
