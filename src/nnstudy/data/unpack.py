"""Unpack hooks: what turns a data set's published files into the folder its reader reads.

A catalog entry names its hook (`Download.unpack`, a key of `UNPACKERS`); None means the
reader reads the files as published (the IDX reader gunzips in memory). A hook is called
once per set of files, as `hook(files, into)`, and writes into the new, empty folder `into`;
`unpacked` gives that folder its place in the cache, all or nothing, and reuses it while the
files are unchanged.

`tar` extracts archives safely: only plain files and folders; a link, a device, an absolute
path or a path that leaves the target makes the whole extraction fail with a DataError that
names the member.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

from nnstudy.config.datasets import Dataset
from nnstudy.data.atomic import atomic_dir
from nnstudy.data.cache import cache_dir
from nnstudy.errors import DataError


def untar(files: Sequence[Path], into: Path) -> None:
    """Extract each tar archive of `files` (any compression tarfile reads) into `into`."""
    for archive in files:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    _extract_member(tar, member, into, archive)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(f"{archive}: cannot read the archive ({exc})") from None


#: The unpack hooks by the name a catalog entry gives.
UNPACKERS: dict[str, Callable[[Sequence[Path], Path], None]] = {"tar": untar}


def unpacked(dataset: Dataset, folder: Path) -> Path:
    """The folder the reader of `dataset` reads, given the folder of its files.

    Without a hook, or when `folder` does not hold all the published files (a local root
    with the files already unpacked), that is `folder`. Otherwise the hook unpacks them once
    into `<cache>/<name>/unpacked/<source>-<files>`, named after the folder and after the
    names, sizes and modification times of the files; a changed file is unpacked anew and
    replaces that folder's earlier copy.
    """
    download = dataset.download
    if download is None or download.unpack is None:
        return folder
    files = [folder / f.name for f in download.files]
    if not all(f.is_file() for f in files):
        return folder
    source = _digest(str(folder.resolve()))
    stamp = _digest(json.dumps([[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]))
    home = cache_dir() / dataset.name / "unpacked"
    target = home / f"{source}-{stamp}"
    if not target.is_dir():
        with atomic_dir(target) as tmp:
            UNPACKERS[download.unpack](files, tmp)
        for earlier in home.glob(f"{source}-*"):
            if earlier != target and earlier.is_dir():
                shutil.rmtree(earlier, ignore_errors=True)
    return target


def extract_tar(archive: Path, target: Path) -> None:
    """Extract `archive` into the new folder `target`, all or nothing (see `untar`)."""
    with atomic_dir(target) as tmp:
        untar([archive], tmp)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, into: Path, archive: Path
) -> None:
    name = member.name
    dest = (into / name).resolve()
    base = into.resolve()
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
