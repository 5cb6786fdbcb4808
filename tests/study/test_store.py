"""The study store and directory: a damaged study.db is named and left alone; a directory
that is not a study is never written to."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
import yaml

from nnstudy.api import Study
from nnstudy.cli import main
from nnstudy.errors import ConfigError
from nnstudy.study import load_result, resume, status
from nnstudy.study.store import schema_columns

STUDY = {
    "name": "tiny",
    "data": {"name": "digits", "valid_fraction": 0.2},
    "model": {"mlp": {"hidden": [8]}},
    "train": {"epochs": 1, "batch_size": 64},
    "grid": {"train.lr": [0.01, 0.1]},
    "seeds": [0],
}


def snapshot(directory) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def run_cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0


@pytest.fixture(scope="module")
def a_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("studies") / "s"
    Study.from_dict(STUDY).run(out=out, workers=1)
    return out


def drop_trials(db):
    con = sqlite3.connect(db)
    con.execute("DROP TABLE trials")
    con.commit()
    con.close()


def drop_spec(db):
    con = sqlite3.connect(db)
    con.execute("DELETE FROM meta WHERE key = 'spec'")
    con.commit()
    con.close()


DAMAGES = {
    "trials table dropped": (drop_trials, "no table 'trials'"),
    "spec missing": (drop_spec, "no 'spec' in table 'meta'"),
    "empty file": (lambda db: db.write_bytes(b""), "the file is empty"),
    "garbage": (lambda db: db.write_bytes(b"these are not the bytes of a database\n" * 200),
                "file is not a database"),
    "truncated": (lambda db: db.write_bytes(db.read_bytes()[: len(db.read_bytes()) // 2]),
                  "malformed"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_store_is_named_and_nothing_is_overwritten(tmp_path, a_study, capsys,
                                                             damage):
    out = tmp_path / "s"
    shutil.copytree(a_study, out)
    db = out / "study.db"
    make, detail = DAMAGES[damage]
    make(db)
    before = snapshot(out)
    with pytest.raises(ConfigError, match=detail) as info:
        load_result(out)
    assert str(db) in str(info.value)
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump(STUDY))
    for command in (["study", "report", str(out)], ["study", "status", str(out)],
                    ["study", "resume", str(out), "--workers", "1", "-q"],
                    ["study", "run", str(study_file), "--out", str(out), "-q"]):
        capsys.readouterr()
        assert run_cli(command) == 2, command
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and str(db) in err, (command, err)
    assert snapshot(out) == before


def test_the_schema_read_back_is_the_one_the_store_creates(a_study):
    con = sqlite3.connect(a_study / "study.db")
    tables = {t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    assert set(schema_columns()) == tables == {"meta", "trials", "epochs", "summaries"}
    assert {"id", "status", "config_json"} <= schema_columns()["trials"]


def test_resume_of_a_directory_that_is_not_a_study_creates_nothing(tmp_path, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="no study here"):
        resume(plain)
    assert run_cli(["study", "resume", str(plain)]) == 2
    assert [p.name for p in plain.iterdir()] == ["notes.txt"]
    capsys.readouterr()
    assert run_cli(["study", "resume", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {tmp_path / 'missing'}: no such directory"
    assert not (tmp_path / "missing").exists()
    with pytest.raises(ConfigError, match="no such directory"):
        status(tmp_path / "missing")


def test_a_study_is_not_written_into_a_directory_of_someone_elses_files(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "results.csv").write_text("my results")
    (out / "report.md").write_text("my report")
    before = snapshot(out)
    with pytest.raises(ConfigError, match="not empty and not a study"):
        Study.from_dict(STUDY).run(out=out, workers=1)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    assert run_cli(["study", "run", str(path), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "not empty and not a study (it holds report.md, results.csv)" in err
    assert len(err.strip().splitlines()) == 1
    assert snapshot(out) == before
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        Study.from_dict(STUDY).run(out=afile, workers=1)
    assert afile.read_text() == "x"


def test_a_study_may_go_into_an_empty_directory(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    one = dict(STUDY, grid={"train.lr": [0.1]})
    result = Study.from_dict(one).run(out=out, workers=1)
    assert list(result.trials["status"]) == ["done"]
    assert {"study.db", "results.csv", "report.md"} <= {p.name for p in out.iterdir()}
