"""`nnstudy data show` and `nnstudy data download`, end to end, and the sample grid."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnstudy.cli import main
from nnstudy.data import load_data
from nnstudy.data.grid import save_sample_grid
from nnstudy.errors import ConfigError

MNIST_10K = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist-10k"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out, err = capsys.readouterr()
    return exit_.value.code or 0, out, err


def test_data_show_digits_prints_the_splits_and_writes_a_grid(tmp_path, capsys):
    grid = tmp_path / "digits.png"
    code, out, _ = run(["data", "show", "digits", "--out", str(grid)], capsys)
    assert code == 0
    assert "training images: 1,438 = 1,294 train + 144 valid; test images: 359" in out
    assert "input shape: (1, 8, 8)" in out and "classes: 10" in out
    assert "20% of all 1,797, stratified, seed 0" in out
    with Image.open(grid) as img:
        assert img.format == "PNG" and img.size[0] > 200


@pytest.mark.skipif(not MNIST_10K.is_dir(), reason="../shared/data/mnist-10k is not here")
def test_data_show_mnist_10k_prints_8000_training_and_999_test_images_per_class(tmp_path, capsys):
    grid = tmp_path / "grid.png"
    code, out, _ = run(
        ["data", "show", "mnist", "--root", str(MNIST_10K), "--out", str(grid)], capsys
    )
    assert code == 0
    assert "training images: 8,000 = 7,200 train + 800 valid; test images: 999" in out
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    readme = {"0": (801, 100), "1": (902, 113), "5": (690, 86), "9": (782, 98)}
    for digit, (train, test) in readme.items():
        cells = [c.strip() for c in rows[digit].strip("│").split("│")]
        assert cells[3] == str(train) and cells[4] == str(test)
    assert grid.is_file()


def test_data_show_applies_set_overrides(mnist_dir, tmp_path, capsys):
    root = mnist_dir()
    code, out, _ = run(
        [
            "data",
            "show",
            "mnist",
            "--root",
            str(root),
            "--out",
            str(tmp_path / "g.png"),
            "--set",
            "data.valid_fraction=0.5",
            "--set",
            "transforms=[{resize: 14}, normalize, flatten]",
        ],
        capsys,
    )
    assert code == 0
    assert "100 train + 100 valid" in out and "input shape: (196,)" in out
    assert "normalize {mean: [" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["data", "show", "mnist", "--root", "/nonexistent/mnist"],
            "error: data.root: /nonexistent/mnist: no such directory",
        ),
        (
            ["data", "show", "digits", "--set", "transforms=[grayscale, blurr]"],
            "error: data.transforms[1]: unknown transform 'blurr'; one of grayscale, resize",
        ),
        (
            ["data", "show", "digits", "--set", "transforms=[{gaussian_blur: 4}]"],
            "error: data.transforms[0].gaussian_blur.kernel: must be odd, got 4",
        ),
        (["data", "show", "mnst"], "error: data.name: 'mnst' is not one of digits"),
        (["data", "download", "folder"], "error: data.name: 'folder' has nothing to download"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(argv, capsys)
    assert code == 2
    # The error boundary's console wraps at the terminal width (80 when captured).
    assert err.replace("\n", "").startswith(message), err
    assert list(tmp_path.glob("*.png")) == []


def test_bad_idx_file_exits_2_naming_the_file(mnist_dir, capsys, tmp_path):
    root = mnist_dir()
    (root / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    code, _, err = run(
        ["data", "show", "mnist", "--root", str(root), "--out", str(tmp_path / "g.png")], capsys
    )
    assert code == 2
    assert "train-images-idx3-ubyte.gz: truncated or corrupt gzip data" in err.replace("\n", "")
    assert not (tmp_path / "g.png").exists()


def test_data_download_digits_needs_nothing(capsys):
    code, out, _ = run(["data", "download", "digits"], capsys)
    assert code == 0 and "nothing to download" in out


def test_grid_refuses_an_unknown_format_and_leaves_no_file(tmp_path):
    bundle = load_data("digits")
    with pytest.raises(ConfigError, match=r"--out .*grid\.xyz: unknown image format '\.xyz'"):
        save_sample_grid(bundle, tmp_path / "grid.xyz")
    path = save_sample_grid(bundle, tmp_path / "sub" / "grid.png", per_class=3, seed=1)
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the 0600 of a temporary file
    with Image.open(path) as img:
        assert img.format == "PNG"


def test_data_show_npz_vectors_prints_the_data_and_says_why_there_is_no_grid(tmp_path, capsys):
    path = tmp_path / "vectors.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(50, 5)), y=np.arange(50) % 2)
    code, out, err = run(
        ["data", "show", "npz", "--set", f"path={path}", "--out", str(tmp_path / "g.png")], capsys
    )
    assert code == 0, err
    assert "input shape: (5,)" in out and "training images: 40 = 36 train + 4 valid" in out
    assert "grid: none (the samples are vectors of 5 values, not images)" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.npz"]


@pytest.mark.parametrize(
    ("out", "extra", "message"),
    [
        ("afile/g.png", [], "error: --out afile/g.png: cannot write (afile is a file)"),
        ("adir", [], "error: --out adir: is a directory"),
        ("/proc/nnstudy-grid.png", [], "error: --out /proc/nnstudy-grid.png: cannot write"),
        ("g.png", ["--per-class", "100000"], "error: --per-class: 100000 images per class"),
        ("g.png", ["--per-class", "0"], "error: --per-class: 0 images per class; a grid shows 1"),
    ],
)
def test_bad_grid_output_exits_2_with_one_line_and_writes_nothing(
    out, extra, message, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "adir").mkdir()
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    code, _, err = run(["data", "show", "digits", "--out", out, *extra], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(message), err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
