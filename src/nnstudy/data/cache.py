"""Where downloads, unpacked archives and decode caches live: `$NNSTUDY_DATA_DIR`, else
`~/.cache/nnstudy`."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder: $NNSTUDY_DATA_DIR or ~/.cache/nnstudy."""
    env = os.environ.get("NNSTUDY_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nnstudy"
