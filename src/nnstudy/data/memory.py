"""How much memory this process could still take: what a cache asks before it fills memory.

On Linux: `MemAvailable` of /proc/meminfo (the kernel's estimate of what can be allocated
without swapping: free memory plus the page cache and slabs it can reclaim), lowered to
what the process's control group still allows (cgroup v2 `memory.max` less the working set
`memory.current - inactive_file`; v1 `memory.limit_in_bytes` less `memory.usage_in_bytes -
total_inactive_file`), as in a container. Elsewhere: the free physical pages
(`os.sysconf("SC_AVPHYS_PAGES")`), which leave out the reclaimable cache and so undercount.
Where neither exists, the answer says it cannot tell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: cgroup v1 reports "no limit" as a page-aligned huge number; anything above this is none.
NO_LIMIT = 1 << 60


@dataclass(frozen=True)
class AvailableMemory:
    """`bytes` that can be allocated (None: cannot tell) and `source`, how it was found."""

    bytes: int | None
    source: str


def available_memory(
    proc: Path = Path("/proc"), cgroup: Path = Path("/sys/fs/cgroup")
) -> AvailableMemory:
    """The memory this process could still allocate (see the module docstring); `proc` and
    `cgroup` are where the kernel's files are read (tests point them at written copies)."""
    found = _meminfo_available(proc / "meminfo")
    if found is not None:
        memory = AvailableMemory(found, "MemAvailable in /proc/meminfo")
    else:
        memory = _sysconf_free()
    limit = _cgroup_room(proc / "self" / "cgroup", cgroup)
    if limit is not None and (memory.bytes is None or limit[0] < memory.bytes):
        memory = AvailableMemory(limit[0], limit[1])
    return memory


def format_bytes(n: float) -> str:
    """`1.50 GiB`, `12.0 MiB`, `512 B` (powers of 1024)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}" if n / size < 100 else f"{n / size:,.0f} {unit}"
    return f"{int(n)} B"


def _meminfo_available(path: Path) -> int | None:
    fields = _key_values(path, sep=":")
    value = fields.get("MemAvailable")
    return None if value is None else value * 1024  # the file counts kB (KiB)


def _sysconf_free() -> AvailableMemory:
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return AvailableMemory(None, "cannot tell: no /proc/meminfo and no sysconf SC_AVPHYS_PAGES")
    return AvailableMemory(
        pages * size,
        "free physical pages (sysconf SC_AVPHYS_PAGES; reclaimable cache not counted, so "
        "more may be available)",
    )


def _cgroup_room(membership: Path, root: Path) -> tuple[int, str] | None:
    """(bytes the process's cgroup still allows, where that came from), or None when it has
    no memory limit or none can be read. A limit set on a parent group counts too (v2: each
    folder up to the root; v1: `hierarchical_memory_limit` of memory.stat)."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        relative = path.strip().lstrip("/")
        if hierarchy == "0" and controllers == "":
            # v2; when the container namespaces the group, its folder is the root itself.
            folder = root / relative if (root / relative).is_dir() else root
            while True:
                rooms.append(_room(folder, "memory.max", "memory.current", "inactive_file"))
                if folder == root or root not in folder.parents:
                    break
                folder = folder.parent
        elif "memory" in controllers.split(","):
            base = root / "memory"
            folder = base / relative if (base / relative).is_dir() else base
            rooms.append(
                _room(
                    folder,
                    "memory.limit_in_bytes",
                    "memory.usage_in_bytes",
                    "total_inactive_file",
                    "hierarchical_memory_limit",
                )
            )
    found = [r for r in rooms if r is not None]
    return min(found) if found else None


def _room(
    folder: Path, limit_file: str, usage_file: str, inactive: str, stat_limit: str = ""
) -> tuple[int, str] | None:
    """The limit of the group in `folder` less its working set (usage less the inactive file
    cache, which the kernel reclaims before it runs out), or None without a limit."""
    stat = _key_values(folder / "memory.stat", sep=" ")
    try:
        usage = int((folder / usage_file).read_text().strip())
        text = (folder / limit_file).read_text().strip()
    except (OSError, ValueError):
        return None
    limits = [int(text)] if text.isdigit() else []
    if stat_limit in stat:
        limits.append(stat[stat_limit])
    limit = min(limits, default=NO_LIMIT)
    if limit >= NO_LIMIT:
        return None
    working_set = max(usage - stat.get(inactive, 0), 0)
    return max(limit - working_set, 0), f"the limit of cgroup {folder} less its working set"


def _key_values(path: Path, sep: str) -> dict[str, int]:
    """`name<sep> number [unit]` lines as {name: number}; {} when unreadable."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        name, _, rest = line.partition(sep)
        words = rest.split()
        if words and words[0].isdigit():
            out[name.strip()] = int(words[0])
    return out
