"""Writing a file or a folder all or nothing: into a temporary one beside it, renamed when complete.

A temporary file or folder is named `.NAME.HOST-PID.RANDOM.part`, after the process writing
it. A process killed with SIGKILL cannot remove its own, so every write first removes the
stale ones in its folder: those whose process is gone (written on this host), and those
nothing has written to for `STALE_AFTER` seconds (another host's, older versions' unnamed
ones, or a pid that was reused). A write in progress in another process keeps its file: its
process is alive, and a download writes to its file every few milliseconds.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Seconds without a write after which a temporary file is stale whoever wrote it.
STALE_AFTER = 3600.0
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
_OWNED = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)\.[a-z0-9_]{8}\.part$")
_UNOWNED = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")


def give_usual_permissions(path: str | Path) -> None:
    """Give a file that `tempfile.mkstemp` made (private: 0600) the permissions `open` would
    have given it: 0666 less the umask. Every atomic write renames such a file into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path in `target`'s folder; when the block ends without an error the
    file is given the usual permissions (0666 less the umask) and renamed to `target`,
    otherwise it is removed, with the folders made for it. Readers never see a half-written
    `target`."""
    created = _make_folder(target.parent)
    try:
        remove_stale_parts(target.parent)
        fd, name = tempfile.mkstemp(prefix=_prefix(target), suffix=".part", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            give_usual_permissions(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    except BaseException:
        _remove_empty(created)
        raise


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a new temporary folder beside `target`, renamed to `target` when the block ends
    without an error and removed otherwise. When another process completed `target` first,
    its folder is kept and this one removed (both hold the same files)."""
    tmp = new_part_dir(target)
    try:
        yield tmp
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def new_part_dir(target: Path) -> Path:
    """A new, empty temporary folder beside `target`, named as this module names them (so
    that it is removed as stale once its process is gone); the stale ones are removed
    first. For a caller that renames it into place itself (`atomic_dir` does)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(target.parent)
    return Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".part", dir=target.parent))


def remove_stale_parts(folder: Path) -> list[Path]:
    """Remove the stale temporary files and folders of `folder` (see the module docstring);
    returns what was removed. Anything not named like a temporary of this module stays."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if _is_stale(entry, now):
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _prefix(target: Path) -> str:
    return f".{target.name}.{_HOST}-{os.getpid()}."


def _is_stale(entry: os.DirEntry, now: float) -> bool:
    owned = _OWNED.match(entry.name)
    if owned is None and _UNOWNED.match(entry.name) is None:
        return False
    try:
        idle = now - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    if idle > STALE_AFTER:
        return True
    if owned is None or owned["host"] != _HOST:
        return False
    return not _alive(int(owned["pid"]))


def _alive(pid: int) -> bool:
    """Whether process `pid` of this host exists (signal 0 checks without sending one)."""
    if os.name == "nt":  # signal 0 is CTRL_C_EVENT there: never send it; trust the age
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except (OverflowError, OSError):
        return False
    return True


def _make_folder(folder: Path) -> list[Path]:
    """Make `folder` and its missing parents; returns those made, innermost first."""
    missing = []
    here = folder
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
