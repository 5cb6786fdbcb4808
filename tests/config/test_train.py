"""The `train:` block asks the optimizer classes: their tables are the only ones."""

import ast
from pathlib import Path

import pytest

from nnstudy.config.run import RunSpec, load_run_spec
from nnstudy.errors import ConfigError
from nnstudy.training.optimizers import OPTIMIZER_CLASSES, OPTIMIZERS


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_default_lr_is_the_optimizer_classs_and_is_written_into_the_config(name):
    spec = load_run_spec({"train": {"optimizer": name}})
    assert spec.train.lr == OPTIMIZER_CLASSES[name].hyper["lr"].default
    assert spec.to_config()["train"]["lr"] == spec.train.lr


def test_the_user_visible_default_lrs_are_the_reports():
    lrs = {name: load_run_spec({"train": {"optimizer": name}}).train.lr
           for name in ("sgd", "momentum", "nesterov", "adam")}
    assert lrs == {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adam": 0.001}


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"optimizer": "adam", "rho": 0.5},
         "train.rho: not a hyperparameter of adam (got 0.5); adam accepts lr, betas, eps, "
         "weight_decay, amsgrad, decoupled_weight_decay"),
        ({"optimizer": "nesterov", "dampening": 0.1},
         "train.dampening: not a hyperparameter of nesterov (got 0.1); nesterov accepts lr, "
         "momentum, weight_decay"),
        ({"rhoo": 0.5}, "train.rhoo: unknown key"),
        ({"optimizer": "adam", "betas": [0.9, 1.0]}, "train.betas: must be a number in [0, 1)"),
        ({"optimizer": "adam", "betas": 0.9}, "train.betas: must be a pair (b1, b2) (got 0.9)"),
        ({"optimizer": "rmsprop", "alpha": 1.5}, "train.alpha: must be a number in [0, 1]"),
        ({"momentum": "fast"}, "train.momentum: Input should be a valid number"),
        ({"nesterov": True}, "train.nesterov: Nesterov momentum needs momentum > 0"),
        ({"optimizer": "adamm"}, "train.optimizer: 'adamm' is not one of " + ", ".join(OPTIMIZERS)),
        ({"lr": 0}, "train.lr: Input should be greater than 0"),
    ],
)
def test_a_key_or_value_the_optimizer_refuses_is_an_error_naming_the_key(train, message):
    with pytest.raises(ConfigError) as info:
        load_run_spec({"train": train})
    assert str(info.value).startswith(message), str(info.value)


def test_hyperparameters_are_read_by_kind_and_survive_the_round_trip_to_json():
    spec = load_run_spec({"train": {"optimizer": "nadam", "eps": "1e-6", "momentum_decay": 0,
                                    "betas": [0.8, 0.99], "decoupled_weight_decay": "true",
                                    "weight_decay": None}})
    expected = {"lr": 2e-3, "betas": (0.8, 0.99), "eps": 1e-6, "momentum_decay": 0.0,
                "decoupled_weight_decay": True}
    assert spec.train.optimizer_hparams() == expected
    again = RunSpec.model_validate_json(spec.model_dump_json())  # as a study worker reads it
    assert again.train.optimizer_hparams() == expected
    assert load_run_spec(spec.to_config()).train == spec.train


def test_the_optimizer_tables_import_nothing_of_nnstudy_but_errors():
    """config/train.py imports them: they must not pull the trainer (or config) in."""
    import nnstudy.training.optimizers as package

    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nnstudy"):
                assert node.module == "nnstudy.errors" or \
                    node.module.startswith("nnstudy.training.optimizers"), (path.name, node.module)


def test_a_run_lasts_epochs_or_steps_and_ten_epochs_without_either():
    assert load_run_spec({}).train.epochs == 10
    steps = load_run_spec({"train": {"steps": 500}})
    assert (steps.train.epochs, steps.train.steps) == (None, 500)
    assert "epochs" not in steps.to_config()["train"]  # the resolved config loads again
    assert load_run_spec(steps.to_config()).train == steps.train
    assert load_run_spec({"train": {"epochs": None, "steps": 5}}).train.steps == 5


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"epochs": 3, "steps": 100},
         "train.steps: give epochs or steps, not both (got epochs 3 and steps 100)"),
        ({"steps": 0}, "train.steps: Input should be greater than 0 (got 0)"),
        ({"log_every": 0}, "train.log_every: Input should be greater than 0 (got 0)"),
        ({"loss_reduction": "max"}, "train.loss_reduction: 'max' is not one of mean, sum"),
    ],
)
def test_steps_log_every_and_loss_reduction_are_checked_by_name(train, message):
    with pytest.raises(ConfigError) as err:
        load_run_spec({"train": train})
    assert str(err.value) == message
