"""The words of a report: configuration names, p-values, effects, comparison sentences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnstudy.report.labels import (
    comparison_sentence,
    config_label,
    effect_label,
    format_effect,
    format_level,
    format_p,
    format_value,
    metric_kind,
    metric_title,
    short_key,
)
from nnstudy.study.aggregate import Comparison

OPT, LR = "train.optimizer", "train.lr"
KEYS = [OPT, LR]
ADAM, RMSPROP = {OPT: "adam", LR: 0.001}, {OPT: "rmsprop", LR: 0.001}


def test_names_stand_alone_and_numbers_get_their_short_key():
    assert config_label({OPT: "adam", LR: 0.001}) == "adam lr 0.001"
    assert config_label({"variant": "wide", LR: 1e-5, "train.schedule.lr": 2}) == \
        "wide train.lr 1e-05 train.schedule.lr 2"
    assert config_label({"model.mlp.hidden": [100, 100]}) == "hidden [100, 100]"
    assert config_label({}) == "base"
    assert effect_label("model.mlp.dropout", 0.5) == "dropout 0.5"


def test_short_key_keeps_the_whole_key_when_two_end_alike():
    assert short_key(LR, KEYS) == "lr"
    assert short_key(LR, [LR, "train.schedule.lr"]) == "train.lr"


def test_values_are_written_as_a_person_writes_them():
    assert [format_value(v) for v in (0.001, 1e-5, np.float32(0.5), np.int64(3), True,
                                      [100, 100], "adam")] == \
        ["0.001", "1e-05", "0.5", "3", "True", "[100, 100]", "adam"]


def test_p_values_levels_metrics():
    assert (format_p(0.3123), format_p(0.0042), format_p(0.0004)) == \
        ("p = 0.31", "p = 0.004", "p < 0.001")
    assert format_level(0.95) == "95%" and format_level(0.9) == "90%"
    assert metric_title("best_valid_loss") == "valid loss"
    assert metric_title("final_test_accuracy") == "final test acc"
    assert [metric_kind(m) for m in ("valid_accuracy", "final_valid_loss", "wall_time_s")] == \
        ["accuracy", "loss", "other"]


def test_effects_in_points_for_accuracy_and_plain_for_losses():
    assert format_effect("dropout 0.5", 0.004, 0.0012, 0.0068, "accuracy") == \
        "dropout 0.5: +0.4 points [+0.1, +0.7]"
    assert format_effect("dropout 0.5", -0.05, math.nan, math.nan, "loss") == \
        "dropout 0.5: -0.0500 (one pair: no interval)"
    assert format_effect("lr 0.1", math.nan, math.nan, math.nan, "loss") == \
        "lr 0.1: no pair of trials to compare"


def comparison(**fields) -> Comparison:
    return Comparison(metric="valid_loss", mode="min", level=0.95, **fields)


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({"best_values": ADAM, "runner_up_values": RMSPROP, "test": "paired", "n_seeds": 3,
          "p_value": 0.0155, "distinguishable": True},
         "adam lr 0.001 is best, distinguishable from rmsprop lr 0.001 at 95% (p = 0.02, "
         "3 seeds)"),
        ({"best_values": ADAM, "runner_up_values": RMSPROP, "test": "paired", "n_seeds": 3,
          "p_value": 0.31, "distinguishable": False},
         "adam lr 0.001 is best, but not distinguishable from rmsprop lr 0.001 at 95% "
         "(p = 0.31, 3 seeds)"),
        ({"best_values": ADAM, "runner_up_values": RMSPROP, "test": "welch", "n_seeds": 3,
          "seeds_best": 3, "seeds_runner_up": 4, "p_value": 0.2, "distinguishable": False},
         "adam lr 0.001 is best, but not distinguishable from rmsprop lr 0.001 at 95% "
         "(p = 0.20, Welch, 3 and 4 seeds)"),
        ({"best_values": ADAM, "runner_up_values": RMSPROP, "seeds_best": 1,
          "seeds_runner_up": 1},
         "one seed: cannot tell whether adam lr 0.001 is better than rmsprop lr 0.001 "
         "(run more seeds)"),
        ({"best_values": ADAM, "runner_up_values": RMSPROP, "seeds_best": 2,
          "seeds_runner_up": 1},
         "too few seeds: cannot tell whether adam lr 0.001 is better than rmsprop lr 0.001 "
         "(run more seeds)"),
        ({"best_values": ADAM}, "adam lr 0.001 is the only configuration with results"),
        ({}, "no configuration has a finite valid_loss: nothing to compare"),
    ],
)
def test_comparison_sentence_says_what_the_test_found(fields, sentence):
    assert comparison_sentence(comparison(**fields), KEYS) == sentence
