"""The Ray executor on a real two-node cluster (conftest.py): the same numbers as the local
executor, a killed Ray worker retried, a killed driver resumed locally, Ctrl-C resumable."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nnstudy.api import Study
from nnstudy.api import resume as resume_study
from nnstudy.study import status
from nnstudy.study.executors.ray import RayExecutor
from nnstudy.study.store import open_store

pytestmark = pytest.mark.slow

# 4 units of 2 trials (max_group_size 2) on the cluster's 2 CPUs: two rounds of units, each
# long enough (300 epochs, a few seconds) to be killed while it runs.
STUDY = {
    "name": "ray-tiny",
    "data": {"name": "digits", "valid_fraction": 0.2},
    "model": {"mlp": {"hidden": [16]}},
    "train": {"epochs": 300, "batch_size": 64},
    "grid": {"train.optimizer": ["sgd", "adam"], "train.lr": [0.01, 0.1]},
    "seeds": [0, 1],
    "max_group_size": 2,
}
COLUMNS = ["status", "best_epoch", "epochs_run", "group"]
TIMEOUT_S = 300


def numbers(trials: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in trials.columns if c.startswith(("best_", "final_"))] + COLUMNS
    return trials.set_index("trial_id").sort_index()[cols]


@pytest.fixture(scope="module")
def study_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ray-study") / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    return path


@pytest.fixture(scope="module")
def local_numbers(study_file, tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("ray-local") / "s"
    trials = Study.from_yaml(study_file).run(out=out, workers=2, executor="local").trials
    assert trials["status"].eq("done").all()
    return numbers(trials)


def assert_each_trial_recorded_once(out: Path) -> None:
    con = sqlite3.connect(out / "study.db")
    try:
        rows = con.execute("SELECT t.id, t.status, COUNT(e.trial_id) FROM trials t LEFT JOIN "
                           "epochs e ON e.trial_id = t.id GROUP BY t.id").fetchall()
    finally:
        con.close()
    assert len(rows) == 8
    # epochs 0 (before training) to 300, x 3 splits (train, valid, test), each once
    assert all(status == "done" and n == 301 * 3 for _, status, n in rows), rows


def test_a_study_on_the_cluster_equals_the_local_executor_per_trial(
        ray_cluster, study_file, local_numbers, tmp_path):
    out = tmp_path / "ray"
    trials = Study.from_yaml(study_file).run(out=out, executor="ray",
                                             address=ray_cluster.address).trials
    pd.testing.assert_frame_equal(numbers(trials), local_numbers, check_exact=True)
    assert_each_trial_recorded_once(out)
    store = open_store(out)
    (execution,) = store.meta()["executions"]
    store.close()
    assert execution["executor"] == "ray" and execution["nodes"] == 2
    assert len(execution["unit_timings"]) == 4


def run_killing_one_unit(study_file: Path, out: Path, address: str,
                         executor: str | RayExecutor = "ray") -> tuple[pd.DataFrame, str]:
    """Run the study on the cluster while a thread kills the Ray worker process of the
    first unit it sees running (its pid from Ray's state API); the trials and that unit's
    task name."""
    from ray.util.state import list_tasks

    killed: list[str] = []
    stop = threading.Event()

    def kill_one_running_unit() -> None:
        while not stop.is_set():
            try:
                running = list_tasks(address=address, detail=True,
                                     filters=[("state", "=", "RUNNING")])
            except Exception:  # the state API answers once the driver has started
                running = []
            for task in running:
                if task.name.startswith("nnstudy:") and task.worker_pid:
                    os.kill(task.worker_pid, signal.SIGKILL)
                    killed.append(task.name)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_running_unit, daemon=True)
    killer.start()
    try:
        trials = Study.from_yaml(study_file).run(out=out, executor=executor,
                                                 address=address).trials
    finally:
        stop.set()
        killer.join(timeout=30)
    assert killed, "no unit was seen running, so none was killed"
    return trials, killed[0]


def test_a_killed_ray_worker_is_retried_and_every_trial_is_recorded_once(
        ray_cluster, study_file, local_numbers, tmp_path):
    from ray.util.state import list_tasks

    out = tmp_path / "ray"
    trials, name = run_killing_one_unit(study_file, out, ray_cluster.address)
    pd.testing.assert_frame_equal(numbers(trials), local_numbers, check_exact=True)
    assert_each_trial_recorded_once(out)
    attempts = list_tasks(address=ray_cluster.address, detail=True,
                          filters=[("name", "=", name)])
    assert max(t.attempt_number for t in attempts) >= 1  # Ray ran the unit again


def test_when_retries_are_spent_the_units_trials_fail_with_the_error_and_the_study_goes_on(
        ray_cluster, study_file, local_numbers, tmp_path):
    out = tmp_path / "ray"
    trials, name = run_killing_one_unit(study_file, out, ray_cluster.address,
                                        RayExecutor(ray_cluster.address, max_retries=0))
    unit = name.removeprefix("nnstudy:")
    failed = trials[trials["status"] == "failed"]
    assert set(failed["group"]) == {unit} and len(failed) == 2
    assert failed["error"].str.startswith("ray: ").all()
    assert trials[trials["group"] != unit]["status"].eq("done").all()
    resumed = resume_study(out, executor="inprocess").trials  # reruns that unit alone
    pd.testing.assert_frame_equal(numbers(resumed), local_numbers, check_exact=True)
    assert_each_trial_recorded_once(out)


def run_driver(study_file: Path, out: Path, env: dict[str, str], address: str
               ) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from nnstudy.cli import main; main()", "study", "run",
         str(study_file), "--out", str(out), "--executor", "ray", "--address", address, "-q"],
        env=dict(env, PYTHONUNBUFFERED="1"), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)


def wait_for_committed_units(proc: subprocess.Popen, db: Path, n: int) -> None:
    deadline = time.time() + TIMEOUT_S
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=1)
                done = con.execute("SELECT COUNT(DISTINCT grp) FROM trials WHERE status IN "
                                   "('done', 'diverged')").fetchone()[0]
                con.close()
            except sqlite3.Error:
                done = 0
            if done >= n:
                return
        time.sleep(0.05)
    raise AssertionError(f"the driver did not commit {n} unit(s) in time "
                         f"(exit code {proc.poll()})")


def test_a_driver_killed_midway_resumes_with_the_local_executor_to_the_same_numbers(
        ray_cluster, study_file, local_numbers, tmp_path):
    out = tmp_path / "killed"
    proc = run_driver(study_file, out, ray_cluster.env, ray_cluster.address)
    try:
        wait_for_committed_units(proc, out / "study.db", 1)
    finally:
        proc.kill()  # SIGKILL
        proc.communicate()
    assert status(out)["groups_not_done"] >= 1, "the study finished before it was killed"
    trials = resume_study(out, executor="local", workers=2).trials
    pd.testing.assert_frame_equal(numbers(trials), local_numbers, check_exact=True)
    assert_each_trial_recorded_once(out)


def test_ctrl_c_cancels_the_units_exits_130_and_the_study_resumes_on_the_cluster(
        ray_cluster, study_file, local_numbers, tmp_path):
    out = tmp_path / "interrupted"
    proc = run_driver(study_file, out, ray_cluster.env, ray_cluster.address)
    try:
        wait_for_committed_units(proc, out / "study.db", 1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert f"interrupted; continue with `nnstudy study resume {out}`" in err
    assert status(out)["groups_not_done"] >= 1
    trials = resume_study(out, executor="ray", address=ray_cluster.address).trials
    pd.testing.assert_frame_equal(numbers(trials), local_numbers, check_exact=True)
    assert_each_trial_recorded_once(out)
