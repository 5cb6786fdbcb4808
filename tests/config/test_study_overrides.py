"""`--set` on a study file: one grid key (`grid.train.lr=[...]`), the seeds, any other key."""

import json
import sqlite3

import pytest
import yaml

from nnstudy.cli import main
from nnstudy.config.study import load_study, plan_trials
from nnstudy.errors import ConfigError

STUDY = {
    "name": "tiny",
    "data": {"name": "digits", "valid_fraction": 0.2},
    "model": {"mlp": {"hidden": [8]}},
    "train": {"epochs": 1, "batch_size": 64},
    "grid": {"train.lr": [0.5], "model.mlp.hidden": [[8], [16]]},
    "repeats": 3,
}


def test_grid_key_sets_one_grid_key_whose_name_has_dots():
    study = load_study(STUDY, ("grid.train.lr=[0.1,0.01]",))
    assert study.grid == {"train.lr": [0.1, 0.01], "model.mlp.hidden": [[8], [16]]}


def test_a_new_grid_key_adds_an_axis_and_null_removes_one():
    study = load_study(STUDY, ("grid.train.momentum=[0.0,0.9]", "grid.train.optimizer=[momentum]",
                               "grid.model.mlp.hidden=null"))
    assert study.grid == {"train.lr": [0.5], "train.momentum": [0.0, 0.9],
                          "train.optimizer": ["momentum"]}
    assert len(plan_trials(study)) == 2 * 3


def test_seeds_replace_repeats_and_repeats_replace_seeds():
    assert load_study(STUDY, ("seeds=[0,1]",)).seed_list == [0, 1]
    with_seeds = {**{k: v for k, v in STUDY.items() if k != "repeats"}, "seeds": [4, 5, 6]}
    assert load_study(with_seeds, ("repeats=2",)).seed_list == [0, 1]


def test_the_whole_grid_and_other_keys_are_set_as_before():
    study = load_study(STUDY, ("grid={train.lr: [0.2]}", "train.epochs=2"))
    assert study.grid == {"train.lr": [0.2]} and study.train["epochs"] == 2


@pytest.mark.parametrize(("override", "message"), [
    ("grid.train.lr=0.1", r"grid.train.lr: Input should be a valid list \(got 0.1\)"),
    ("grid.train.lr=[0.1,-1]", r"grid.train.lr\[1\]: "),
    ("grid.train.lrr=[0.1]", "grid.train.lrr: 'train.lrr' is not a key of the run config"),
    ("seeds=[1,1]", "seeds must be a non-empty list of distinct integers"),
])
def test_a_bad_grid_key_or_seeds_is_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_study(STUDY, (override,))


def test_study_run_with_set_plans_the_trials_of_the_overridden_grid(tmp_path, capsys):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["study", "run", str(path), "--out", str(out), "--workers", "1", "-q",
              "--set", "grid.train.lr=[0.1,0.01]", "--set", "seeds=[0,1]"])
    assert exit_info.value.code in (0, None)
    assert capsys.readouterr().out.startswith("study tiny: 8 trials in ")
    con = sqlite3.connect(out / "study.db")
    rows = con.execute("SELECT keys_json, seed FROM trials ORDER BY position").fetchall()
    con.close()
    planned = sorted((json.loads(k)["train.lr"], str(json.loads(k)["model.mlp.hidden"]), s)
                     for k, s in rows)
    assert planned == sorted((lr, str(h), s) for lr in (0.1, 0.01) for h in ([8], [16])
                             for s in (0, 1))
