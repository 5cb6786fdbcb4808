"""All-or-nothing writes, and the removal of temporary files that a killed process left."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from nnstudy.data import atomic
from nnstudy.data.atomic import STALE_AFTER, atomic_dir, atomic_path, remove_stale_parts


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _touch(path, age: float = 0.0):
    path.write_bytes(b"x")
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_stale_parts_are_those_of_gone_processes_or_idle_too_long(tmp_path):
    host = atomic._HOST
    dead = _touch(tmp_path / f".a.bin.{host}-{_dead_pid()}.k2j4m1xq.part")
    live = _touch(tmp_path / f".b.bin.{host}-{os.getpid()}.k2j4m1xq.part")
    elsewhere = _touch(tmp_path / f".c.bin.otherhost-{_dead_pid()}.k2j4m1xq.part")
    elsewhere_idle = _touch(tmp_path / ".d.bin.otherhost-1.k2j4m1xq.part", age=STALE_AFTER + 60)
    unowned_fresh = _touch(tmp_path / ".e.bin.k2j4m1xq.part")
    unowned_idle = _touch(tmp_path / ".f.bin.k2j4m1xq.part", age=STALE_AFTER + 60)
    old_but_not_ours = _touch(tmp_path / ".g.bin.part", age=STALE_AFTER + 60)
    users = _touch(tmp_path / "notes.part", age=STALE_AFTER + 60)
    dead_dir = tmp_path / f".h.{host}-{_dead_pid()}.k2j4m1xq.part"
    dead_dir.mkdir()
    _touch(dead_dir / "inside")

    removed = remove_stale_parts(tmp_path)

    assert sorted(removed) == sorted([dead, elsewhere_idle, unowned_idle, dead_dir])
    for kept in (live, elsewhere, unowned_fresh, old_but_not_ours, users):
        assert kept.exists()


def test_atomic_path_names_its_file_after_its_process_and_renames_it(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_path(target) as tmp:
        assert tmp.name.startswith(f".out.bin.{atomic._HOST}-{os.getpid()}.")
        assert tmp.name.endswith(".part") and tmp.exists()
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failed_write_leaves_neither_file_nor_the_folders_made_for_it(tmp_path):
    target = tmp_path / "new" / "deeper" / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_keeps_a_folder_that_another_process_completed_first(tmp_path):
    target = tmp_path / "unpacked"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("mine")
        target.mkdir()
        (target / "a").write_text("theirs")
    assert (target / "a").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["unpacked"]
