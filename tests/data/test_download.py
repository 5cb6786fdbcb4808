"""Downloads against a local HTTP server: a good file, a bad checksum, a connection cut mid-file."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import nnstudy
from nnstudy.config.datasets import CATALOG, Dataset, Download, RemoteFile
from nnstudy.data import load_data
from nnstudy.data.download import download_dataset, ensure_downloaded, fetch, sha256_of
from nnstudy.errors import ConfigError, DataError

PAYLOAD = os.urandom(300_000)
GOOD = RemoteFile("payload.bin", hashlib.sha256(PAYLOAD).hexdigest())


def test_good_file_is_downloaded_checked_and_renamed_into_place(server, tmp_path):
    base, files = server
    files["payload.bin"] = PAYLOAD
    path = fetch(GOOD, [f"{base}/good/"], tmp_path / "dl", progress=False)
    assert path == tmp_path / "dl" / "payload.bin" and path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in path.parent.iterdir()) == ["payload.bin"]
    files.clear()  # a second call does not download again
    assert fetch(GOOD, [f"{base}/good/"], tmp_path / "dl", progress=False) == path


def test_bad_checksum_is_an_error_naming_the_file_and_leaves_nothing(server, tmp_path):
    base, files = server
    files["payload.bin"] = PAYLOAD
    with pytest.raises(DataError) as err:
        fetch(GOOD, [f"{base}/bad/"], tmp_path / "dl", progress=False)
    text = str(err.value)
    assert "payload.bin" in text and "sha256 mismatch" in text and GOOD.sha256 in text
    assert "the file was removed" in text and "\n" not in text
    assert list((tmp_path / "dl").iterdir()) == []


def test_connection_cut_mid_file_leaves_nothing_half_written(server, tmp_path):
    base, files = server
    files["payload.bin"] = PAYLOAD
    with pytest.raises(
        DataError,
        match=r"payload\.bin: download failed from every mirror: "
        r".*/cut/payload\.bin: connection closed after 150000 of "
        r"300000 bytes",
    ):
        fetch(GOOD, [f"{base}/cut/"], tmp_path / "dl", progress=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_mirrors_are_tried_in_order_until_one_delivers(server, tmp_path):
    base, files = server
    files["payload.bin"] = PAYLOAD
    mirrors = [f"{base}/cut/", f"{base}/missing/", f"{base}/bad/", f"{base}/good/"]
    path = fetch(GOOD, mirrors, tmp_path / "dl", progress=True)
    assert path.read_bytes() == PAYLOAD
    assert [p.name for p in path.parent.iterdir()] == ["payload.bin"]


def test_unreachable_mirror_is_reported(tmp_path):
    with pytest.raises(DataError, match=r"127\.0\.0\.1:9/payload\.bin: cannot connect"):
        fetch(GOOD, ["http://127.0.0.1:9/"], tmp_path, progress=False, timeout=2)


def _published(dataset: Dataset, mnist_dir, cifar_archive) -> tuple[Path, tuple[int, int]]:
    """A folder of small files laid out as `dataset` publishes them, and (train, test) sizes."""
    if dataset.reader == "idx":
        return mnist_dir(n_train=60, n_test=20), (60, 20)
    if dataset.reader == "cifar":
        return cifar_archive(per_batch=12), (60, 12)
    raise AssertionError(f"write small published files for reader {dataset.reader!r} here")


@pytest.mark.parametrize("name", [n for n, d in CATALOG.items() if d.download is not None])
def test_a_downloadable_data_set_is_fetched_checked_and_unpacked_once_then_loads_offline(
    name, server, mnist_dir, cifar_archive, monkeypatch, cache
):
    base, files = server
    dataset = CATALOG[name]
    assert dataset.download is not None
    source, (n_train, n_test) = _published(dataset, mnist_dir, cifar_archive)
    remote = []
    for file in dataset.download.files:
        data = (source / file.name).read_bytes()
        files[file.name] = data
        remote.append(RemoteFile(file.name, hashlib.sha256(data).hexdigest()))
    mirrors = (f"{base}/cut/", f"{base}/good/")
    download = dataclasses.replace(dataset.download, mirrors=mirrors, files=tuple(remote))
    monkeypatch.setitem(CATALOG, name, dataclasses.replace(dataset, download=download))

    bundle = load_data({"name": name, "valid_fraction": 0.0}, progress=False)
    assert (len(bundle.train), len(bundle.test)) == (n_train, n_test)
    assert bundle.classes == list(dataset.classes)
    fetched = sorted(p.name for p in (cache / name).iterdir() if p.is_file())
    assert fetched == sorted(f.name for f in remote)
    unpacked = sorted((cache / name / "unpacked").glob("*"))
    assert len(unpacked) == (1 if download.unpack else 0)

    files.clear()  # offline from here: the cache serves, and nothing is unpacked again
    again = load_data({"name": name, "valid_fraction": 0.0}, progress=False)
    assert torch.equal(again.test.x, bundle.test.x) and torch.equal(again.train.y, bundle.train.y)
    copy = download_dataset(name, progress=False)
    assert copy is not None
    assert [(p.name, s) for p, s in copy.files] == [(f.name, f.sha256) for f in remote]
    assert all(sha256_of(p) == s for p, s in copy.files)
    assert sorted((cache / name / "unpacked").glob("*")) == unpacked
    assert [p.stat().st_ino for p in unpacked] == [
        p.stat().st_ino for p in (cache / name / "unpacked").glob("*")
    ]


def test_data_sets_without_download_are_named(capsys):
    assert download_dataset("digits") is None  # ships with scikit-learn
    with pytest.raises(ConfigError, match=r"^data\.name: 'folder' has nothing to download; "):
        download_dataset("folder")
    with pytest.raises(ConfigError, match=r"^data\.name: 'nope' has nothing to download; "):
        download_dataset("nope")


def test_verify_replaces_a_cached_file_whose_checksum_changed(server, tmp_path):
    base, files = server
    files["payload.bin"] = PAYLOAD
    dataset = Dataset("toy", "a toy", reader="idx", download=Download((f"{base}/good/",), (GOOD,)))
    directory = ensure_downloaded(dataset, tmp_path / "toy", progress=False)
    (directory / "payload.bin").write_bytes(b"corrupted")
    ensure_downloaded(dataset, directory, progress=False)
    assert (directory / "payload.bin").read_bytes() == b"corrupted"  # trusted without verify
    ensure_downloaded(dataset, directory, progress=False, verify=True)
    assert (directory / "payload.bin").read_bytes() == PAYLOAD


def _download_in_a_child(url: str, directory) -> subprocess.Popen:
    """A separate Python process fetching payload.bin from `url` into `directory`."""
    src = str(Path(nnstudy.__file__).resolve().parents[1])
    code = (
        "import sys; from pathlib import Path\n"
        "from nnstudy.config.datasets import RemoteFile\n"
        "from nnstudy.data.download import fetch\n"
        f"fetch(RemoteFile('payload.bin', {GOOD.sha256!r}), [{url!r}], Path({str(directory)!r}),"
        " progress=False)\n"
    )
    env = {**os.environ, "PYTHONPATH": src}
    return subprocess.Popen([sys.executable, "-c", code], env=env)


def _parts(directory) -> list[Path]:
    return sorted(directory.glob(".payload.bin.*.part"))


@pytest.mark.slow
def test_kill_9_mid_download_leaves_a_part_that_the_next_start_removes(server, tmp_path):
    base, files = server
    files["payload.bin"] = PAYLOAD
    files["other.bin"] = PAYLOAD[:1000]
    directory = tmp_path / "dl"
    child = _download_in_a_child(f"{base}/stall/", directory)
    try:
        deadline = time.monotonic() + 60
        while not (_parts(directory) and _parts(directory)[0].stat().st_size > 0):
            assert child.poll() is None and time.monotonic() < deadline, "no download started"
            time.sleep(0.05)
        other = RemoteFile("other.bin", hashlib.sha256(files["other.bin"]).hexdigest())
        fetch(other, [f"{base}/good/"], directory, progress=False)
        assert len(_parts(directory)) == 1  # a download in progress keeps its file
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert len(_parts(directory)) == 1  # what kill -9 leaves behind
    fetch(GOOD, [f"{base}/good/"], directory, progress=False)
    assert sorted(p.name for p in directory.iterdir()) == ["other.bin", "payload.bin"]
