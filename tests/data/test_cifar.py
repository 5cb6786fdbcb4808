"""CIFAR-10 pickle batches in a tar.gz: reading, safe extraction, and a pickle that may not run."""

from __future__ import annotations

import pickle
import tarfile

import numpy as np
import pytest
import torch

from nnstudy.data import load_data
from nnstudy.errors import DataError


def _expected(per_batch: int, seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    labels = [int(v) for v in rng.integers(0, 10, per_batch)]
    data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
    return data.reshape(-1, 3, 32, 32), labels


def test_cifar_archive_in_root_is_extracted_once_into_the_cache_and_read(cifar_archive, cache):
    root = cifar_archive(per_batch=12)
    bundle = load_data({"name": "cifar10", "root": str(root), "valid_fraction": 0.0})
    assert bundle.classes[:2] == ["airplane", "automobile"] and bundle.num_classes == 10
    assert (len(bundle.train), len(bundle.valid), len(bundle.test)) == (60, 0, 12)
    assert bundle.train.x.dtype == torch.uint8 and bundle.input_shape == (3, 32, 32)
    first, labels = _expected(12, 1)
    assert torch.equal(bundle.train.x[:12], torch.from_numpy(first))
    assert bundle.train.y[:12].tolist() == labels
    test, test_labels = _expected(12, 9)
    assert torch.equal(bundle.test.x, torch.from_numpy(test))
    assert bundle.test.y.tolist() == test_labels
    extracted = list((cache / "cifar10").glob("unpacked/*/cifar-10-batches-py/data_batch_1"))
    assert len(extracted) == 1
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-python.tar.gz"]


def test_cifar_batches_directory_is_read_without_an_archive(cifar_archive, tmp_path):
    root = cifar_archive()
    with tarfile.open(root / "cifar-10-python.tar.gz") as tar:
        tar.extractall(tmp_path / "plain", filter="data")
    bundle = load_data({"name": "cifar10", "root": str(tmp_path / "plain")})
    assert len(bundle.train) + len(bundle.valid) == 60


def test_a_pickle_that_asks_for_anything_but_arrays_is_refused(tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("this must not run",))

    batches = tmp_path / "batches"
    batches.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (batches / name).write_bytes(pickle.dumps({b"data": Boom(), b"labels": []}))
    with pytest.raises(DataError, match=r"data_batch_1: the pickle asks for builtins\.print"):
        load_data({"name": "cifar10", "root": str(batches)})


def test_truncated_cifar_archive_is_named(cifar_archive):
    root = cifar_archive()
    archive = root / "cifar-10-python.tar.gz"
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz: cannot read the archive"):
        load_data({"name": "cifar10", "root": str(root)})


def test_cifar_root_without_batches_or_archive_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DataError,
        match=r"^data\.root: .*empty: holds neither "
        r"cifar-10-python\.tar\.gz nor the batches",
    ):
        load_data({"name": "cifar10", "root": str(tmp_path / "empty")})
