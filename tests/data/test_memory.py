"""The memory available: /proc/meminfo, lowered to what the cgroup allows, read from written
copies of the kernel's files (and once from the real ones)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnstudy.data.memory import available_memory, format_bytes


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


MEMINFO = "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n"


def test_meminfo_memavailable_in_kib_is_the_answer_without_a_cgroup_limit(tmp_path):
    write(tmp_path / "proc" / "meminfo", MEMINFO)
    write(tmp_path / "proc" / "self" / "cgroup", "0::/\n")
    write(tmp_path / "cg" / "memory.max", "max\n")
    write(tmp_path / "cg" / "memory.current", "123\n")
    memory = available_memory(tmp_path / "proc", tmp_path / "cg")
    assert memory.bytes == 8_000_000 * 1024
    assert memory.source == "MemAvailable in /proc/meminfo"


def test_a_cgroup_v2_limit_lowers_it_to_the_limit_less_the_working_set(tmp_path):
    write(tmp_path / "proc" / "meminfo", MEMINFO)
    write(tmp_path / "proc" / "self" / "cgroup", "0::/jobs/run1\n")
    group = tmp_path / "cg" / "jobs" / "run1"
    write(group / "memory.max", "4000000000\n")
    write(group / "memory.current", "3000000000\n")
    write(group / "memory.stat", "anon 1\ninactive_file 500000000\nactive_file 7\n")
    memory = available_memory(tmp_path / "proc", tmp_path / "cg")
    assert memory.bytes == 4_000_000_000 - (3_000_000_000 - 500_000_000)
    assert str(group) in memory.source
    # A tighter limit on the parent group counts too.
    write(tmp_path / "cg" / "jobs" / "memory.max", "2000000000\n")
    write(tmp_path / "cg" / "jobs" / "memory.current", "1900000000\n")
    memory = available_memory(tmp_path / "proc", tmp_path / "cg")
    assert memory.bytes == 100_000_000


def test_a_cgroup_v1_limit_and_its_hierarchical_limit_count(tmp_path):
    write(tmp_path / "proc" / "meminfo", MEMINFO)
    write(tmp_path / "proc" / "self" / "cgroup", "5:cpu:/\n4:memory:/grp\n")
    group = tmp_path / "cg" / "memory" / "grp"
    write(group / "memory.limit_in_bytes", "9223372036854771712\n")  # v1's "no limit"
    write(group / "memory.usage_in_bytes", "1000\n")
    write(group / "memory.stat", "total_inactive_file 400\nhierarchical_memory_limit 5000\n")
    memory = available_memory(tmp_path / "proc", tmp_path / "cg")
    assert memory.bytes == 5000 - (1000 - 400)


def test_without_meminfo_the_free_pages_are_used_and_said_to_undercount(tmp_path):
    memory = available_memory(tmp_path / "no-proc", tmp_path / "no-cgroup")
    if not hasattr(os, "sysconf") or "SC_AVPHYS_PAGES" not in os.sysconf_names:
        assert memory.bytes is None and memory.source.startswith("cannot tell")
        return
    pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert memory.bytes == pytest.approx(pages, rel=0.2)  # free pages move while we look
    assert "SC_AVPHYS_PAGES" in memory.source and "more may be available" in memory.source


@pytest.mark.skipif(not Path("/proc/meminfo").is_file(), reason="Linux only")
def test_on_this_machine_it_is_positive_and_at_most_the_total():
    total = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    memory = available_memory()
    assert memory.bytes is not None and 0 < memory.bytes <= total


def test_format_bytes_uses_powers_of_1024():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 2**30) == "3 GiB"
    assert format_bytes(1.7 * 2**30) == "1.7 GiB"
    assert format_bytes(250 * 2**30) == "250 GiB"
