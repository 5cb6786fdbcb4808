"""Which specs train together, and the per-model hyperparameters their optimizer gets."""

import torch

from nnstudy.config.run import RunSpec
from nnstudy.training.grouping import group_key, optimizer_hparams
from nnstudy.training.optimizers import make_optimizer


def spec(**train) -> RunSpec:
    return RunSpec.model_validate({"model": {"mlp": {"hidden": [8]}}, "train": train})


def test_numbers_seeds_and_schedules_may_differ_within_a_group():
    a = spec(optimizer="adam", lr=0.01, betas=[0.9, 0.99], seed=0, epochs=3)
    b = spec(optimizer="adam", lr=0.001, betas=[0.5, 0.9], seed=4, epochs=7,
             schedule="exponential", l2=0.1)
    assert group_key(a) == group_key(b)


def test_optimizer_switches_given_keys_and_batch_size_split_groups():
    base = spec(optimizer="adam")
    for other in (spec(optimizer="adam", amsgrad=True), spec(optimizer="adam", eps=1e-8),
                  spec(optimizer="nadam"), spec(optimizer="adam", batch_size=32)):
        assert group_key(other) != group_key(base)


def test_shared_values_are_floats_differing_ones_per_model_tensors():
    specs = [spec(optimizer="adam", lr=lr, betas=[b1, 0.999], eps=1e-8, amsgrad=True)
             for lr, b1 in ((0.01, 0.9), (0.02, 0.8))]
    hp = optimizer_hparams(specs, torch.device("cpu"))
    assert hp["eps"] == 1e-8 and isinstance(hp["eps"], float)
    assert hp["amsgrad"] is True
    assert hp["lr"].tolist() == [0.01, 0.02] and hp["lr"].dtype == torch.float64
    assert [t.tolist() for t in hp["betas"]] == [[0.9, 0.8], [0.999, 0.999]]
    opt = make_optimizer("adam", [torch.zeros(2, 3)], **hp)
    assert opt.get_config() == {"name": "adam", "lr": [0.01, 0.02], "betas": [[0.9, 0.8], 0.999],
                                "eps": 1e-8, "weight_decay": 0.0, "amsgrad": True,
                                "decoupled_weight_decay": False}
