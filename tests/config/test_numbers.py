"""A boolean is never read as a number: `epochs: true` is an error, not 1 epoch.

YAML strings that spell numbers (PyYAML reads `1e-3` as the string '1e-3') stay accepted
where a number belongs, as before.
"""

from __future__ import annotations

import pytest

from nnstudy.config.run import load_run_spec
from nnstudy.config.study import load_study
from nnstudy.errors import ConfigError

RUN = {"data": {"name": "digits"}, "model": {"mlp": {"hidden": [8]}}, "train": {"epochs": 1}}


@pytest.mark.parametrize(
    ("key", "value", "where"),
    [
        ("train.epochs", True, "train.epochs"),
        ("train.batch_size", False, "train.batch_size"),
        ("train.lr", True, "train.lr"),
        ("train.momentum", True, "train.momentum"),
        ("train.l2", True, "train.l2"),
        ("train.seed", True, "train.seed"),
        ("train.schedule", {"name": "step", "step_size": True}, "train.schedule.step_size"),
        ("train.early_stopping", {"patience": True}, "train.early_stopping.patience"),
        ("data.valid_fraction", False, "data.valid_fraction"),
        ("data.split_seed", True, "data.split_seed"),
        ("model", {"mlp": {"hidden": [True, 10]}}, "model.mlp.hidden"),
        ("model", {"mlp": {"hidden": [8], "dropout": True}}, "model.mlp.dropout"),
        ("model", [{"linear": True}], r"model\[0\]"),
        ("model", [{"conv": {"out": 4, "kernel": True}}], r"model\[0\]"),
        ("model", [{"dropout": True}], r"model\[0\]"),
        ("model", {"cifar_net": {"conv_layers": True}}, "model.cifar_net"),
    ],
)
def test_a_boolean_where_a_number_belongs_is_refused(key, value, where):
    from nnstudy.config.loading import set_dotted

    with pytest.raises(ConfigError, match=rf"^{where}.*: .*(true|false).* a number") as info:
        load_run_spec(set_dotted(RUN, key, value))
    assert "\n" not in str(info.value)


def test_booleans_stay_booleans_where_a_switch_belongs():
    spec = load_run_spec({**RUN, "model": {"mlp": {"hidden": [8], "bias": False}},
                          "train": {"optimizer": "adam", "amsgrad": True}})
    assert spec.train.model_extra["amsgrad"] is True


@pytest.mark.parametrize(("value", "lr"), [("1e-3", 0.001), (0.5, 0.5), (1, 1.0)])
def test_numbers_written_as_yaml_strings_are_still_numbers(value, lr):
    assert load_run_spec({**RUN, "train": {"lr": value}}).train.lr == lr


@pytest.mark.parametrize(
    ("changes", "where"),
    [({"repeats": True}, "repeats"), ({"seeds": [True]}, "seeds"),
     ({"max_group_size": True}, "max_group_size")],
)
def test_study_numbers_refuse_booleans_too(changes, where):
    with pytest.raises(ConfigError, match=rf"^{where}.*a number"):
        load_study({**RUN, "name": "s", **changes})
