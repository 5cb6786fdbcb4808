"""CIFAR-10 from the python-pickle batches of `cifar-10-python.tar.gz`.

The folder (a local `root`, or where the catalog's unpack hook extracted the archive) is the
directory of the batches (`data_batch_1` .. `data_batch_5`, `test_batch`, `batches.meta`) or
one holding `cifar-10-batches-py/`. A root holding the archive itself was extracted into the
cache before (`nnstudy.data.unpack`). The pickles are read by an unpickler that builds numpy
arrays and nothing else, so a crafted batch file cannot run code.
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nnstudy.config.datasets import Dataset
from nnstudy.data.raw import RawData, RawPart, as_images, as_labels
from nnstudy.errors import DataError

BATCHES_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"


def read_cifar10(folder: Path, dataset: Dataset) -> RawData:
    """The 50,000 training and 10,000 test images as uint8 [N, 3, 32, 32] with labels.

    Class names come from `batches.meta`, else from the catalog entry `dataset`.
    """
    batches = _locate(folder, dataset)
    train = [_read_batch(batches / name) for name in TRAIN_BATCHES]
    test = _read_batch(batches / TEST_BATCH)
    classes = _read_classes(batches, dataset.classes)
    x = np.concatenate([b[0] for b in train])
    y = np.concatenate([b[1] for b in train])
    k = len(classes)
    return RawData(
        classes,
        RawPart(as_images(x), as_labels(y, k, str(batches / "data_batch_*"))),
        None,
        RawPart(as_images(test[0]), as_labels(test[1], k, str(batches / TEST_BATCH))),
        origin=str(batches),
    )


def _complete(directory: Path) -> bool:
    return all((directory / n).is_file() for n in (*TRAIN_BATCHES, TEST_BATCH))


def _locate(folder: Path, dataset: Dataset) -> Path:
    for batches in (folder, folder / BATCHES_DIR):
        if _complete(batches):
            return batches
    published = [f.name for f in dataset.download.files] if dataset.download else []
    archive = f"{' or '.join(published)} nor " if published else ""
    raise DataError(
        f"data.root: {folder}: holds neither {archive}the batches "
        f"({', '.join(TRAIN_BATCHES)}, {TEST_BATCH}), directly or in {BATCHES_DIR}/"
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, numbers and numpy arrays; refuses any other global."""

    _ALLOWED: ClassVar[dict[tuple[str, str], tuple[str, str] | None]] = {
        ("numpy.core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"): ("multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"): ("multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),
        ("numpy", "ndarray"): None,
        ("numpy", "dtype"): None,
        ("_codecs", "encode"): None,
    }

    def __init__(self, file: Any, where: Path) -> None:
        super().__init__(file, encoding="bytes")
        self._where = where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise DataError(
                f"{self._where}: the pickle asks for {module}.{name}; a CIFAR batch holds "
                "only numpy arrays, lists and bytes"
            )
        inner = self._ALLOWED[(module, name)]
        if inner is None:
            return super().find_class(module, name)
        sub, attr = inner
        try:
            found = importlib.import_module(f"numpy._core.{sub}")
        except ImportError:
            found = importlib.import_module(f"numpy.core.{sub}")
        return getattr(found, attr)


def _unpickle(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            obj = _ArrayUnpickler(f, path).load()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            f"{path}: not a readable CIFAR pickle ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict of arrays, got {type(obj).__name__}")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    for key in ("data", "labels"):
        if key not in batch:
            raise DataError(f"{path}: no {key!r} entry (found {', '.join(map(str, batch))})")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{path}: 'data' must be uint8 [N, 3072], got {data.dtype} {list(data.shape)}"
        )
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(labels)} labels for {len(data)} images")
    return data.reshape(-1, 3, 32, 32), labels


def _read_classes(batches: Path, known: tuple[str, ...]) -> list[str]:
    meta_path = batches / META
    if not meta_path.is_file():
        return list(known)
    names = _unpickle(meta_path).get("label_names")
    if not names:
        raise DataError(f"{meta_path}: no 'label_names' entry")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
