"""Diagnoses name the cause their signals support (issue 11's wrong diagnoses), end to end
through training and on hand-made evidence."""

import math

import numpy as np
import pytest

import nnstudy
from nnstudy.training.diagnostics import Evidence, findings


def _npz(tmp_path, name, x, y):
    path = tmp_path / f"{name}.npz"
    np.savez(path, x=x, y=y)
    return str(path)


def _train(data, model=None, **train):
    config = {"data": data, "model": model or {"mlp": {"hidden": [16]}},
              "train": {"optimizer": "sgd", "lr": 0.1, "epochs": 5, **train}}
    return nnstudy.train(config)


def _codes(result):
    return [d["code"] for d in result.diagnostics]


@pytest.fixture(scope="module")
def features():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 20)).astype("float32"), rng.integers(0, 3, 300)


def test_nan_inputs_are_named_as_the_cause_not_the_learning_rate(tmp_path, features):
    x, y = features
    result = _train({"name": "npz", "path": _npz(tmp_path, "nan", np.full_like(x, np.nan), y)})
    assert result.summary["status"] == "diverged"
    assert _codes(result) == ["nonfinite_inputs"]
    finding = result.diagnostics[0]
    assert "NaN or inf" in finding["message"]
    assert "learning rate is not the cause" in finding["suggestion"]
    n_train = result.summary["data"]["sizes"]["train"]
    assert result.summary["signals"]["nonfinite_inputs"] == n_train * x.shape[1]


def test_a_one_class_data_set_is_named_and_nothing_else_fires(tmp_path, features):
    x, _ = features
    result = _train({"name": "npz", "path": _npz(tmp_path, "one", x, np.zeros(300, int))})
    assert _codes(result) == ["one_class"]
    assert result.summary["signals"]["classes_in_train"] == 1


def test_zero_gradients_in_a_dead_network_are_not_called_exploding():
    result = _train({"name": "digits"}, {"mlp": {"hidden": [32, 32]}},
                    init="normal", init_scale=1e-6)
    codes = _codes(result)
    assert "exploding_gradients" not in codes
    assert "no_gradient" in codes
    assert "relu2" in next(d for d in result.diagnostics if d["code"] == "no_gradient")["message"]
    not_learning = next(d for d in result.diagnostics if d["code"] == "not_learning")
    assert "larger weights" in not_learning["suggestion"]


def test_not_learning_after_too_high_a_learning_rate_says_lower_it():
    result = _train({"name": "digits"}, {"mlp": {"hidden": [64]}}, lr=3.0, epochs=6)
    not_learning = next(d for d in result.diagnostics if d["code"] == "not_learning")
    assert "rose above the untrained" in not_learning["message"]
    assert not_learning["suggestion"].startswith("lower the learning rate")
    assert "raise the learning rate" not in not_learning["suggestion"]
    assert "exploding_gradients" not in _codes(result)


# -- the rules on hand-made evidence -----------------------------------------------------

def _evidence(train, **kw):
    base = dict(lr=0.1, loss="cross_entropy", init="default", init_scale=0.01, num_classes=10,
                ends_in_softmax=False, diverged=False, train=list(enumerate(train)),
                train_accuracy=[(e, 0.1) for e in range(len(train))], valid=[],
                grad_norms={"fc1.weight": 0.1, "fc2.weight": 0.1}, dead_fraction={},
                nonfinite_inputs=None, classes_present=10)
    base.update(kw)
    return Evidence(**base)


CHANCE = math.log(10)


def test_chance_level_with_no_telling_signal_says_it_cannot_tell():
    wobble = [CHANCE, CHANCE * 0.98, CHANCE * 1.005, CHANCE * 0.99, CHANCE]
    [finding] = findings(_evidence(wobble))
    assert finding["code"] == "not_learning"
    assert "cannot tell" in finding["message"]
    assert "sweep the learning rate" in finding["suggestion"]


def test_flat_loss_with_tiny_gradients_blames_the_start():
    [finding] = findings(_evidence([CHANCE] * 5,
                                   grad_norms={"fc1.weight": 1e-6, "fc2.weight": 1e-5}))
    assert "tiny" in finding["message"]
    assert "larger weights" in finding["suggestion"]


def test_gradient_ratios_need_two_nonzero_finite_norms():
    zero_last = _evidence([1.0, 0.5, 0.4, 0.3], grad_norms={"a": 0.5, "b": 0.0})
    assert findings(zero_last) == []
    nan = _evidence([1.0, 0.5, 0.4, 0.3], grad_norms={"a": math.nan, "b": 1.0})
    assert findings(nan) == []
    exploding = _evidence([1.0, 0.5, 0.4, 0.3], grad_norms={"a": 5e3, "b": 1.0})
    assert [f["code"] for f in findings(exploding)] == ["exploding_gradients"]
    vanishing = _evidence([1.0, 0.5, 0.4, 0.3], grad_norms={"a": 1e-4, "b": 1.0})
    assert [f["code"] for f in findings(vanishing)] == ["vanishing_gradients"]


def test_zero_gradients_at_zero_loss_are_not_a_finding():
    assert findings(_evidence([0.1, 0.0, 0.0, 0.0], grad_norms={"a": 0.0, "b": 0.0})) == []


def test_a_nonfinite_start_with_finite_inputs_blames_the_init_not_the_learning_rate():
    [finding] = findings(_evidence([math.inf], nonfinite_inputs=0, diverged=True))
    assert finding["code"] == "nonfinite_start"
    assert "init" in finding["suggestion"] and "not the cause" in finding["suggestion"]


def test_a_loss_near_chance_at_high_accuracy_is_not_not_learning():
    # A strong L2 squeezes the scores towards uniform: the loss sits within 5% of ln 10
    # while 90.9% of the training images are classified right. That model learned.
    loss = [CHANCE, CHANCE * 0.97, CHANCE * 0.96, CHANCE * 0.96, CHANCE * 0.96]
    accuracy = [(0, 0.1), (1, 0.85), (2, 0.89), (3, 0.905), (4, 0.909)]
    assert findings(_evidence(loss, train_accuracy=accuracy)) == []
    at_chance = [(e, 0.11) for e in range(5)]
    [finding] = findings(_evidence(loss, train_accuracy=at_chance))
    assert finding["code"] == "not_learning"


def test_not_learning_needs_two_classes():
    assert findings(_evidence([0.0] * 5, num_classes=1, classes_present=None)) == []
