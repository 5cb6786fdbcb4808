"""A study file is refused at load when it would run something other than what it says:
a seed set outside `seeds:`, two grid values (or variants) that are the same config, a
selection by a validation metric without a validation split. Its name becomes a safe
directory name; the name itself stays as written."""

from __future__ import annotations

import pytest

from nnstudy.config.study import StudySpec, load_study, plan_trials, study_dir_name
from nnstudy.errors import ConfigError

BASE = {
    "name": "s",
    "data": {"name": "digits"},
    "model": {"mlp": {"hidden": [8]}},
    "train": {"epochs": 1},
}


def study(**changes) -> dict:
    return {**BASE, **changes}


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"grid": {"train.seed": [0, 1]}}, "grid.train.seed"),
        ({"grid": {"train": [{"epochs": 1, "seed": 1}, {"epochs": 2}]}}, r"grid.train\[0\].seed"),
        ({"variants": [{"name": "other-seed", "set": {"train.seed": 3}}]},
         r"variants\[0\].set.train.seed"),
        ({"train": {"epochs": 1, "seed": 5}}, "train.seed"),
    ],
)
def test_a_seed_outside_seeds_is_refused_naming_seeds(changes, where):
    # Before: the grid's seed was overwritten by the study's seeds, so trials labelled
    # `train.seed=1` trained with seed 0.
    with pytest.raises(ConfigError, match=rf"^{where}: .*seeds: \[") as info:
        load_study(study(**changes))
    assert "\n" not in str(info.value)


def test_seeds_remain_the_way_to_set_seeds():
    plans = plan_trials(load_study(study(seeds=[3, 4])))
    assert [p.spec.train.seed for p in plans] == [3, 4]


@pytest.mark.parametrize(
    ("grid", "text"),
    [
        ({"train.lr": [0.01, 0.01]}, r"grid.train.lr: \[0\] and \[1\] are the same value"),
        # PyYAML reads 1e-2 as the string '1e-2'; the run config reads it as 0.01
        ({"train.lr": [0.01, "1e-2"]}, r"grid.train.lr: \[0\] and \[1\] are the same value"),
        ({"model": ["lenet5", {"lenet5": {}}, "alexnet"]},
         r"grid.model: \[0\] and \[1\] are the same value"),
    ],
)
def test_duplicate_grid_values_are_refused(grid, text):
    # Before: the duplicates ran as one configuration twice, reported as "2.3120 ± 0.0000"
    with pytest.raises(ConfigError, match=text):
        load_study(study(grid=grid))


def test_duplicates_are_found_where_the_optimizer_varies_too():
    grid = {"train.optimizer": ["sgd", "adam"], "train.lr": [0.1, "1e-1"]}
    with pytest.raises(ConfigError, match=r"grid.train.lr: \[0\] and \[1\] are the same"):
        load_study(study(grid=grid))


def test_a_variant_equal_to_another_configuration_is_refused():
    variants = [{"name": "wide", "set": {"model.mlp.hidden": [16]}},
                {"name": "also-wide", "set": {"model": {"mlp": {"hidden": [16]}}}}]
    with pytest.raises(ConfigError, match="'wide' and 'also-wide' train the same config"):
        load_study(study(variants=variants))


def test_distinct_values_that_print_alike_are_kept():
    loaded = load_study(study(grid={"train.lr": [0.1, 0.01, 1.0]}))
    assert loaded.grid["train.lr"] == [0.1, 0.01, 1.0]


@pytest.mark.parametrize(
    "changes",
    [
        {"select": {"metric": "valid_loss"}},
        {"select": {"metric": "best_valid_accuracy"}},
        {"select": {"metric": "final_valid_loss", "mode": "min"}},
    ],
)
def test_selecting_by_a_validation_metric_without_a_validation_split_is_refused(changes):
    # Before: exit 0 and "no configuration has a finite valid_loss"
    raw = study(data={"name": "digits", "valid_fraction": 0}, **changes)
    with pytest.raises(ConfigError, match=r"^select.metric: .*data.valid_fraction"):
        load_study(raw)


def test_a_grid_that_removes_the_validation_split_is_refused_for_a_valid_selection():
    raw = study(grid={"data.valid_fraction": [0.1, 0.0]})
    with pytest.raises(ConfigError, match=r"select.metric: .*data.valid_fraction"):
        load_study(raw)


def test_selecting_by_a_training_metric_needs_no_validation_split():
    raw = study(data={"name": "digits", "valid_fraction": 0}, select={"metric": "train_loss"})
    assert load_study(raw).select.metric == "train_loss"


def test_early_stopping_on_a_validation_metric_without_one_names_both_keys():
    raw = study(data={"name": "digits", "valid_fraction": 0}, select={"metric": "test_loss"},
                train={"epochs": 2, "early_stopping": {"metric": "valid_accuracy"}})
    with pytest.raises(ConfigError, match=r"train.early_stopping.metric: .*data.valid_fraction"):
        load_study(raw)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("optimizers", "optimizers"),
        ("../../escape", "escape"),
        ("..", "study"),
        ("", "study"),
        ("a/b\nc", "a-b-c"),
        (".hidden", "hidden"),
        ("[bold red]x[/]", "bold-red-x"),
        ("lr 0.1 vs 0.01", "lr-0.1-vs-0.01"),
        ("études", "études"),
    ],
)
def test_the_study_directory_name_is_a_safe_slug_of_the_name(name, expected):
    assert study_dir_name(name) == expected


def test_a_long_name_gives_a_bounded_directory_name():
    name = "x" * 300
    assert study_dir_name(name) == "x" * 100
    assert len(study_dir_name("é" * 300).encode()) <= 100


def test_the_name_itself_stays_as_written():
    assert load_study(study(name="../../escape")).name == "../../escape"
    assert StudySpec.model_validate({"name": "a/b"}).dir_name == "a-b"
