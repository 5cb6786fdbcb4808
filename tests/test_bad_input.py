"""Every bad input of issue 11, through the CLI: exit code 2, one line on stderr that names
what is wrong, no traceback, and nothing new or changed on disk.

Each case writes what it needs into a fresh directory (the working directory of the
command), takes a snapshot of it, runs `nnstudy ...` in-process through `nnstudy.cli.main`
(what the console script calls), and compares the directory with the snapshot.
"""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nnstudy.cli import main

GOOD_RUN = """\
data: {name: digits}
model: {mlp: {hidden: [8]}}
train: {epochs: 1}
"""

GOOD_STUDY = """\
name: tiny
data: {name: digits, valid_fraction: 0.2}
model: {mlp: {hidden: [8]}}
train: {epochs: 1}
grid: {train.lr: [0.01, 0.1]}
"""


def write(name: str, text: str) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        (d / name).write_text(textwrap.dedent(text))
    return setup


def setup_all(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        for step in steps:
            step(d)
    return setup


def empty_npz(d: Path) -> None:
    np.savez(d / "empty.npz", x=np.zeros((0, 4), np.float32), y=np.zeros((0,), np.int64))


def user_dir(d: Path) -> None:
    (d / "mine").mkdir()
    (d / "mine" / "results.csv").write_text("my own results\n")
    (d / "mine" / "notes.txt").write_text("keep me\n")


def garbage_db(d: Path) -> None:
    (d / "broken").mkdir()
    (d / "broken" / "study.db").write_bytes(b"this is not an SQLite file" * 40)


def truncated_db(d: Path) -> None:
    (d / "cut").mkdir()
    path = d / "cut" / "study.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE trials (id INTEGER PRIMARY KEY, config TEXT)")
        db.executemany("INSERT INTO trials (config) VALUES (?)", [("x" * 500,)] * 200)
    db.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def empty_db(d: Path) -> None:
    (d / "zero").mkdir()
    (d / "zero" / "study.db").write_bytes(b"")


def factories(d: Path) -> None:
    (d / "badimport_mod.py").write_text("import nosuchpackage_xyz\n")
    (d / "raises_mod.py").write_text(
        "def factory():\n    raise RuntimeError('the factory broke')\n")
    (d / "needsarg_mod.py").write_text(
        "from torch import nn\n\ndef factory(width):\n    return nn.Linear(width, 2)\n")


def a_file(d: Path) -> None:
    (d / "a_file").write_text("not a directory\n")


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]
    says: str                                  # a fragment of the one line
    setup: Callable[[Path], None] = lambda d: None


CASES = [
    # config files
    Case("empty config", ["train", "empty.yaml"], "empty.yaml",
         write("empty.yaml", "")),
    Case("null config", ["train", "null.yaml"], "null.yaml", write("null.yaml", "null\n")),
    Case("config without train block", ["train", "notrain.yaml", "--out", "run"], "train",
         write("notrain.yaml", "data: {name: digits}\nmodel: {mlp: {hidden: [8]}}\n"
               "train: null\n")),
    Case("epochs true", ["train", "run.yaml"], "epochs",
         write("run.yaml", GOOD_RUN.replace("epochs: 1", "epochs: true"))),
    Case("duplicate yaml key", ["train", "run.yaml"], "written twice",
         write("run.yaml", GOOD_RUN + "train: {epochs: 2}\n")),
    Case("hidden 1e9", ["train", "huge.yaml", "--out", "run"], "GiB is available",
         write("huge.yaml", GOOD_RUN.replace("[8]", "[1000000000]"))),
    Case("early stopping without a valid split", ["train", "es.yaml"], "valid",
         write("es.yaml", "data: {name: digits, valid_fraction: 0}\n"
               "model: {mlp: {hidden: [8]}}\n"
               "train: {epochs: 2, early_stopping: {metric: valid_loss}}\n")),
    Case("npz with 0 samples", ["train", "npz.yaml"], "empty.npz",
         setup_all(empty_npz, write("npz.yaml", "data: {name: npz, path: empty.npz}\n"
                                    "model: {mlp: {hidden: [8]}}\ntrain: {epochs: 1}\n"))),
    # where results go
    Case("--out is a file", ["train", "run.yaml", "--out", "a_file"], "a_file",
         setup_all(a_file, write("run.yaml", GOOD_RUN))),
    Case("--overwrite of a directory that is not a run",
         ["train", "run.yaml", "--out", "mine", "--overwrite"], "mine",
         setup_all(user_dir, write("run.yaml", GOOD_RUN))),
    # check and inspect with factories and shapes
    Case("factory that fails to import", ["check", "badimport_mod:factory"], "badimport_mod",
         factories),
    Case("factory that raises", ["inspect", "raises_mod:factory", "--input", "4"],
         "the factory broke", factories),
    Case("factory that needs an argument", ["check", "needsarg_mod:factory", "--input", "4"],
         "needsarg_mod", factories),
    Case("wrong --input for check", ["check", "lenet5", "--input", "3,5,5"], "smaller than window"),
    Case("--input with a letter", ["check", "mlp", "--input", "64,x"], "64,x"),
    # studies
    Case("grid over train.seed", ["study", "run", "s.yaml"], "seed",
         write("s.yaml", GOOD_STUDY.replace("train.lr: [0.01, 0.1]", "train.seed: [0, 1]"))),
    Case("duplicate grid values", ["study", "run", "s.yaml"], "0.01",
         write("s.yaml", GOOD_STUDY.replace("[0.01, 0.1]", "[0.01, 0.01]"))),
    Case("select valid_loss without a valid split", ["study", "run", "s.yaml"], "select",
         write("s.yaml", GOOD_STUDY.replace("valid_fraction: 0.2", "valid_fraction: 0")
               + "select: {metric: valid_loss}\n")),
    Case("grid key the optimizer does not have", ["study", "run", "s.yaml"], "rho",
         write("s.yaml", GOOD_STUDY.replace("train: {epochs: 1}",
                                            "train: {epochs: 1, optimizer: adam}")
               .replace("train.lr: [0.01, 0.1]", "train.rho: [0.5]"))),
    Case("--threads 0", ["study", "run", "s.yaml", "--threads", "0"], "--threads",
         write("s.yaml", GOOD_STUDY)),
    Case("--threads -1", ["study", "run", "s.yaml", "--threads", "-1"], "--threads",
         write("s.yaml", GOOD_STUDY)),
    Case("--workers 0", ["study", "run", "s.yaml", "--workers", "0"], "--workers",
         write("s.yaml", GOOD_STUDY)),
    Case("study run --out a directory of the user's",
         ["study", "run", "s.yaml", "--out", "mine"], "mine",
         setup_all(user_dir, write("s.yaml", GOOD_STUDY))),
    Case("resume of a missing directory", ["study", "resume", "nowhere"], "nowhere"),
    Case("resume of a directory that is not a study", ["study", "resume", "mine"], "mine",
         user_dir),
    Case("resume of a garbage study.db", ["study", "resume", "broken"], "study.db",
         garbage_db),
    Case("report of a truncated study.db", ["study", "report", "cut"], "study.db",
         truncated_db),
    Case("status of a 0-byte study.db", ["study", "status", "zero"], "study.db", empty_db),
    # data show
    Case("data show --out unwritable", ["data", "show", "digits", "--out", "a_file/x.png"],
         "a_file", a_file),
    Case("data show --per-class 100000", ["data", "show", "digits", "--per-class", "100000"],
         "--per-class"),
]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under `root` with its size and modification time (ns)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_on_disk(case, tmp_path, monkeypatch,
                                                          capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    case.setup(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(case.argv)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2, (out, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert case.says in lines[0], lines[0]
    after = {p: v for p, v in snapshot(tmp_path).items() if "__pycache__" not in p}
    assert after == before
