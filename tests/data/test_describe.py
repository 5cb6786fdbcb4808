"""`DataBundle.describe()`: what `nnstudy data show` prints, from the Python API."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nnstudy.cli import main
from nnstudy.data import load_data


def _rows(text: str) -> dict[str, list[str]]:
    return {
        cells[0]: cells[1:]
        for line in text.splitlines()
        if line.startswith("│")
        for cells in [[c.strip() for c in line.strip("│").split("│")]]
    }


def test_describe_lists_sizes_provenance_and_counts_per_class_and_split():
    bundle = load_data({"name": "digits", "valid_fraction": 0.1})
    text = str(bundle.describe())
    lines = text.splitlines()
    assert lines[0] == (
        "digits: scikit-learn (sklearn.datasets.load_digits) "
        f"(loaded in {bundle.load_seconds:.2f} s)"
    )
    assert "training images: 1,438 = 1,294 train + 144 valid; test images: 359" in lines
    assert "  test: 20% of all 1,797, stratified, seed 0" in lines
    rows = _rows(text)
    for c in range(10):
        counts = [int(np.sum(s.y.numpy() == c)) for s in (bundle.train, bundle.valid, bundle.test)]
        assert rows[str(c)] == [
            str(counts[0]),
            str(counts[1]),
            str(sum(counts[:2])),
            str(counts[2]),
        ]
    assert rows["total"] == ["1,294", "144", "1,438", "359"]


def test_data_show_prints_the_description(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["data", "show", "digits", "--out", str(tmp_path / "g.png")])
    out = capsys.readouterr().out
    text = str(load_data("digits").describe())
    loaded = re.compile(r"loaded in [0-9.]+ s")
    assert loaded.sub("", out).startswith(loaded.sub("", text))


def test_class_names_are_shown_literally_not_as_markup_or_emoji(tmp_path, capsys):
    path = tmp_path / "marked.npz"
    names = np.array(["[bold red]x[/]", ":factory:"])
    np.savez(path, x=np.zeros((10, 3)), y=np.arange(10) % 2, classes=names)
    text = str(load_data({"name": "npz", "path": str(path)}).describe())
    with pytest.raises(SystemExit):
        main(["data", "show", "npz", "--set", f"path={path}"])
    out = capsys.readouterr().out
    for shown in (text, out):
        assert "classes: 2 ([bold red]x[/], :factory:)" in shown
        assert "0 [bold red]x[/]" in shown and "1 :factory:" in shown
