"""Image folders: split folders, class folders with fractions, colour, decode cache, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from nnstudy.data import load_data
from nnstudy.errors import ConfigError, DataError


def test_split_folders_give_train_valid_test_with_sorted_classes(image_folder):
    root = image_folder(splits=("train", "valid", "test"), per_class=4, size=(12, 10))
    bundle = load_data({"name": "folder", "root": str(root)})
    assert bundle.classes == ["cat", "dog"]
    assert bundle.counts == {"train": [4, 4], "valid": [4, 4], "test": [4, 4]}
    assert bundle.train.x.dtype == torch.uint8 and bundle.input_shape == (3, 12, 10)
    pixels = np.asarray(Image.open(root / "train" / "dog" / "0.png"))
    assert torch.equal(bundle.train.x[4], torch.tensor(pixels.transpose(2, 0, 1)))
    assert bundle.provenance["valid"] == "validation files"


def test_grayscale_colour_and_the_reports_preprocessing(image_folder):
    root = image_folder()
    spec = {
        "name": "folder",
        "root": str(root),
        "color": "grayscale",
        "transforms": [
            {"gaussian_blur": {"kernel": 3, "sigma": 0.7}},
            {"normalize": {"mean": [0.5], "std": [0.5]}},
        ],
    }
    bundle = load_data(spec)
    gray = np.asarray(Image.open(root / "train" / "cat" / "1.png").convert("L"))
    assert torch.equal(bundle.train.x[1, 0], torch.tensor(gray))
    assert bundle.input_shape == (1, 12, 10)
    x = bundle.batch("train", torch.tensor([1]))
    assert x.min() >= -1.0 and x.max() <= 1.0


def test_folder_of_classes_is_split_by_fractions_with_a_fixed_test_seed(image_folder):
    root = image_folder(splits=(), per_class=10)
    spec = {
        "name": "folder",
        "root": str(root),
        "fractions": {"train": 0.6, "valid": 0.2, "test": 0.2},
    }
    a = load_data({**spec, "split_seed": 0})
    b = load_data({**spec, "split_seed": 1})
    assert a.counts == {"train": [6, 6], "valid": [2, 2], "test": [2, 2]}
    assert torch.equal(a.test.x, b.test.x)  # the test split does not move with split_seed
    assert not torch.equal(a.valid.x, b.valid.x)


def test_fractions_for_a_folder_with_split_folders_is_refused(image_folder):
    root = image_folder()
    with pytest.raises(DataError, match=r"^data\.fractions: .* has a test split of its own"):
        load_data({"name": "folder", "root": str(root), "fractions": {"train": 0.8, "test": 0.2}})
    with pytest.raises(DataError, match=r"^data\.valid_fraction: .* has a validation split"):
        load_data({"name": "folder", "root": str(root), "valid_fraction": 0.3})


def test_second_load_reads_the_decode_cache_and_a_changed_file_invalidates_it(
    image_folder, cache, monkeypatch
):
    root = image_folder()
    first = load_data({"name": "folder", "root": str(root)})
    assert len(list((cache / "folders").glob("*.npz"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(Image, "open", no_decoding)
    second = load_data({"name": "folder", "root": str(root)})
    assert torch.equal(first.train.x, second.train.x)
    monkeypatch.undo()
    monkeypatch.setenv("NNSTUDY_DATA_DIR", str(cache))

    image = root / "train" / "cat" / "0.png"
    Image.fromarray(np.zeros((12, 10, 3), np.uint8)).save(image)
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = load_data({"name": "folder", "root": str(root)})
    assert third.train.x[0].sum() == 0
    assert len(list((cache / "folders").glob("*.npz"))) == 2


def test_empty_class_folder_is_named(image_folder):
    root = image_folder()
    (root / "valid" / "dog" / "0.png").unlink()
    for p in (root / "valid" / "dog").iterdir():
        p.unlink()
    with pytest.raises(DataError, match=r"valid/dog: empty class folder"):
        load_data({"name": "folder", "root": str(root)})


def test_unreadable_image_is_named(image_folder):
    root = image_folder()
    (root / "train" / "cat" / "2.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"train/cat/2\.png: cannot read image"):
        load_data({"name": "folder", "root": str(root)})


def test_class_in_valid_that_train_lacks_is_named(image_folder):
    root = image_folder()
    (root / "valid" / "cow").mkdir()
    with pytest.raises(
        DataError,
        match=r"valid/cow: class 'cow' is not among the training "
        r"classes \(cat, dog\)",
    ):
        load_data({"name": "folder", "root": str(root)})


def test_folder_without_class_folders_and_missing_root_are_named(tmp_path):
    (tmp_path / "bare").mkdir()
    with pytest.raises(DataError, match=r"bare: no class folders"):
        load_data({"name": "folder", "root": str(tmp_path / "bare")})
    with pytest.raises(DataError, match=r"^data\.root: .*absent: no such directory"):
        load_data({"name": "folder", "root": str(tmp_path / "absent")})


def test_images_of_different_sizes_need_a_leading_resize(image_folder):
    root = image_folder()
    Image.fromarray(np.full((20, 16, 3), 200, np.uint8)).save(root / "test" / "dog" / "big.png")
    with pytest.raises(DataError, match=r"big\.png: 16x20 image, but .* is 10x12; .*resize"):
        load_data({"name": "folder", "root": str(root)})
    bundle = load_data(
        {"name": "folder", "root": str(root), "transforms": ["grayscale", {"resize": [8, 8]}]}
    )
    assert bundle.input_shape == (1, 8, 8)
    assert bundle.test.x.dtype == torch.float32  # resized at decode, one image at a time
    big = bundle.batch("test", torch.tensor([len(bundle.test) - 1]))
    gray = 0.2989 * 200 / 255 + 0.587 * 200 / 255 + 0.114 * 200 / 255
    assert torch.allclose(big, torch.full_like(big, gray), atol=1e-5)


def test_image_transform_on_the_wrong_channel_count_is_a_config_error(tmp_path):
    path = tmp_path / "four.npz"
    np.savez(path, x=np.zeros((4, 4, 6, 6), np.uint8), y=np.arange(4) % 2)
    with pytest.raises(
        ConfigError, match=r"data\.transforms\[0\]: grayscale needs 1 or 3 channels"
    ):
        load_data({"name": "npz", "path": str(path), "transforms": ["grayscale"]})
