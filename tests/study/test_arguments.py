"""What `Study.run`, `resume` and `nnstudy study run | resume` take: worker and thread
counts of 1 or more, and a study name that is text, never a path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nnstudy.api import Study, resume
from nnstudy.cli import main
from nnstudy.errors import ConfigError
from nnstudy.study import status

TINY = {"data": {"name": "digits"}, "model": {"mlp": {"hidden": [4]}},
        "train": {"epochs": 1, "batch_size": 256}}


def files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


@pytest.mark.parametrize(("workers", "threads"), [(0, None), (-1, None), (None, 0),
                                                  (None, -2), (1, 0)])
def test_a_worker_or_thread_count_below_one_is_refused_before_anything_is_written(
        tmp_path, workers, threads):
    # Before: threads 0 failed every trial and was stored, so resume failed them again;
    # workers 0 ran (or died with ZeroDivisionError in the executor).
    study = Study.from_dict({"name": "t", **TINY})
    option = "workers" if workers is not None and workers < 1 else "threads"
    with pytest.raises(ConfigError, match=rf"^--{option}: -?\d+ is not a positive whole"):
        study.run(out=tmp_path / "s", workers=workers, threads=threads)
    assert not (tmp_path / "s").exists()


def test_resume_refuses_a_worker_count_below_one_and_leaves_the_study_as_it_is(tmp_path):
    out = tmp_path / "s"
    Study.from_dict({"name": "t", **TINY}).run(out=out, workers=1)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    with pytest.raises(ConfigError, match=r"^--workers: 0 is not a positive whole number"):
        resume(out, workers=0)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


@pytest.mark.parametrize("args", [["--workers", "0"], ["--threads", "0"], ["--threads", "-3"]])
def test_the_cli_refuses_them_with_one_line(tmp_path, capsys, args):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "t", **TINY}))
    with pytest.raises(SystemExit) as exit_:
        main(["study", "run", str(path), "--out", str(tmp_path / "s"), "-q", *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {args[0]}: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("name", "directory"),
    [("../../escape", "escape"), ("", "study"), ("a/b\nc", "a-b-c"), ("x" * 300, "x" * 100),
     ("..", "study")],
)
def test_the_study_name_is_never_used_as_a_path(tmp_path, monkeypatch, capsys, name, directory):
    # Before: `../../escape` wrote two levels above runs/, "" wrote into runs/ itself (or
    # runs-2/), "a/b\nc" made runs/a/ and a directory with a newline, and 300 characters
    # were an OSError traceback.
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    path = work / "s.yaml"
    path.write_text(yaml.safe_dump({"name": name, **TINY}))
    with pytest.raises(SystemExit) as exit_:
        main(["study", "run", str(path), "-q", "--workers", "1"])
    assert exit_.value.code == 0
    made = files(tmp_path) - {Path("a"), Path("a/b"), Path("a/b/s.yaml"), Path("a/b/runs")}
    assert made and all(p.parts[:4] == ("a", "b", "runs", directory) for p in made), made
    assert status(work / "runs" / directory)["name"] == name  # the name is kept as text
    capsys.readouterr()


def test_the_api_uses_the_same_directory_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = Study.from_dict({"name": "../up", **TINY}).run(workers=1)
    assert (tmp_path / "runs" / "up" / "study.db").is_file()
    assert result.spec.name == "../up"
