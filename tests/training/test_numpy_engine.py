"""engine: numpy follows the torch engine's curve (same seed, same orders) to float tolerance."""

import csv
import json
import math

import pytest
import torch

import nnstudy
from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.errors import ConfigError
from nnstudy.training.numpy_engine import train_with_numpy
from nnstudy.training.trainer import train_group


@pytest.mark.parametrize(
    ("model", "train"),
    [
        ("softmax_regression", {"optimizer": "sgd", "lr": 0.1}),
        ({"mlp": {"hidden": [20], "activation": "tanh"}},
         {"optimizer": "momentum", "lr": 0.05, "momentum": 0.9, "l2": 0.001,
          "schedule": {"name": "exponential", "gamma": 0.95}}),
    ],
)
def test_numpy_engine_equals_torch_engine(model, train):
    bundle = load_data({"name": "digits"})
    spec = RunSpec.model_validate({"data": {"name": "digits"}, "model": model,
                                   "train": {"epochs": 3, "batch_size": 50, **train}})
    ours = train_with_numpy(spec, bundle)
    ref = train_group([spec], bundle, dtype=torch.float64)[0]
    assert len(ours.history) == len(ref.history)
    sizes = {"train": len(bundle.train), "valid": len(bundle.valid), "test": len(bundle.test)}
    for a, b in zip(ours.history, ref.history, strict=True):
        assert (a["epoch"], a["split"]) == (b["epoch"], b["split"])
        assert math.isclose(a["loss"], b["loss"], rel_tol=1e-9)
        # the same number of correct predictions (accuracies are floats: compare counts)
        n = sizes[a["split"]]
        assert round(a["accuracy"] * n) == round(b["accuracy"] * n)


def test_numpy_engine_refuses_optimizers_it_does_not_have():
    bundle = load_data({"name": "digits"})
    spec = RunSpec.model_validate({"model": "softmax_regression",
                                   "train": {"optimizer": "adam", "engine": "numpy"}})
    with pytest.raises(ConfigError, match=r"train\.optimizer: .adam. with engine numpy"):
        train_with_numpy(spec, bundle)


def _both(model, train, data=None):
    """The run trained by the NumPy engine and by the torch engine (float64)."""
    data = data or {"name": "digits", "valid_fraction": 0.1}
    bundle = load_data(data)
    spec = RunSpec.model_validate({"data": data, "model": model, "train": train})
    return train_with_numpy(spec, bundle), train_group([spec], bundle, dtype=torch.float64)[0]


def _same_history(a, b, rel=1e-9):
    assert [(r["epoch"], r["split"]) for r in a.history] == \
        [(r["epoch"], r["split"]) for r in b.history]
    for x, y in zip(a.history, b.history, strict=True):
        assert math.isclose(x["loss"], y["loss"], rel_tol=rel)


def test_numpy_engine_flags_a_net_stuck_at_chance_as_the_torch_engine_does():
    # report 002's deeper nets: a 5-layer sigmoid MLP from tiny weights sits at ln 10
    ours, ref = _both({"mlp": {"hidden": [50, 50, 50, 50], "activation": "sigmoid"}},
                      {"lr": 0.01, "epochs": 4, "init": "normal", "init_scale": 0.001})
    codes = [d["code"] for d in ours.diagnostics]
    assert "not_learning" in codes
    assert codes == [d["code"] for d in ref.diagnostics]
    assert [d["message"] for d in ours.diagnostics] == [d["message"] for d in ref.diagnostics]
    assert ours.signals["grad_norms"].keys() == ref.signals["grad_norms"].keys()
    for name, norm in ref.signals["grad_norms"].items():
        assert math.isclose(ours.signals["grad_norms"][name], norm, rel_tol=1e-6)


def test_numpy_engine_finds_dead_relus_as_the_torch_engine_does():
    ours, ref = _both({"mlp": {"hidden": [32]}},
                      {"lr": 0.01, "epochs": 2, "init": "normal", "init_scale": 1e-4})
    assert ours.signals["dead_relu_fraction"] == pytest.approx(
        ref.signals["dead_relu_fraction"])


def test_numpy_engine_stops_early_by_the_torch_engines_rule():
    train = {"lr": 0.1, "epochs": 30, "batch_size": 50,
             "early_stopping": {"metric": "valid_accuracy", "patience": 2, "min_delta": 0.01}}
    ours, ref = _both({"mlp": {"hidden": [20]}}, train)
    assert ref.stopped_early and ref.epochs_run < 30  # the rule fires here
    assert (ours.stopped_early, ours.epochs_run, ours.best_epoch) == (
        ref.stopped_early, ref.epochs_run, ref.best_epoch)
    _same_history(ours, ref)
    for name, value in ref.state_dict.items():  # the best epoch's weights, restored
        torch.testing.assert_close(ours.state_dict[name], value.float(), rtol=1e-5, atol=1e-6)


def test_numpy_engine_diverges_where_the_torch_engine_does():
    ours, ref = _both({"mlp": {"hidden": [20]}}, {"lr": 200.0, "epochs": 3})
    assert ref.status == ours.status == "diverged"
    assert ours.epochs_run == ref.epochs_run
    assert [d["code"] for d in ours.diagnostics] == [d["code"] for d in ref.diagnostics]


def test_numpy_engine_steps_log_and_summed_loss_equal_the_torch_engines():
    train = {"lr": 0.002, "steps": 50, "batch_size": 32, "log_every": 5, "l2": 0.01,
             "loss_reduction": "sum"}
    ours, ref = _both("softmax_regression", train)
    assert ours.steps_run == ref.steps_run == 50
    assert ours.samples_seen == ref.samples_seen
    _same_history(ours, ref)
    assert len(ours.steps) == len(ref.steps) == 10
    for a, b in zip(ours.steps, ref.steps, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert math.isclose(a[key], b[key], rel_tol=1e-9), key
    assert math.isclose(ours.l2_term["final"], ref.l2_term["final"], rel_tol=1e-9)


def test_both_engines_write_the_same_run_directory_files_and_keys(tmp_path):
    config = {"data": {"name": "digits", "valid_fraction": 0.1}, "model": "softmax_regression",
              "train": {"epochs": 2, "lr": 0.1, "l2": 0.001, "log_every": 10,
                        "early_stopping": {"patience": 3}}}
    dirs = {}
    for engine in ("torch", "numpy"):
        dirs[engine] = tmp_path / engine
        nnstudy.train(config, out=dirs[engine], overrides=[f"train.engine={engine}"])
    assert sorted(p.name for p in dirs["numpy"].iterdir()) == \
        sorted(p.name for p in dirs["torch"].iterdir())
    summaries = {e: json.loads((d / "summary.json").read_text()) for e, d in dirs.items()}
    assert _keys(summaries["numpy"]) == _keys(summaries["torch"])
    assert len(summaries["numpy"]["epoch_time_s"]) == 2
    for name in ("metrics.csv", "steps.csv"):
        rows = {e: list(csv.reader((d / name).open())) for e, d in dirs.items()}
        assert rows["numpy"][0] == rows["torch"][0]  # the header
        assert [r[:2] for r in rows["numpy"]] == [r[:2] for r in rows["torch"]]


def _keys(summary, prefix=""):
    """Every key path of a summary, as the set of dotted paths (values of the diagnostics'
    and signals' own dicts included)."""
    out = set()
    for key, value in summary.items():
        path = f"{prefix}{key}"
        out.add(path)
        if isinstance(value, dict):
            out |= _keys(value, path + ".")
    return out
