"""Unpack hooks: safe tar extraction, all or nothing, once per set of published files."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from nnstudy.config.datasets import CATALOG
from nnstudy.data.unpack import extract_tar, unpacked
from nnstudy.errors import DataError


def test_archive_member_leaving_the_target_is_refused_and_nothing_is_written(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("cifar-10-batches-py/ok", "../../escaped"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    target = tmp_path / "deep" / "out"
    with pytest.raises(
        DataError,
        match=r"evil\.tar\.gz: member '\.\./\.\./escaped' would be "
        r"written outside the target directory",
    ):
        extract_tar(archive, target)
    assert not (tmp_path / "escaped").exists()
    assert not target.exists()
    assert list((tmp_path / "deep").iterdir()) == []  # no half-extracted temporary folder


def test_archive_with_a_link_is_refused(tmp_path):
    archive = tmp_path / "links.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(DataError, match=r"member 'cifar-10-batches-py/data_batch_1' is a link"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unpacked_files_are_reused_until_the_archive_changes_then_replaced(cifar_archive, cache):
    root = cifar_archive(per_batch=2)
    dataset = CATALOG["cifar10"]
    first = unpacked(dataset, root)
    assert (first / "cifar-10-batches-py" / "test_batch").is_file()
    assert unpacked(dataset, root) == first
    archive = root / "cifar-10-python.tar.gz"
    os.utime(archive, ns=(archive.stat().st_atime_ns, archive.stat().st_mtime_ns + 10**9))
    second = unpacked(dataset, root)
    assert second != first and second.is_dir() and not first.exists()
    assert sorted(p.name for p in second.parent.iterdir()) == [second.name]


def test_a_folder_without_the_published_files_is_read_as_it_is(tmp_path):
    assert unpacked(CATALOG["cifar10"], tmp_path) == tmp_path
    assert unpacked(CATALOG["mnist"], tmp_path) == tmp_path  # no hook: read as published
