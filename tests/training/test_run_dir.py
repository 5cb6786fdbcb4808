"""Where `nnstudy.train` may write: a new path, an empty directory, or (with overwrite) a
run directory it wrote before; anything else is refused and left exactly as it was."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from nnstudy import train
from nnstudy.errors import ConfigError
from nnstudy.training.run_dir import why_not_a_run_dir

CONFIG = {"data": {"name": "digits"}, "model": {"mlp": {"hidden": [8]}},
          "train": {"optimizer": "adam", "lr": 0.01, "epochs": 1}}


def snapshot(directory) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def a_run(tmp_path_factory):
    """A run directory as nnstudy writes it, to copy from."""
    out = tmp_path_factory.mktemp("runs") / "run"
    train(CONFIG, out=out)
    return out


def copy_run(a_run, target):
    target.mkdir()
    for name, data in snapshot(a_run).items():
        (target / name).write_bytes(data)
    return target


def test_a_directory_holding_a_users_file_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(ConfigError, match=r"already exists.*overwrite=True"):
        train(CONFIG, out=out)
    assert snapshot(out) == {"notes.txt": b"my notes"}


def test_a_file_as_out_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    out.write_text("not a directory")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="is a file"):
            train(CONFIG, out=out, overwrite=overwrite)
    assert out.read_text() == "not a directory"


def test_an_empty_directory_receives_the_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = train(CONFIG, out=out)
    assert result.out_dir == out
    assert sorted(snapshot(out)) == ["config.yaml", "metrics.csv", "model.pt",
                                   "report.html", "summary.json"]
    assert why_not_a_run_dir(out) is None


def test_overwrite_replaces_a_run_directory_with_the_new_run(tmp_path, a_run):
    out = copy_run(a_run, tmp_path / "out")
    train({**CONFIG, "train": {**CONFIG["train"], "lr": 0.05}}, out=out, overwrite=True)
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["lr"] == 0.05
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left beside it


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: (d / "notes.txt").write_text("mine"), "it holds notes.txt"),
        (lambda d: (d / "summary.json").unlink(), "it has no summary.json"),
        (lambda d: (d / "summary.json").write_text(json.dumps({"my": "data"})),
         "its summary.json is not one nnstudy wrote"),
        (lambda d: (d / "summary.json").write_text("{not json"),
         "its summary.json is not one nnstudy wrote"),
        (lambda d: (d / "metrics.csv").write_text("a,b\n1,2\n"),
         "its metrics.csv is not one nnstudy wrote"),
        (lambda d: (d / "model.pt").unlink() or (d / "model.pt").mkdir(), "it holds model.pt"),
    ],
)
def test_overwrite_refuses_what_is_not_recognisably_a_run(tmp_path, a_run, damage, reason):
    out = copy_run(a_run, tmp_path / "out")
    damage(out)
    before = snapshot(out)
    assert why_not_a_run_dir(out) == reason
    with pytest.raises(ConfigError, match="not a run directory"):
        train(CONFIG, out=out, overwrite=True)
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_run_directory_without_its_weights_is_still_one(tmp_path, a_run):
    out = copy_run(a_run, tmp_path / "out")
    (out / "model.pt").unlink()
    assert why_not_a_run_dir(out) is None


def test_a_run_with_log_every_writes_steps_csv_as_its_result_reads_it(tmp_path):
    out = tmp_path / "out"
    config = {**CONFIG, "train": {**CONFIG["train"], "log_every": 5, "l2": 0.001}}
    result = train(config, out=out)
    frame = pd.read_csv(out / "steps.csv")
    assert list(frame.columns) == ["step", "epoch", "train_loss_running",
                                   "train_regularized_loss_running"]
    assert list(result.steps.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(frame, result.steps, check_dtype=False)
    assert list(frame["step"]) == list(range(5, result.summary["steps_run"] + 1, 5))
    assert why_not_a_run_dir(out) is None  # and so it can be overwritten
    train(CONFIG, out=out, overwrite=True)
    assert not (out / "steps.csv").exists()


def test_without_log_every_the_steps_frame_is_empty_with_its_columns():
    result = train(CONFIG)
    assert result.steps.empty
    assert list(result.steps.columns) == ["step", "epoch", "train_loss_running"]
