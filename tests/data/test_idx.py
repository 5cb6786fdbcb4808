"""IDX files and the MNIST-style reader: the format, a local root, and every bad input."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nnstudy.data import load_data
from nnstudy.data.idx import IMAGES_MAGIC, load_idx
from nnstudy.errors import DataError

MNIST_10K = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist-10k"
README_TRAIN = [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]
README_TEST = [100, 113, 99, 103, 98, 86, 101, 107, 94, 98]


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dtype", ["u1", "i4", "f4"])
def test_load_idx_reads_type_shape_and_values(tmp_path, write_idx, gz, dtype):
    array = (np.arange(2 * 3 * 4) * 7 % 251).astype(dtype).reshape(2, 3, 4)
    path = write_idx(tmp_path / "a.idx", array, gz=gz)
    out = load_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable


def test_idx_with_a_wrong_magic_number_is_named(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 20)
    with pytest.raises(
        DataError, match=r"train-images-idx3-ubyte: wrong IDX magic number 0x12340803"
    ):
        load_idx(path)


def test_idx_labels_where_images_are_expected_is_named(tmp_path, write_idx):
    path = write_idx(tmp_path / "labels.gz", np.zeros(5, np.uint8))
    with pytest.raises(
        DataError,
        match=r"labels\.gz: IDX magic number 0x00000801, expected "
        r"0x00000803 \(uint8 images, 3-D\)",
    ):
        load_idx(path, IMAGES_MAGIC)


def test_truncated_idx_says_how_many_bytes_are_missing(tmp_path, write_idx):
    full = write_idx(tmp_path / "full", np.ones((4, 5, 5), np.uint8), gz=False)
    cut = tmp_path / "cut"
    cut.write_bytes(full.read_bytes()[:-10])
    with pytest.raises(
        DataError,
        match=r"cut: truncated: header says 4x5x5 values = 100 bytes, "
        r"found 90",
    ):
        load_idx(cut)
    long = tmp_path / "long"
    long.write_bytes(full.read_bytes() + b"xx")
    with pytest.raises(DataError, match=r"long: 2 bytes after the 4x5x5 values"):
        load_idx(long)


def test_truncated_gzip_is_named(tmp_path, write_idx):
    path = write_idx(tmp_path / "x.gz", np.ones((50, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"x\.gz: truncated or corrupt gzip data"):
        load_idx(path)


def test_mnist_root_loads_splits_classes_and_uint8_images(mnist_dir):
    root = mnist_dir(n_train=200, n_test=50)
    bundle = load_data({"name": "mnist", "root": str(root)}, progress=False)
    assert (len(bundle.train), len(bundle.valid), len(bundle.test)) == (180, 20, 50)
    assert bundle.classes == [str(i) for i in range(10)]
    assert bundle.train.x.dtype == torch.uint8 and bundle.train.x.shape[1:] == (1, 28, 28)
    assert bundle.input_shape == (1, 28, 28)
    assert bundle.counts["valid"] == [2] * 10 and bundle.counts["test"] == [5] * 10


def test_fashion_and_kmnist_read_the_same_files_with_their_class_names(mnist_dir):
    root = mnist_dir(gz=False)
    fashion = load_data({"name": "fashion_mnist", "root": str(root)})
    kmnist = load_data({"name": "kmnist", "root": str(root)})
    # Zalando's README: labels 0..9 are these articles, in this order.
    assert fashion.classes == [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    assert torch.equal(fashion.test.x, kmnist.test.x)
    assert kmnist.classes[:3] == ["o", "ki", "su"]


def test_missing_root_directory_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match=r"^data\.root: .*nowhere: no such directory$"):
        load_data({"name": "mnist", "root": str(tmp_path / "nowhere")})


def test_missing_idx_file_is_named(mnist_dir):
    root = mnist_dir()
    (root / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: no such file"):
        load_data({"name": "mnist", "root": str(root)})


def test_label_count_different_from_image_count_is_named(mnist_dir, write_idx):
    root = mnist_dir(n_train=30)
    write_idx(root / "train-labels-idx1-ubyte.gz", np.zeros(29, np.uint8))
    with pytest.raises(
        DataError,
        match=r"train-labels-idx1-ubyte\.gz: 29 labels for the 30 "
        r"images of train-images-idx3-ubyte\.gz",
    ):
        load_data({"name": "mnist", "root": str(root)})


def test_label_outside_the_classes_is_named(mnist_dir, write_idx):
    root = mnist_dir(n_train=30)
    write_idx(root / "train-labels-idx1-ubyte.gz", np.full(30, 12, np.uint8))
    with pytest.raises(
        DataError,
        match=r"train-labels-idx1-ubyte\.gz: label 12 is out of range "
        r"\(expected 0\.\.9\)",
    ):
        load_data({"name": "mnist", "root": str(root)})


def test_wrong_magic_in_a_root_file_is_named(mnist_dir):
    root = mnist_dir()
    (root / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\0" * 8))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: IDX magic number 0x00000801"):
        load_data({"name": "mnist", "root": str(root)})


@pytest.mark.skipif(not MNIST_10K.is_dir(), reason="../shared/data/mnist-10k is not here")
def test_mnist_10k_has_the_counts_of_its_readme_and_loads_in_under_a_second():
    start = time.perf_counter()
    bundle = load_data({"name": "mnist", "root": str(MNIST_10K)}, progress=False)
    seconds = time.perf_counter() - start
    counts = bundle.counts
    assert [a + b for a, b in zip(counts["train"], counts["valid"], strict=True)] == README_TRAIN
    assert counts["test"] == README_TEST
    assert (len(bundle.train), len(bundle.valid), len(bundle.test)) == (7200, 800, 999)
    assert bundle.train.x.dtype == torch.uint8
    assert seconds < 1.0, f"loading took {seconds:.2f} s"


def test_size_check_of_a_huge_header_counts_exactly_without_overflow(tmp_path):
    # 3 dimensions of 2**32 - 1: 2**96 values, far past int64; the file has 10 bytes of data.
    path = tmp_path / "huge"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + b"\xff" * 12 + b"\x00" * 10)
    n = 2**32 - 1
    with pytest.raises(DataError) as err:
        load_idx(path)
    assert str(err.value) == (
        f"{path}: truncated: header says {n}x{n}x{n} values = {n**3} bytes, found 10"
    )
