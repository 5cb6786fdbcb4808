"""Downloads into the cache: mirrors in order, sha256 checked, nothing half-written left behind.

The cache is `$NNSTUDY_DATA_DIR`, else `~/.cache/nnstudy`; a data set's files go to
`<cache>/<name>/`. A file is streamed into a temporary file beside its target, hashed on the
way, and renamed to its name only when it is complete and its sha256 is the one its catalog
entry records (`nnstudy.config.datasets`); so a file present in the cache under its own name
was verified when it arrived. Nothing here knows one data set from another: what to fetch
comes from the entry, and what to do with the files afterwards from its unpack hook.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from nnstudy.config.datasets import CATALOG, Dataset, RemoteFile
from nnstudy.data.atomic import atomic_path
from nnstudy.data.cache import cache_dir
from nnstudy.data.unpack import unpacked
from nnstudy.errors import ConfigError, DataError

USER_AGENT = "nnstudy (https://github.com/nnstudy; dataset download)"
CHUNK = 1 << 16


@dataclass(frozen=True)
class LocalCopy:
    """A data set's files in the cache, each checked against its sha256, and the folder its
    reader reads (where the unpack hook put them, or the files' own folder)."""

    files: tuple[tuple[Path, str], ...]
    folder: Path


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_downloaded(
    dataset: Dataset,
    directory: Path | None = None,
    *,
    progress: bool = True,
    verify: bool = False,
) -> Path:
    """The directory (default `<cache>/<name>`) holding all published files of `dataset`,
    downloading those not there yet.

    With `verify`, files already there are hashed again, and one whose sha256 is not the
    recorded one is removed and downloaded anew.
    """
    if dataset.download is None:
        raise ConfigError(f"data.name: {dataset.name} has nothing to download")
    directory = directory if directory is not None else cache_dir() / dataset.name
    for file in dataset.download.files:
        target = directory / file.name
        if verify and target.is_file() and sha256_of(target) != file.sha256:
            target.unlink()
        fetch(file, dataset.download.mirrors, directory, progress=progress)
    return directory


def dataset_folder(
    dataset: Dataset, root: Path | None, *, progress: bool = True, verify: bool = False
) -> Path:
    """The folder the reader of a downloadable `dataset` reads: `root` (which must exist), or
    the cache, where the files are downloaded first; unpacked by the entry's hook."""
    if root is None:
        folder = ensure_downloaded(dataset, progress=progress, verify=verify)
    else:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise DataError(f"data.root: {folder}: no such directory")
    return unpacked(dataset, folder)


def download_dataset(name: str, *, progress: bool = True) -> LocalCopy | None:
    """Download (or re-check) the files of `name` in the cache and unpack them.

    None for a data set that comes with a library (nothing to download); a ConfigError for
    one that reads files you give (folder, npz) or a name not in the catalog.
    """
    dataset = CATALOG.get(name)
    if dataset is None or dataset.download is None:
        if dataset is not None and dataset.location is None:
            return None
        remote = [d.name for d in CATALOG.values() if d.download is not None]
        local = [d.name for d in CATALOG.values() if d.download is None]
        raise ConfigError(
            f"data.name: {name!r} has nothing to download; one of {', '.join(remote)} "
            f"({', '.join(local)} need no download)"
        )
    folder = dataset_folder(dataset, None, progress=progress, verify=True)
    directory = cache_dir() / dataset.name
    files = tuple((directory / f.name, f.sha256) for f in dataset.download.files)
    return LocalCopy(files, folder)


def fetch(
    file: RemoteFile,
    mirrors: Sequence[str],
    directory: Path,
    *,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """`directory/file.name`, downloaded from the first mirror that serves the right bytes.

    Each mirror is tried in turn; a failed transfer or a sha256 mismatch moves on to the next.
    When none succeeds, a DataError names the file and what each mirror did.
    """
    target = directory / file.name
    if target.is_file():
        return target
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{directory}: cannot create the download directory ({exc})") from None
    failures = []
    for mirror in mirrors:
        url = mirror if mirror.endswith(file.name) else mirror.rstrip("/") + "/" + file.name
        try:
            _download_verified(url, file, target, progress=progress, timeout=timeout)
        except _Failed as exc:
            failures.append(f"{url}: {exc}")
            continue
        return target
    raise DataError(f"{target}: download failed from every mirror: " + "; ".join(failures))


class _Failed(Exception):
    """One mirror did not deliver the file."""


def _download_verified(
    url: str, file: RemoteFile, target: Path, *, progress: bool, timeout: float
) -> None:
    if not url.startswith(("http://", "https://")):
        raise _Failed("only http and https URLs are fetched")
    with atomic_path(target) as tmp:
        with tmp.open("wb") as out:
            digest, size = _stream(url, out, file.name, progress=progress, timeout=timeout)
        if digest != file.sha256:
            raise _Failed(
                f"sha256 mismatch: got {digest}, expected {file.sha256} ({size} bytes); "
                "the file was removed"
            )


def _stream(
    url: str, out: BinaryIO, label: str, *, progress: bool, timeout: float
) -> tuple[str, int]:
    """Copy the body at `url` into `out`; returns (sha256, bytes)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with _Progress(label, total, enabled=progress) as bar:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.advance(len(block))
    except urllib.error.HTTPError as exc:
        raise _Failed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _Failed(f"cannot connect ({exc.reason})") from None
    except (http.client.HTTPException, OSError) as exc:
        raise _Failed(
            f"transfer broken after {received} bytes ({type(exc).__name__}: {exc})"
        ) from None
    if total is not None and received != total:
        raise _Failed(f"connection closed after {received} of {total} bytes")
    return digest.hexdigest(), received


class _Progress:
    """A rich progress bar on stderr for one transfer, or nothing."""

    def __init__(self, label: str, total: int | None, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)
