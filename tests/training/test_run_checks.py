"""What `nnstudy.train` checks before it trains, so that a run that cannot end well fails
in a second, with one error and nothing written: the place `out` (it takes files, the disk
has room), the memory the model needs, the split early stopping watches. And what it cleans:
the temporary directory a killed run left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nnstudy import train
from nnstudy.data.memory import available_memory
from nnstudy.errors import ConfigError
from nnstudy.training.run_dir import check_disk_room, check_writable

CONFIG = {"data": {"name": "digits"}, "model": {"mlp": {"hidden": [8]}},
          "train": {"epochs": 1}}


def entries(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*")}


def _refuses_files(folder: Path) -> bool:
    try:
        (folder / "probe").write_text("x")
    except OSError:
        return True
    (folder / "probe").unlink()
    return False


@pytest.fixture
def read_only(tmp_path):
    """A directory no file can be written to: a chmod 0o555 directory, or (as root, who
    writes anyway) /sys where the system mounts it read-only."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if _refuses_files(folder):
            yield folder
        elif Path("/sys").is_dir() and _refuses_files(Path("/sys")):
            yield Path("/sys")
        else:
            pytest.skip("no directory here refuses files")
    finally:
        folder.chmod(0o755)


def test_an_out_in_a_read_only_directory_fails_before_training(read_only, tmp_path):
    # Before: the whole training ran, then writing the run directory failed (traceback).
    with pytest.raises(ConfigError, match=r"cannot write in .*choose another --out"):
        train(CONFIG, out=read_only / "run" / "deeper")
    assert not (read_only / "run").exists()


def test_an_out_below_a_file_fails_before_training(tmp_path):
    (tmp_path / "f").write_text("a file")
    with pytest.raises(ConfigError, match=r"f is a file, not a directory"):
        train(CONFIG, out=tmp_path / "f" / "run")
    assert entries(tmp_path) == {"f"}


def test_the_probe_leaves_nothing_behind(tmp_path):
    check_writable(tmp_path / "a" / "b")
    assert entries(tmp_path) == set()


def test_a_disk_without_room_for_the_model_is_refused(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(ConfigError, match=r"needs about .* but the disk has .* free"):
        check_disk_room(tmp_path / "run", free + (1 << 30))
    check_disk_room(tmp_path / "run", 1)


def test_a_model_too_large_for_memory_is_refused_before_it_is_built(tmp_path):
    # Before: a RuntimeError traceback from torch's allocator (hidden [1e9]).
    have = available_memory().bytes
    if have is None:
        pytest.skip("this machine does not say how much memory is available")
    hidden = 1000 * have // (4 * 64)  # far beyond memory: an allocation would fail at once
    config = {**CONFIG, "model": {"mlp": {"hidden": [hidden]}},
              "train": {"optimizer": "adam", "epochs": 1}, "device": "cpu"}
    with pytest.raises(ConfigError, match=r"^model: its [\d,]+ parameters, 5 float32 tensors "
                                          r"each to train .*2 of adam's state.* is available"):
        train(config, out=tmp_path / "run")
    assert entries(tmp_path) == set()


def test_early_stopping_on_a_validation_metric_of_files_without_one_names_both_keys(tmp_path):
    # An npz may hold x_valid, so the check waits for its files. Before: KeyError 'valid_loss'.
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.normal(size=(60, 5)).astype(np.float32), y=np.arange(60) % 3)
    config = {"data": {"name": "npz", "path": str(path), "valid_fraction": 0},
              "model": {"mlp": {"hidden": [4]}},
              "train": {"epochs": 2, "early_stopping": {"metric": "valid_loss"}}}
    with pytest.raises(ConfigError, match=r"^train.early_stopping.metric: valid_loss needs a "
                                          r"validation split.*data.valid_fraction is 0"):
        train(config, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


KILLED_WHILE_WRITING = textwrap.dedent("""
    import os, signal, sys
    import torch
    from nnstudy import train

    def killed(*args, **kwargs):  # the moment model.pt is written: kill -9
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = killed
    train({"data": {"name": "digits"}, "model": {"mlp": {"hidden": [8]}},
           "train": {"epochs": 1}}, out=sys.argv[1])
""")


def test_the_temporary_directory_of_a_killed_run_is_removed_by_the_next_run(tmp_path):
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING, str(runs / "a")],
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    left = [p.name for p in runs.iterdir()]
    assert len(left) == 1 and left[0].startswith(".a.")  # the half-written run directory
    train(CONFIG, out=runs / "b")
    # Before: `.a.XXXXXXXX` stayed in runs/ forever.
    assert sorted(p.name for p in runs.iterdir()) == ["b"]
