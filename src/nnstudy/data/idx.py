"""The IDX format of MNIST-style files, plain or gzip-compressed.

Layout (big-endian): magic = 0x00 0x00 <type> <ndim>, then ndim uint32 sizes, then the
values in C order. Types: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64. Images are 0x00000803 (uint8, 3-D), labels 0x00000801 (uint8, 1-D).
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from nnstudy.errors import DataError

IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def read_bytes(path: Path) -> bytes:
    """The content of `path`, gunzipped when it starts with the gzip signature."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    return data


def load_idx(path: str | Path, expect_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (optionally .gz) into a numpy array of its type and shape.

    A bad magic number, a header that does not match `expect_magic`, or a data section
    shorter or longer than the header promises is a DataError naming the file.
    """
    path = Path(path)
    data = read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: truncated: {len(data)} bytes, not even an IDX header")
    (magic,) = struct.unpack(">I", data[:4])
    type_code, ndim = data[2], data[3]
    if data[0] != 0 or data[1] != 0 or type_code not in IDX_TYPES or ndim == 0:
        raise DataError(
            f"{path}: wrong IDX magic number 0x{magic:08X} (expected 0x0000TTDD: two zero "
            f"bytes, a type code 08/09/0B/0C/0D/0E, the number of dimensions)"
        )
    if expect_magic is not None and magic != expect_magic:
        raise DataError(
            f"{path}: IDX magic number 0x{magic:08X}, expected 0x{expect_magic:08X} "
            f"({_describe(expect_magic)})"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated: the header needs {header} bytes, file has {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_TYPES[type_code]
    # Python integers: the product of ndim 32-bit sizes can pass any fixed-width type.
    expected = math.prod(dims) * dtype.itemsize
    found = len(data) - header
    shape = "x".join(map(str, dims))
    if found < expected:
        raise DataError(
            f"{path}: truncated: header says {shape} values = {expected} bytes, found {found}"
        )
    if found > expected:
        raise DataError(
            f"{path}: {found - expected} bytes after the {shape} values the header announces"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    # A copy: native byte order, and writable (the buffer of `data` is read-only).
    return array.astype(dtype.newbyteorder("=")).reshape(dims)


def _describe(magic: int) -> str:
    kinds = {IMAGES_MAGIC: "uint8 images, 3-D", LABELS_MAGIC: "uint8 labels, 1-D"}
    return kinds.get(magic, f"type 0x{(magic >> 8) & 0xFF:02X}, {magic & 0xFF}-D")
