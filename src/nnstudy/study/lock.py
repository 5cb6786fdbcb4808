"""The lock that keeps two processes from running one study directory at once.

An exclusive `flock` on `study.lock`: the kernel drops it when the holder exits in any way,
kill -9 included, so a lock left by a killed process never blocks `resume`.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from nnstudy.errors import ConfigError


class StudyLock:
    """Hold the lock of `study_dir` for the lifetime of the `with` block."""

    def __init__(self, study_dir: Path) -> None:
        self.path = Path(study_dir) / "study.lock"
        self.fd: int | None = None

    def __enter__(self) -> StudyLock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self.fd, 64).decode(errors="replace").strip() or "another process"
            os.close(self.fd)
            self.fd = None
            raise ConfigError(
                f"{self.path.parent}: the study is in use by pid {holder}; wait for it to "
                "finish or stop it first"
            ) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, str(os.getpid()).encode())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
