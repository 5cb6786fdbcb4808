"""The local executor survives a worker process that dies: the pool is started again and the
lost units rerun, each alone (so a death is its own), every unit is reported started and
finished exactly once, and a unit whose workers keep dying fails alone after its attempts
while the units that shared its pool finish.

The unit function is a real module in a temporary directory, put on the import path after the
fork server started (workers take the study process's path as they start, and import it by
name); it kills its own process with SIGKILL, as the kernel's OOM killer or `kill -9` would.
"""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from nnstudy.study.executors.base import UnitEvents
from nnstudy.study.executors.local import LocalExecutor

UNIT = textwrap.dedent("""
    import os, signal, time
    from pathlib import Path

    def unit(payload):
        # payload["die"]: how many times this unit kills its worker before it succeeds
        marks = Path(payload["dir"]) / payload["group"]
        marks.mkdir(exist_ok=True)
        runs = len(list(marks.iterdir()))
        (marks / str(runs)).touch()
        if runs < payload["die"]:
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGKILL)
        return {"group": payload["group"], "results": [payload["group"] + " ok"],
                "pid": os.getpid()}
""")


@pytest.fixture
def unit(tmp_path, monkeypatch):
    (tmp_path / "dying_unit.py").write_text(UNIT)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("dying_unit")
    yield module.unit
    sys.modules.pop("dying_unit", None)


def _run(tmp_path, unit, dies: dict[str, int], workers: int = 2, max_attempts: int = 3):
    started: list[str] = []
    finished: dict[str, list[dict]] = {}
    events = UnitEvents(started=lambda p: started.append(p["group"]),
                        finished=lambda p, o: finished.setdefault(p["group"], []).append(o),
                        epoch=lambda *a: None)
    payloads = [{"group": g, "die": n, "dir": str(tmp_path)} for g, n in dies.items()]
    stats = LocalExecutor(workers, max_attempts=max_attempts, unit=unit).run(
        payloads, 1, events)
    return started, finished, stats


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_unit_runs_again(tmp_path, unit):
    started, finished, stats = _run(tmp_path, unit, {"g0": 0, "g1": 1, "g2": 0, "g3": 0})
    assert sorted(started) == ["g0", "g1", "g2", "g3"]  # each announced once
    assert {g: [o.get("results") for o in outs] for g, outs in finished.items()} == {
        g: [[f"{g} ok"]] for g in ("g0", "g1", "g2", "g3")}  # each finished exactly once
    assert stats["pools"] >= 2 and stats["worker_deaths"].get("g1", 0) <= 1
    assert set(stats["worker_deaths"]) <= {"g1"}  # no other unit is blamed
    assert len(list((tmp_path / "g1").iterdir())) == 2  # died once, ran once more


@pytest.mark.slow
def test_a_unit_whose_workers_keep_dying_fails_alone_after_its_attempts(tmp_path, unit):
    dies = {"bad": 99, "good0": 0, "good1": 0, "good2": 0}
    started, finished, stats = _run(tmp_path, unit, dies, max_attempts=2)
    assert sorted(started) == sorted(dies)
    for good in ("good0", "good1", "good2"):  # in a pool that broke, never blamed for it
        [outcome] = finished[good]
        assert outcome["results"] == [f"{good} ok"]
    [failure] = finished["bad"]
    assert failure == {"group": "bad", "error": "worker died 2 times running this unit"}
    assert stats["worker_deaths"] == {"bad": 2}
    # bounded: 2 deaths of its own, and at most one run in a pool shared with others
    assert len(list((tmp_path / "bad").iterdir())) in (2, 3)


STUDY = """\
name: long
data: {name: digits, valid_fraction: 0.2}
model: {mlp: {hidden: [64]}}
train: {epochs: 2000, batch_size: 16}
grid: {train.lr: [0.01, 0.05]}
max_group_size: 1
"""


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _alive(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat").split()
    return len(stat) > 2 and stat[2] != "Z"


def _descendants(pid: int) -> list[int]:
    """Children, grandchildren, ...: workers are children of the fork server."""
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out.extend(kids)
        todo.extend(kids)
    return out


def _is_worker(pid: int) -> bool:
    """A worker, not the fork server: a fork of the server, whose parent is the server."""
    cmdline = _read(f"/proc/{pid}/cmdline")
    if "spawn_main" in cmdline:
        return True
    stat = _read(f"/proc/{pid}/stat").rsplit(")", 1)[-1].split()
    parent = int(stat[1]) if len(stat) > 1 else 0
    return "forkserver" in cmdline and "forkserver" in _read(f"/proc/{parent}/cmdline")


def _children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    try:
        with open(path) as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_the_workers_at_once_and_leaves_a_resumable_study(tmp_path):
    import os
    import signal
    import sqlite3
    import subprocess
    import time

    (tmp_path / "long.yaml").write_text(STUDY)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from nnstudy.cli import main; main()", "study", "run",
         "long.yaml", "--out", "s", "--workers", "2", "--executor", "local", "-q"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2:  # both workers started
        time.sleep(0.5)
        workers = [p for p in _descendants(proc.pid) if _is_worker(p)]
    assert len(workers) == 2, "the workers did not start"
    time.sleep(2)
    os.kill(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)  # not the 2,000 epochs of the units
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "nnstudy study resume s" in err + out
    assert not [p for p in workers if _alive(p)]
    with sqlite3.connect(tmp_path / "s" / "study.db") as db:
        statuses = [s for (s,) in db.execute("SELECT status FROM trials")]
    assert statuses and "done" not in statuses  # nothing finished, all left for resume


@pytest.mark.slow
def test_workers_report_each_units_epochs_to_the_display(tmp_path):
    """Epoch events reach the study process while units run: each a real unit's, epochs in
    order (the display drops those that arrive after their unit finished)."""
    import json as _json

    from nnstudy.config.study import load_study
    from nnstudy.study.runner import Study

    study = Study(load_study({"name": "epochs", "data": {"name": "digits"},
                              "model": {"mlp": {"hidden": [32]}},
                              "train": {"epochs": 6, "batch_size": 32},
                              "grid": {"train.lr": [0.05, 0.1]}, "max_group_size": 1}))
    payloads = [{"group": gid, "threads": 1,
                 "trials": [(p.trial_id, p.spec.model_dump_json()) for p in plans]}
                for gid, plans in study.work_units().items()]
    seen: list[tuple[str, int, int]] = []
    finished: list[str] = []
    events = UnitEvents(started=lambda p: None,
                        finished=lambda p, o: finished.append(p["group"]),
                        epoch=lambda u, e, n: seen.append((u, e, n)))
    stats = LocalExecutor(2).run(payloads, 1, events)
    assert sorted(finished) == sorted(p["group"] for p in payloads)
    assert seen, "no epoch event reached the study process"
    for unit in {u for u, _, _ in seen}:
        epochs = [e for u, e, n in seen if u == unit]
        assert unit in finished and epochs == sorted(epochs) and set(epochs) <= set(range(1, 7))
    assert {n for _, _, n in seen} == {6}
    _json.dumps(stats)  # the record the store keeps


WHERE = textwrap.dedent("""
    import os

    def unit(payload):
        return {"group": payload["group"], "results": [],
                "cwd": os.getcwd(), "env": os.environ.get("NNSTUDY_TEST_MARK")}
""")


@pytest.mark.slow
def test_workers_take_the_study_processs_directory_and_environment(tmp_path, monkeypatch):
    """Workers fork from a server started earlier, in another directory and environment:
    each takes over those of the study process as it starts, as a spawned worker would
    (a relative data root, a variable such as CUDA_VISIBLE_DEVICES)."""
    from nnstudy.study.executors.local import start_worker_server

    start_worker_server()  # started before the changes below
    (tmp_path / "where_unit.py").write_text(WHERE)
    monkeypatch.syspath_prepend(str(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("NNSTUDY_TEST_MARK", "set after the server started")
    outcomes: list[dict] = []
    events = UnitEvents(started=lambda p: None, finished=lambda p, o: outcomes.append(o),
                        epoch=lambda *a: None)
    unit = importlib.import_module("where_unit").unit
    try:
        LocalExecutor(2, unit=unit).run([{"group": "a"}, {"group": "b"}], 1, events)
    finally:
        sys.modules.pop("where_unit", None)
    assert len(outcomes) == 2
    for outcome in outcomes:
        assert outcome["cwd"] == str(work)
        assert outcome["env"] == "set after the server started"
