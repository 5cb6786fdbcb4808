"""npz files: images or vectors, optional splits and class names, and bad arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnstudy.data import load_data
from nnstudy.errors import ConfigError, DataError


def test_npz_images_with_their_own_test_split_and_class_names(tmp_path):
    path = tmp_path / "faces.npz"
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x=rng.integers(0, 256, (40, 1, 6, 6), dtype=np.uint8),
        y=np.arange(40) % 4,
        x_test=rng.integers(0, 256, (8, 1, 6, 6), dtype=np.uint8),
        y_test=np.arange(8) % 4,
        classes=np.array(["ann", "bob", "cat", "dan"]),
    )
    bundle = load_data({"name": "npz", "path": str(path), "valid_fraction": 0.25})
    assert bundle.classes == ["ann", "bob", "cat", "dan"]
    assert (len(bundle.train), len(bundle.valid), len(bundle.test)) == (30, 10, 8)
    assert bundle.train.x.dtype == torch.uint8 and bundle.input_shape == (1, 6, 6)


def test_npz_vectors_are_float32_and_only_normalize_and_flatten_apply(tmp_path):
    path = tmp_path / "vectors.npz"
    x = np.random.default_rng(1).normal(3.0, 2.0, (100, 5))
    np.savez(path, x=x, y=np.arange(100) % 2)
    bundle = load_data({"name": "npz", "path": str(path), "transforms": ["normalize", "flatten"]})
    assert bundle.train.x.dtype == torch.float32 and bundle.input_shape == (5,)
    assert bundle.test.x.shape == (20, 5)  # no test arrays: 20% carved out
    batch = bundle.batch("train", torch.arange(len(bundle.train)))
    assert abs(batch.mean().item()) < 1e-5 and batch.std(unbiased=False).item() == pytest.approx(
        1.0, abs=1e-4
    )
    with pytest.raises(ConfigError, match=r"data\.transforms\[0\]: resize needs images"):
        load_data({"name": "npz", "path": str(path), "transforms": [{"resize": 4}]})
    with pytest.raises(ConfigError, match=r"data\.augment\[0\]: hflip needs images"):
        load_data({"name": "npz", "path": str(path), "augment": ["hflip"]})


def test_npz_three_dimensional_images_get_one_channel(tmp_path):
    path = tmp_path / "hw.npz"
    np.savez(path, x=np.zeros((10, 7, 5), np.float32), y=np.arange(10) % 2)
    assert load_data({"name": "npz", "path": str(path)}).input_shape == (1, 7, 5)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((4, 3))}, r"no array 'y' \(found x\); expected x and y"),
        ({"x": np.zeros((4, 3)), "y": np.zeros(5, int)}, r"5 labels in 'y' for 4 samples in 'x'"),
        ({"x": np.zeros((4, 3)), "y": np.array([0, 1, -1, 0])}, r"label -1 is out of range"),
        ({"x": np.zeros((4, 3)), "y": np.array([0.5, 1, 1, 0])}, r"labels must be integers"),
        ({"x": np.zeros((4,)), "y": np.zeros(4, int)}, r"'x' has shape \[4\]; expected"),
        (
            {"x": np.zeros((4, 3)), "y": np.zeros(4, int), "x_test": np.zeros((2, 3))},
            r"has 'x_test' but no 'y_test'",
        ),
        (
            {
                "x": np.zeros((4, 3)),
                "y": np.zeros(4, int),
                "x_test": np.zeros((2, 4)),
                "y_test": np.zeros(2, int),
            },
            r"'x_test' samples are \[4\], 'x' samples \[3\]",
        ),
    ],
)
def test_bad_npz_arrays_are_named(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=r"bad\.npz.*" + message):
        load_data({"name": "npz", "path": str(path)})


def test_npz_with_pickled_objects_is_refused_and_a_missing_file_named(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3, int))
    with pytest.raises(DataError, match=r"objects\.npz: holds pickled objects"):
        load_data({"name": "npz", "path": str(path)})
    with pytest.raises(DataError, match=r"^data\.path: .*none\.npz: no such file$"):
        load_data({"name": "npz", "path": str(tmp_path / "none.npz")})
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"junk\.npz: not a readable \.npz file"):
        load_data({"name": "npz", "path": str(tmp_path / "junk.npz")})


@pytest.mark.parametrize(
    ("arrays", "key"),
    [
        ({"x": np.zeros((0, 3)), "y": np.zeros(0, int)}, "x"),
        ({"x": np.zeros((0, 1, 4, 4), np.uint8), "y": np.zeros(0, int)}, "x"),
        (
            {
                "x": np.zeros((4, 3)),
                "y": np.arange(4) % 2,
                "x_test": np.zeros((0, 3)),
                "y_test": np.zeros(0, int),
            },
            "x_test",
        ),
    ],
)
def test_npz_without_samples_is_one_data_error_naming_the_array(tmp_path, arrays, key):
    path = tmp_path / "empty.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as err:
        load_data({"name": "npz", "path": str(path)})
    assert str(err.value) == f"{path}: {key!r} holds 0 samples; a split needs at least one"
