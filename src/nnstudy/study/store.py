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
"""

from __future__ import annotations

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

NOT_DONE = ("pending", "running", "failed")


class TrialStore:
    """Read and write a study's SQLite file. One writer (the study process) at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

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

    def epochs(self, trial_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT trial_id, epoch, split, loss, accuracy FROM epochs"
        args: tuple[Any, ...] = ()
        if trial_id is not None:
            sql += " WHERE trial_id=?"
            args = (trial_id,)
        cur = self.conn.execute(sql + " ORDER BY trial_id, epoch, split", args)
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


def open_store(study_dir: Path, must_exist: bool = False) -> TrialStore:
    path = Path(study_dir) / "study.db"
    if must_exist and not path.is_file():
        raise ConfigError(f"{study_dir}: no study here (no study.db)")
    return TrialStore(path)
