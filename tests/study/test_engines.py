"""A study trains each group with the engine its trials ask for (`train.engine`)."""

from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.study.worker import run_group
from nnstudy.training.numpy_engine import train_with_numpy


def test_a_group_of_numpy_engine_trials_trains_on_the_numpy_engine():
    specs = [RunSpec.model_validate({
        "data": {"name": "digits", "valid_fraction": 0.1}, "model": "softmax_regression",
        "train": {"engine": "numpy", "epochs": 2, "lr": lr, "log_every": 10}})
        for lr in (0.05, 0.1)]
    out = run_group({"group": "g", "threads": 1,
                     "trials": [(f"t{i}", s.model_dump_json()) for i, s in enumerate(specs)]})
    bundle = load_data(specs[0].data)
    for spec, result in zip(specs, out["results"], strict=True):
        alone = train_with_numpy(spec, bundle)
        # the NumPy engine computes in float64: bit for bit the same numbers, which the
        # torch engine (float32) would not give
        assert result["history"] == alone.history
        assert result["steps"] == alone.steps
