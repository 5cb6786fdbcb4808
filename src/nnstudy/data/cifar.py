"""CIFAR-10 from the python-pickle batches of `cifar-10-python.tar.gz`.

`root` may be the directory of the batches (`data_batch_1` .. `data_batch_5`, `test_batch`,
`batches.meta`), a directory holding `cifar-10-batches-py/`, or one holding the archive.
Without `root` the archive is downloaded into the cache. An archive is extracted once, into
the cache, refusing any member that is not a plain file or folder or whose path leaves the
target directory. The pickles are read by an unpickler that builds numpy arrays and nothing
else, so a crafted batch file cannot run code.
"""

from __future__ import annotations

import hashlib
import importlib
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nnstudy.data.catalog import CATALOG
from nnstudy.data.download import cache_dir, ensure_downloaded
from nnstudy.data.raw import RawData, RawPart, as_images, as_labels
from nnstudy.errors import DataError

BATCHES_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
ARCHIVE = "cifar-10-python.tar.gz"


def read_cifar10(root: Path | None, *, progress: bool = True) -> RawData:
    """The 50,000 training and 10,000 test images as uint8 [N, 3, 32, 32] with labels."""
    batches = _locate(root, progress)
    train = [_read_batch(batches / name) for name in TRAIN_BATCHES]
    test = _read_batch(batches / TEST_BATCH)
    classes = _read_classes(batches)
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


def ensure_cifar10(*, progress: bool = True, verify: bool = False) -> Path:
    """The batches directory in the cache, downloading and extracting the archive if needed.

    With `verify`, an archive already there is hashed again (and fetched anew on a mismatch).
    """
    home = cache_dir() / "cifar10"
    extracted = home / "extracted"
    if verify or not _complete(extracted / BATCHES_DIR):
        archive = ensure_downloaded(CATALOG["cifar10"], home, progress=progress, verify=verify)
        archive = archive / ARCHIVE
        if not _complete(extracted / BATCHES_DIR):
            extract_tar(archive, extracted)
    return _batches_in(extracted, home / ARCHIVE)


def _locate(root: Path | None, progress: bool) -> Path:
    if root is None:
        return ensure_cifar10(progress=progress)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"data.root: {root}: no such directory")
    if _complete(root):
        return root
    if _complete(root / BATCHES_DIR):
        return root / BATCHES_DIR
    archive = root / ARCHIVE
    if archive.is_file():
        stat = archive.stat()
        key = f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        extracted = (
            cache_dir() / "cifar10" / f"local-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        )
        if not _complete(extracted / BATCHES_DIR):
            extract_tar(archive, extracted)
        return _batches_in(extracted, archive)
    raise DataError(
        f"data.root: {root}: holds neither {ARCHIVE} nor the batches "
        f"({', '.join(TRAIN_BATCHES)}, {TEST_BATCH}), directly or in {BATCHES_DIR}/"
    )


def _batches_in(extracted: Path, archive: Path) -> Path:
    batches = extracted / BATCHES_DIR
    if not _complete(batches):
        raise DataError(
            f"{archive}: the archive has no {BATCHES_DIR}/ with {', '.join(TRAIN_BATCHES)} "
            f"and {TEST_BATCH}"
        )
    return batches


def extract_tar(archive: Path, target: Path) -> None:
    """Extract `archive` into a new directory `target`, all or nothing.

    Only plain files and folders are extracted; a link, a device, an absolute path or a
    path that leaves `target` makes the whole extraction fail with a DataError naming the
    member. The files go to a temporary folder beside `target`, renamed when complete.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    _extract_member(tar, member, tmp, archive)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(f"{archive}: cannot read the archive ({exc})") from None
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, tmp: Path, archive: Path
) -> None:
    name = member.name
    dest = (tmp / name).resolve()
    base = tmp.resolve()
    if Path(name).is_absolute() or (dest != base and base not in dest.parents):
        raise DataError(
            f"{archive}: member {name!r} would be written outside the target directory; "
            "refusing to extract"
        )
    if member.isdir():
        dest.mkdir(parents=True, exist_ok=True)
        return
    if not member.isfile():
        raise DataError(
            f"{archive}: member {name!r} is a link or special file; refusing to extract"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:
        raise DataError(f"{archive}: member {name!r} cannot be read")
    with source, dest.open("wb") as out:
        shutil.copyfileobj(source, out)


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


def _read_classes(batches: Path) -> list[str]:
    meta_path = batches / META
    if not meta_path.is_file():
        return list(CATALOG["cifar10"].classes)
    names = _unpickle(meta_path).get("label_names")
    if not names:
        raise DataError(f"{meta_path}: no 'label_names' entry")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
