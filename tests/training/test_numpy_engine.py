"""engine: numpy follows the torch engine's curve (same seed, same orders) to float tolerance."""

import math

import pytest
import torch

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
    for a, b in zip(ours.history, ref.history, strict=True):
        assert (a["epoch"], a["split"]) == (b["epoch"], b["split"])
        assert math.isclose(a["loss"], b["loss"], rel_tol=1e-9)
        assert a["accuracy"] == b["accuracy"]


def test_numpy_engine_refuses_optimizers_it_does_not_have():
    bundle = load_data({"name": "digits"})
    spec = RunSpec.model_validate({"model": "softmax_regression",
                                   "train": {"optimizer": "adam", "engine": "numpy"}})
    with pytest.raises(ConfigError, match=r"train\.optimizer: .adam. with engine numpy"):
        train_with_numpy(spec, bundle)
