"""The study store: one SQLite file (WAL) holding the study, its trials, epochs and summaries.

Tables:
- `meta(key, value)`: the study spec (JSON), the thread count fixed for every group, times;
- `trials(id, position, grp, variant, seed, label, keys_json, config_json, status, error,
  started, finished)`: status is pending, running, done, diverged or failed;
- `epochs(trial_id, epoch, split, loss, accuracy)`;
- `summaries(trial_id, summary_json)`.

A trial is done when its summary commits: the epochs, the summary and the status of a
group's trials are written in one transaction, so a kill at any moment leaves every trial
either done with all its rows or not done with none.

An existing file is checked before anything reads or writes it: an SQLite database that
passes `PRAGMA quick_check`, with every table and column of the schema, and the study's
spec and thread count in `meta`. A file that is not (empty, truncated, another file, a
table dropped) is a ConfigError naming it, and is left as it is.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nnstudy.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, grp TEXT NOT NULL, variant TEXT NOT NULL,
    seed INTEGER NOT NULL, label TEXT NOT NULL, keys_json TEXT NOT NULL,
    config_json TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', error TEXT,
    started REAL, finished REAL
);
CREATE TABLE IF NOT EXISTS epochs (
    trial_id TEXT NOT NULL REFERENCES trials(id), epoch INTEGER NOT NULL,
    split TEXT NOT NULL, loss REAL, accuracy REAL, PRIMARY KEY (trial_id, epoch, split)
);
CREATE TABLE IF NOT EXISTS summaries (
    trial_id TEXT PRIMARY KEY REFERENCES trials(id), summary_json TEXT NOT NULL
);
"""

REQUIRED_META = ("spec", "threads")  # written with the trials when a study is created

NOT_DONE = ("pending", "running", "failed")


@functools.cache
def schema_columns() -> dict[str, frozenset[str]]:
    """Table -> column names, as SCHEMA creates them (read back from an in-memory database,
    so that SCHEMA stays the one statement of the layout)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(SCHEMA)
        return _columns(conn)
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection) -> dict[str, frozenset[str]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {t: frozenset(r[1] for r in conn.execute(f"PRAGMA table_info('{t}')"))
            for t in tables}


class TrialStore:
    """Read and write a study's SQLite file. One writer (the study process) at a time.

    `create=True` makes a new store (the file must not exist yet); otherwise the file must
    be a complete study store, checked before anything is written to it.
    """

    def __init__(self, path: str | Path, create: bool = False) -> None:
        self.path = Path(path)
        if not create:
            _check_file(self.path)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            if not create:
                self._check()
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise _damaged(self.path, str(exc)) from None
        except BaseException:
            self.conn.close()
            raise

    def _check(self) -> None:
        """Raise a ConfigError naming the file unless it holds a complete study store."""
        problems = [r[0] for r in self.conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise _damaged(self.path, problems[0])
        found = _columns(self.conn)
        for table, columns in schema_columns().items():
            if table not in found:
                raise _damaged(self.path, f"no table {table!r}")
            missing = sorted(columns - found[table])
            if missing:
                raise _damaged(self.path, f"table {table!r} has no column {missing[0]!r}")
        keys = {r[0] for r in self.conn.execute("SELECT key FROM meta")}
        missing = [k for k in REQUIRED_META if k not in keys]
        if missing:
            raise _damaged(self.path, f"no {missing[0]!r} in table 'meta' (was its creation "
                                      "interrupted?)")

    def close(self) -> None:
        self.conn.close()

    # -- writing ----------------------------------------------------------------------
    def _tx(self):
        return _Transaction(self.conn)

    def set_meta(self, **values: Any) -> None:
        with self._tx():
            for key, value in values.items():
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                  (key, json.dumps(value)))

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def add_trials(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert planned trials (pending); existing ids are left as they are."""
        with self._tx():
            self.conn.executemany(
                "INSERT OR IGNORE INTO trials (id, position, grp, variant, seed, label, "
                "keys_json, config_json) VALUES (:id, :position, :grp, :variant, :seed, "
                ":label, :keys_json, :config_json)",
                list(rows),
            )

    def mark_running(self, ids: Sequence[str]) -> None:
        with self._tx():
            self.conn.executemany(
                "UPDATE trials SET status='running', started=?, error=NULL WHERE id=?",
                [(time.time(), i) for i in ids])

    def mark_failed(self, ids: Sequence[str], error: str) -> None:
        with self._tx():
            self.conn.executemany(
                "UPDATE trials SET status='failed', error=?, finished=? WHERE id=?",
                [(error, time.time(), i) for i in ids])

    def commit_results(self, results: Sequence[dict[str, Any]]) -> None:
        """Write a group's results in one transaction: each dict has `id`, `status`,
        `history` (rows epoch, split, loss, accuracy) and `summary`."""
        with self._tx():
            for r in results:
                self.conn.execute("DELETE FROM epochs WHERE trial_id=?", (r["id"],))
                self.conn.executemany(
                    "INSERT INTO epochs VALUES (?, ?, ?, ?, ?)",
                    [(r["id"], h["epoch"], h["split"], h["loss"], h["accuracy"])
                     for h in r["history"]])
                self.conn.execute("INSERT OR REPLACE INTO summaries VALUES (?, ?)",
                                  (r["id"], json.dumps(r["summary"])))
                self.conn.execute(
                    "UPDATE trials SET status=?, error=NULL, finished=? WHERE id=?",
                    (r["status"], time.time(), r["id"]))

    # -- reading ----------------------------------------------------------------------
    def trials(self) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT t.id, t.position, t.grp, t.variant, t.seed, t.label, t.keys_json, "
            "t.config_json, t.status, t.error, t.started, t.finished, s.summary_json "
            "FROM trials t LEFT JOIN summaries s ON s.trial_id = t.id ORDER BY t.position")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM trials GROUP BY status"))

    def not_done(self) -> list[dict[str, Any]]:
        return [t for t in self.trials() if t["status"] in NOT_DONE]

    def epochs(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT trial_id, epoch, split, loss, accuracy FROM epochs "
                                "ORDER BY trial_id, epoch, split")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"{path}: not a file; a study store is an SQLite file")
    if path.stat().st_size == 0:
        raise _damaged(path, "the file is empty")


def _damaged(path: Path, detail: str) -> ConfigError:
    return ConfigError(f"{path}: not a readable study store ({detail}); it was left as it "
                       "is: restore it from a copy, or run the study again into a new "
                       "directory")


def open_store(study_dir: str | Path, must_exist: bool = False) -> TrialStore:
    """The store of `study_dir`: the existing one (checked), or a new one when there is no
    study.db yet and `must_exist` is False."""
    study_dir = Path(study_dir)
    path = study_dir / "study.db"
    if path.exists():
        return TrialStore(path)
    if must_exist:
        require_study_dir(study_dir)
    return TrialStore(path, create=True)


def require_study_dir(study_dir: str | Path) -> Path:
    """`study_dir` if it is a directory holding a study.db; else a ConfigError that says
    what it is. Nothing is created."""
    study_dir = Path(study_dir)
    if not study_dir.exists():
        raise ConfigError(f"{study_dir}: no such directory")
    if not study_dir.is_dir():
        raise ConfigError(f"{study_dir}: not a directory; a study is a directory with study.db")
    if not (study_dir / "study.db").exists():
        raise ConfigError(f"{study_dir}: no study here (no study.db)")
    return study_dir


def check_new_study_dir(study_dir: str | Path) -> None:
    """Refuse a place a new study must not be written to: a file, or a directory that is
    not empty (a study there is refused by `Study.run` with its own message; anything else
    is someone's files, which a study's results.csv and report.md would replace)."""
    study_dir = Path(study_dir)
    if study_dir.exists() and not study_dir.is_dir():
        raise ConfigError(f"{study_dir}: is a file, not a directory; give a new or empty "
                          "directory for the study")
    if study_dir.is_dir():
        names = sorted(p.name for p in study_dir.iterdir())
        if names:
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            raise ConfigError(f"{study_dir}: not empty and not a study (it holds {shown}); "
                              "give a new or empty directory for the study; nothing was "
                              "written")
