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
