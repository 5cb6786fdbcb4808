"""Running studies: plans, grouping, the store, kill -9 and resume, bad study files."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from nnstudy.api import Study
from nnstudy.cli import main
from nnstudy.config.study import load_study, plan_trials
from nnstudy.errors import ConfigError
from nnstudy.study import resume, status
from nnstudy.study.runner import DEFAULT_THREADS
from nnstudy.study.store import open_store

STUDY = {
    "name": "tiny",
    "data": {"name": "digits", "valid_fraction": 0.2},
    "model": {"mlp": {"hidden": [16]}},
    "train": {"epochs": 3, "batch_size": 64},
    "grid": {"train.optimizer": ["sgd", "adam"], "train.lr": [0.01, 0.1]},
    "seeds": [0, 1],
}


def write_study(tmp_path: Path, study: dict | None = None) -> Path:
    import yaml

    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study or STUDY))
    return path


def test_trial_ids_are_stable_and_derived_from_grid_position_and_seed():
    plans = plan_trials(load_study(STUDY))
    assert [p.trial_id for p in plans] == [
        "g000-s0", "g000-s1", "g001-s0", "g001-s1", "g002-s0", "g002-s1", "g003-s0", "g003-s1"]
    assert [p.trial_id for p in plan_trials(load_study(STUDY))] == [p.trial_id for p in plans]
    assert plans[2].spec.train.lr == 0.1 and plans[2].spec.train.optimizer == "sgd"
    assert plans[3].spec.train.seed == 1


def test_trials_sharing_architecture_and_optimizer_form_one_group():
    study = Study(load_study(STUDY))
    sizes = sorted(len(g) for g in study.groups.values())
    assert sizes == [4, 4]  # sgd: 2 lrs x 2 seeds; adam likewise


def test_variants_patch_the_config_and_name_the_trials():
    spec = dict(STUDY, grid={"train.lr": [0.1]}, seeds=[0],
                variants=[{"name": "one-layer", "set": {"model": {"mlp": {"hidden": [8]}}}},
                          {"name": "two-layers", "set": {"model": {"mlp": {"hidden": [8, 8]}}}}])
    plans = plan_trials(load_study(spec))
    assert [p.trial_id for p in plans] == ["v0-g000-s0", "v1-g000-s0"]
    assert plans[1].spec.model["mlp"]["hidden"] == [8, 8]
    assert plans[1].label == "two-layers train.lr=0.1"


@pytest.mark.parametrize(
    ("patch", "text"),
    [
        ({"grid": {"train.lrr": [0.1]}}, "grid.train.lrr: 'train.lrr' is not a key of the run config"),
        ({"grid": {"train.lr": []}}, "grid.train.lr: empty list of values"),
        ({"grid": {"train.lr": [0.1, "fast"]}}, "grid.train.lr[1]:"),
        ({"grid": {"train.optimizer": ["adamm"]}}, "grid.train.optimizer[0]: 'adamm' is not"),
        ({"select": {"metric": "valid_los"}}, "select.metric: 'valid_los' is not one of"),
        ({"select": {"per": ["train.momentum"]}}, "select.per[0]: 'train.momentum' is not a"),
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"gird": {}}, "gird: unknown key"),
    ],
)
def test_bad_study_files_name_the_key_and_write_nothing(tmp_path, capsys, patch, text):
    path = write_study(tmp_path, {**STUDY, **patch})
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(["study", "run", str(path), "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert text in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_study_runs_stores_and_reports(tmp_path):
    result = Study(load_study(STUDY)).run(out=tmp_path / "s", workers=1)
    trials = result.trials
    assert len(trials) == 8 and set(trials["status"]) <= {"done", "diverged"}
    assert trials["best_test_accuracy"].notna().all()
    db = sqlite3.connect(tmp_path / "s" / "study.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    n_epochs = db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0]
    assert n_epochs == sum(3 * (r + 1) for r in trials["epochs_run"])  # 3 splits, epoch 0..n
    assert (tmp_path / "s" / "report.md").read_text().startswith("# Study report: tiny")
    csv = pd.read_csv(tmp_path / "s" / "results.csv")
    assert list(csv["trial_id"]) == list(trials["trial_id"])
    # keep_models: best keeps the weights of the best seed of the selected configuration
    winner = trials[trials["config"] == result.best()["config"].iloc[0]]
    best_seed = winner.loc[winner["best_valid_loss"].idxmin(), "trial_id"]
    assert [p.stem for p in (tmp_path / "s" / "models").glob("*.pt")] == [best_seed]
    best = result.best(per=["train.optimizer"])
    assert len(best) == 2
    assert status(tmp_path / "s")["counts"] == trials["status"].value_counts().to_dict()


def test_a_second_run_on_the_same_directory_refuses(tmp_path):
    Study(load_study(dict(STUDY, grid={"train.lr": [0.1]}, seeds=[0]))).run(
        out=tmp_path / "s", workers=1)
    with pytest.raises(ConfigError, match="already holds a study"):
        Study(load_study(STUDY)).run(out=tmp_path / "s", workers=1)


def test_a_failing_group_marks_its_trials_failed_and_the_study_goes_on(tmp_path):
    spec = dict(STUDY, grid={"model": [{"mlp": {"hidden": [8]}},
                                       [{"conv": {"out": 4, "kernel": 3}}, "flatten",
                                        {"linear": 10}]]},
                data={"name": "digits", "transforms": ["flatten"]}, seeds=[0])
    result = Study(load_study(spec)).run(out=tmp_path / "s", workers=1)
    by_status = dict(zip(result.trials["trial_id"], result.trials["status"], strict=True))
    assert by_status == {"g000-s0": "done", "g001-s0": "failed"}
    assert "needs a C x H x W input" in result.trials["error"].iloc[1]


# Long enough (12 epochs a unit) that the kill lands while units are still running: the
# workers start within a tenth of a second, and 4 epochs once ended before the kill.
KILL_STUDY = dict(STUDY, grid={"train.optimizer": ["sgd", "adam", "rmsprop", "momentum"],
                               "train.lr": [0.01, 0.1]}, train={"epochs": 12, "batch_size": 64})


@pytest.mark.slow
def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path):
    path = write_study(tmp_path, KILL_STUDY)
    full = Study.from_yaml(path).run(out=tmp_path / "full", workers=2, threads=1).trials

    killed = tmp_path / "killed"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from nnstudy.cli import main; main()", "study", "run",
         str(path), "--out", str(killed), "--workers", "2", "--threads", "1", "-q"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = killed / "study.db"
    deadline = time.time() + 120
    rng = random.Random(7)
    target = rng.choice([1, 2])  # kill after one or two groups have committed
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=1)
                done = con.execute(
                    "SELECT COUNT(DISTINCT grp) FROM trials WHERE status IN ('done','diverged')"
                ).fetchone()[0]
                con.close()
            except sqlite3.Error:
                done = 0
            if done >= target:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    before = status(killed)
    assert before["groups_not_done"] >= 1, "the study finished before it could be killed"
    resumed = resume(killed, workers=2).trials
    assert sorted(resumed["trial_id"]) == sorted(full["trial_id"])
    assert set(resumed["status"]) <= {"done", "diverged"}
    cols = [c for c in full.columns if c.startswith(("best_", "final_"))] + [
        "trial_id", "status", "best_epoch", "epochs_run"]
    pd.testing.assert_frame_equal(resumed[cols].reset_index(drop=True),
                                  full[cols].reset_index(drop=True))
    con = sqlite3.connect(killed / "study.db")
    dup = con.execute("SELECT trial_id, epoch, split, COUNT(*) c FROM epochs "
                      "GROUP BY 1, 2, 3 HAVING c > 1").fetchall()
    assert dup == []


def test_cli_study_run_prints_the_best_table(tmp_path, capsys):
    path = write_study(tmp_path, dict(STUDY, grid={"train.lr": [0.05, 0.1]}, seeds=[0, 1]))
    main_rc = None
    try:
        main(["study", "run", str(path), "--out", str(tmp_path / "s"), "--workers", "1", "-q"])
    except SystemExit as exc:
        main_rc = exc.code
    assert main_rc in (None, 0)
    out = capsys.readouterr().out
    assert "# Study report: tiny" in out and "## Best configuration" in out


@pytest.mark.parametrize(("max_size", "sizes"), [(4, [3, 3, 3]), (8, [5, 4]), (9, [9]),
                                                 (2, [2, 2, 2, 2, 1])])
def test_work_units_cut_each_group_by_max_group_size_alone(max_size, sizes):
    study = Study(load_study(dict(STUDY, grid={"train.lr": [0.01, 0.1, 0.2]}, seeds=[0, 1, 2],
                                  max_group_size=max_size)))
    (gid,) = study.groups
    units = study.work_units()
    assert [len(u) for u in units.values()] == sizes
    assert [p.trial_id for u in units.values() for p in u] == [p.trial_id for p in study.plans]
    assert list(units) == ([gid] if len(sizes) == 1 else [f"{gid}-{i}" for i in range(len(sizes))])


def test_the_default_max_group_size_keeps_small_groups_whole_and_cuts_large_ones():
    assert Study(load_study(STUDY)).work_units() == Study(load_study(STUDY)).groups  # 4 + 4
    quick = Study.from_yaml(Path(__file__).resolve().parents[2] / "studies" / "quickstart.yaml")
    assert sorted(len(u) for u in quick.work_units().values()) == [4] * 4 + [5] * 4


# Adam at lr 0.1 rounds differently in a unit of 3 than in one of 5 (the defect this guards).
WORKERS_STUDY = dict(STUDY, grid={"train.lr": [0.003, 0.03, 0.1]}, seeds=[0, 1, 2],
                     train={"optimizer": "adam", "epochs": 3, "batch_size": 64},
                     max_group_size=4, keep_models="all")


@pytest.mark.slow
def test_results_are_identical_whatever_the_number_of_workers(tmp_path):
    """Same machine, same study file: bitwise the same numbers with 1, 2 or 3 workers."""
    study = Study(load_study(WORKERS_STUDY))
    assert [len(u) for u in study.work_units().values()] == [3, 3, 3]
    runs = {w: study.run(out=tmp_path / f"w{w}", workers=w).trials.set_index("trial_id")
            for w in (1, 2, 3)}
    cols = [c for c in runs[1].columns if c.startswith(("best_", "final_"))] + [
        "group", "status", "best_epoch", "epochs_run"]
    assert runs[1]["status"].eq("done").all()
    for w in (2, 3):
        pd.testing.assert_frame_equal(runs[w][cols], runs[1][cols], check_exact=True)
    for trial in runs[1].index:  # and the weights kept
        ref = torch.load(tmp_path / "w1" / "models" / f"{trial}.pt", weights_only=True)
        for w in (2, 3):
            other = torch.load(tmp_path / f"w{w}" / "models" / f"{trial}.pt", weights_only=True)
            assert all(torch.equal(ref[k], other[k]) for k in ref), (trial, w)


def test_the_thread_count_is_the_studys_not_the_machines(tmp_path):
    study = Study(load_study(dict(STUDY, grid={"train.lr": [0.1]}, seeds=[0],
                                  train={"epochs": 1})))
    study.run(out=tmp_path / "s", workers=1)
    study.run(out=tmp_path / "t", workers=1, threads=2)
    for name, threads in (("s", DEFAULT_THREADS), ("t", 2)):
        store = open_store(tmp_path / name)
        assert store.meta()["threads"] == threads
        store.close()
    assert DEFAULT_THREADS == 1


@pytest.mark.parametrize(
    ("patch", "text"),
    [
        ({"train": {"optimizer": "adam"}, "grid": {"train.rho": [0.5]}},
         "grid.train.rho[0]: not a hyperparameter of adam (got 0.5); adam accepts lr, betas, "
         "eps, weight_decay, amsgrad, decoupled_weight_decay"),
        ({"grid": {"train.optimizer": ["adadelta", "adam"], "train.rho": [0.5]}},
         "trial g001-s0 (train.optimizer=adam train.rho=0.5): train.rho: not a hyperparameter "
         "of adam"),
        ({"variants": [{"name": "a", "set": {"train.optimizer": "adam", "train.alpha": 0.9}}]},
         "variants[0].set.train.alpha: not a hyperparameter of adam"),
        ({"grid": {"train.optimizer": ["sgd"], "train.nesterov": [True]}},
         "train.nesterov: Nesterov momentum needs momentum > 0"),
    ],
)
def test_a_hyperparameter_the_optimizer_lacks_fails_at_load_and_writes_nothing(
        tmp_path, capsys, patch, text):
    path = write_study(tmp_path, {**STUDY, "seeds": [0], **patch})
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(["study", "run", str(path), "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert text in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_hyperparameter_every_optimizer_of_the_grid_has_is_accepted():
    study = Study(load_study(dict(STUDY, seeds=[0], grid={
        "train.optimizer": ["adadelta", "rmsprop"], "train.weight_decay": [0.0, 0.1]})))
    assert len(study.plans) == 4
    adadelta = Study(load_study(dict(STUDY, seeds=[0], grid={
        "train.optimizer": ["adadelta"], "train.rho": [0.5, 0.9]})))
    assert [p.spec.train.optimizer_hparams()["rho"] for p in adadelta.plans] == [0.5, 0.9]


def test_a_study_and_a_run_default_to_the_same_device():
    from nnstudy.config.run import DEFAULT_DEVICE, RunSpec

    study = Study(load_study(dict(STUDY, seeds=[0], grid={"train.lr": [0.1]})))
    assert study.spec.device == RunSpec().device == DEFAULT_DEVICE == "auto"
    assert study.plans[0].spec.device == "auto"


def test_the_storing_study_keeps_the_models_its_file_says_without_the_report(tmp_path):
    """`nnstudy.study.Study` (no report) applies keep_models itself: best keeps one trial's
    weights, none removes models/, all keeps every trial's."""
    from nnstudy.study.runner import Study as StoringStudy

    small = dict(STUDY, grid={"train.lr": [0.05, 0.1]}, seeds=[0, 1])
    for policy, expected in (("best", 1), ("all", 4), ("none", None)):
        result = StoringStudy(load_study(dict(small, keep_models=policy))).run(
            out=tmp_path / policy, workers=1)
        models = tmp_path / policy / "models"
        assert not (tmp_path / policy / "report.md").exists()
        if expected is None:
            assert not models.exists()
        else:
            kept = sorted(p.stem for p in models.glob("*.pt"))
            assert len(kept) == expected, policy
            assert set(kept) <= set(result.trials["trial_id"].astype(str))
