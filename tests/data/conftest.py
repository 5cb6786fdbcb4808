"""Fixtures that write small data sets in each format, and a local HTTP server for downloads."""

from __future__ import annotations

import gzip
import http.server
import io
import pickle
import struct
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache directory (never ~/.cache)."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("NNSTUDY_DATA_DIR", str(directory))
    return directory


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of `array` (uint8, int32 or float32)."""
    codes = {np.dtype("u1"): 0x08, np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D}
    code = codes[array.dtype]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def write_idx() -> Callable[..., Path]:
    """write_idx(path, array, gz=True): an IDX file of `array`."""

    def write(path: Path, array: np.ndarray, gz: bool = True) -> Path:
        data = idx_bytes(array)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write


def digit_images(labels: np.ndarray, size: int = 28, seed: int = 0) -> np.ndarray:
    """uint8 images whose mean brightness grows with the label (so classes differ)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 40, size=(len(labels), size, size))
    return (base + 20 * labels[:, None, None]).clip(0, 255).astype(np.uint8)


@pytest.fixture
def mnist_dir(tmp_path: Path, write_idx) -> Callable[..., Path]:
    """mnist_dir(n_train=200, n_test=50, gz=True): a directory of the four IDX files."""

    def make(n_train: int = 200, n_test: int = 50, gz: bool = True, name: str = "idx") -> Path:
        root = tmp_path / name
        suffix = ".gz" if gz else ""
        for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
            labels = (np.arange(n) % 10).astype(np.uint8)
            write_idx(
                root / f"{prefix}-images-idx3-ubyte{suffix}", digit_images(labels, seed=seed), gz
            )
            write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        return root

    return make


def cifar_batch(n: int, seed: int, py2_names: bool = True) -> bytes:
    """A pickled CIFAR batch as the real files have it: bytes keys, data [n, 3072] uint8."""
    rng = np.random.default_rng(seed)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    batch = {
        b"batch_label": b"test batch",
        b"labels": labels,
        b"data": data,
        b"filenames": [b"img%d.png" % i for i in range(n)],
    }
    raw = pickle.dumps(batch, protocol=2)
    if py2_names:
        # The real batches name the numpy 1 module (written by Python 2).
        raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return raw


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def cifar_archive(tmp_path: Path) -> Callable[..., Path]:
    """cifar_archive(per_batch=12): root/cifar-10-python.tar.gz with the 7 pickles."""

    def make(per_batch: int = 12, name: str = "cifar") -> Path:
        root = tmp_path / name
        root.mkdir()
        with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
            add_bytes(
                tar,
                "cifar-10-batches-py/batches.meta",
                pickle.dumps(
                    {
                        b"label_names": [
                            b"airplane",
                            b"automobile",
                            b"bird",
                            b"cat",
                            b"deer",
                            b"dog",
                            b"frog",
                            b"horse",
                            b"ship",
                            b"truck",
                        ]
                    },
                    protocol=2,
                ),
            )
            for i in range(1, 6):
                add_bytes(tar, f"cifar-10-batches-py/data_batch_{i}", cifar_batch(per_batch, i))
            add_bytes(tar, "cifar-10-batches-py/test_batch", cifar_batch(per_batch, 9))
        return root

    return make


def save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def image_folder(tmp_path: Path) -> Callable[..., Path]:
    """image_folder(splits=("train", "valid", "test"), per_class=4, size=(12, 10)):
    RGB PNGs root/<split>/<class>/<i>.png for classes cat, dog (or root/<class>/ if splits=())."""

    def make(
        splits=("train", "valid", "test"),
        per_class: int = 4,
        size=(12, 10),
        classes=("cat", "dog"),
        name: str = "images",
    ) -> Path:
        root = tmp_path / name
        rng = np.random.default_rng(0)
        for split in splits or ("",):
            for c, cls in enumerate(classes):
                for i in range(per_class):
                    pixels = rng.integers(0, 100, size=(*size, 3)) + 100 * c
                    save_png(root / split / cls / f"{i}.png", pixels.astype(np.uint8))
        return root

    return make


class _Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    release: ClassVar[threading.Event]

    def do_GET(self) -> None:
        kind, _, name = self.path.strip("/").partition("/")
        body = self.files.get(name)
        if body is None or kind not in {"good", "bad", "cut", "stall"}:
            self.send_error(404)
            return
        if kind == "bad":
            body = body[::-1]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind in {"cut", "stall"}:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if kind == "stall":
                self.release.wait(60)
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """(base URL, files): GET /good/NAME serves files[NAME], /bad/NAME other bytes of the same
    length, /cut/NAME half of it with the full Content-Length, then closes; /stall/NAME sends
    half and then waits (until the test ends) without closing, as a download in progress."""
    files: dict[str, bytes] = {}
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"files": files, "release": release})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()
