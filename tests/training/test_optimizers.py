"""Batched optimizers against torch.optim: G models stepped together vs G separate runs."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from nnstudy.errors import ConfigError
from nnstudy.training.optimizers import OPTIMIZERS, BatchedOptimizer, make_optimizer

STEPS = 50
G = 3
RTOL, ATOL = 1e-6, 1e-10

# Each case: our optimizer name and three models' hyperparameters, all different.
CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "sgd": ("sgd", [{"lr": 0.1}, {"lr": 0.05}, {"lr": 0.2}]),
    "sgd-weight_decay": ("sgd", [{"lr": 0.1, "weight_decay": w} for w in (0.0, 0.01, 0.1)]),
    "sgd-momentum-dampening": ("sgd", [
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.0},
        {"lr": 0.1, "momentum": 0.5, "dampening": 0.3},
        {"lr": 0.1, "momentum": 0.0, "dampening": 0.5},
    ]),
    "sgd-nesterov": ("sgd", [
        {"lr": 0.05, "momentum": m, "nesterov": True, "weight_decay": w}
        for m, w in ((0.9, 0.0), (0.8, 0.01), (0.95, 0.001))
    ]),
    "momentum": ("momentum", [
        {"lr": 0.05, "weight_decay": 0.01}, {"lr": 0.02, "momentum": 0.5, "dampening": 0.1},
        {"lr": 0.1, "momentum": 0.7},
    ]),
    "nesterov": ("nesterov", [
        {"lr": 0.05}, {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1}, {"lr": 0.1},
    ]),
    "adam": ("adam", [
        {"lr": 1e-2}, {"lr": 3e-3, "betas": (0.8, 0.99)}, {"lr": 2e-2, "betas": (0.5, 0.9)},
    ]),
    "adam-eps-weight_decay": ("adam", [
        {"lr": 1e-2, "eps": e, "weight_decay": w} for e, w in ((1e-8, 0.0), (1e-3, 0.1), (0.1, 1e-3))
    ]),
    "adam-amsgrad": ("adam", [
        {"lr": lr, "amsgrad": True, "betas": (0.9, b2)} for lr, b2 in ((1e-2, 0.999), (5e-3, 0.9),
                                                                    (3e-2, 0.99))
    ]),
    "adam-decoupled(adamw)": ("adam", [
        {"lr": lr, "weight_decay": w, "decoupled_weight_decay": True}
        for lr, w in ((1e-2, 0.01), (5e-3, 0.0), (2e-2, 0.5))
    ]),
    "adam-amsgrad-decoupled": ("adam", [
        {"lr": lr, "weight_decay": 0.1, "decoupled_weight_decay": True, "amsgrad": True}
        for lr in (1e-2, 5e-3, 2e-2)
    ]),
    "rmsprop": ("rmsprop", [
        {"lr": 1e-2}, {"lr": 3e-3, "alpha": 0.9, "eps": 1e-4}, {"lr": 5e-3, "weight_decay": 0.1},
    ]),
    "rmsprop-momentum-centered": ("rmsprop", [
        {"lr": lr, "momentum": m, "centered": True, "alpha": a}
        for lr, m, a in ((1e-2, 0.9, 0.99), (3e-3, 0.0, 0.9), (5e-3, 0.5, 0.8))
    ]),
    "rmsprop-momentum": ("rmsprop", [
        {"lr": lr, "momentum": m, "weight_decay": w}
        for lr, m, w in ((1e-2, 0.9, 0.0), (3e-3, 0.5, 0.01), (5e-3, 0.7, 0.0))
    ]),
    "adadelta": ("adadelta", [
        {}, {"lr": 0.5, "rho": 0.95}, {"lr": 2.0, "rho": 0.5, "eps": 1e-4, "weight_decay": 0.1},
    ]),
    "adagrad": ("adagrad", [
        {"lr": 0.1}, {"lr": 0.05, "lr_decay": 0.01}, {"lr": 0.2, "eps": 1e-3, "weight_decay": 0.1},
    ]),
    "adagrad-initial_accumulator_value": ("adagrad", [
        {"lr": 0.1, "initial_accumulator_value": v, "lr_decay": d}
        for v, d in ((0.0, 0.0), (0.1, 0.05), (1.0, 0.0))
    ]),
    "nadam": ("nadam", [
        {"lr": 2e-3}, {"lr": 5e-3, "betas": (0.8, 0.99)}, {"lr": 1e-2, "momentum_decay": 0.01},
    ]),
    "nadam-eps-weight_decay-momentum_decay": ("nadam", [
        {"lr": 1e-2, "eps": e, "weight_decay": w, "momentum_decay": d}
        for e, w, d in ((1e-8, 0.0, 4e-3), (1e-3, 0.1, 0.0), (0.1, 1e-3, 0.05))
    ]),
    "nadam-decoupled": ("nadam", [
        {"lr": lr, "weight_decay": w, "decoupled_weight_decay": True, "betas": (b1, 0.999)}
        for lr, w, b1 in ((1e-2, 0.01, 0.9), (5e-3, 0.0, 0.5), (2e-2, 0.5, 0.95))
    ]),
}


def torch_optimizer(name: str, params, hp: dict[str, Any]) -> torch.optim.Optimizer:
    """The torch.optim optimizer our `name` with `hp` must match."""
    hp = dict(hp)
    if name in ("momentum", "nesterov"):
        hp.setdefault("momentum", 0.9)
        hp["nesterov"] = name == "nesterov"
        return torch.optim.SGD(params, **hp)
    if name == "adam" and hp.pop("decoupled_weight_decay", False):
        # torch.optim.AdamW is Adam with decoupled weight decay; Adam's own switch for it
        # only exists from torch 2.6, and the suite also runs at torch 2.3
        return torch.optim.AdamW(params, **{"weight_decay": 0.0, **hp})
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop,
           "adadelta": torch.optim.Adadelta, "adagrad": torch.optim.Adagrad,
           "nadam": torch.optim.NAdam}[name]
    return cls(params, **hp)


def per_model(hps: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    """Our hyperparameters for G models: floats where all agree, tensors where they differ."""
    cls_hyper = make_optimizer(name, [torch.zeros(1, 1)]).hyper
    out: dict[str, Any] = {}
    keys = {k for hp in hps for k in hp}
    for key in keys:
        default = cls_hyper[key].default
        values = [hp.get(key, default) for hp in hps]
        if isinstance(default, bool):
            assert len(set(values)) == 1
            out[key] = values[0]
        elif isinstance(default, tuple):
            out[key] = tuple(torch.tensor([v[i] for v in values], dtype=torch.float64)
                             for i in range(2))
        elif len(set(values)) == 1:
            out[key] = float(values[0])
        else:
            out[key] = torch.tensor(values, dtype=torch.float64)
    return out


def make_net(seed: int, dtype: torch.dtype) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)


def batch(step: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Random inputs whose first feature is always 0: zero gradients exercise sqrt(0)."""
    gen = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(16, 6, generator=gen, dtype=dtype)
    x[:, 0] = 0.0
    return x, torch.randint(0, 3, (16,), generator=gen)


def loss_of(net_out: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy (over G * n rows in `our_grads`: times G, each model's own mean)."""
    return nn.functional.cross_entropy(net_out, y)


class Pair:
    """G torch.optim runs (one net each) and our one batched run over the same G nets."""

    def __init__(self, name: str, hps: Sequence[dict[str, Any]], dtype=torch.float64,
                 ours_hp: dict[str, Any] | None = None):
        self.dtype = dtype
        self.nets = [make_net(seed, dtype) for seed in range(len(hps))]
        self.torch_opts = [torch_optimizer(name, n.parameters(), hp)
                           for n, hp in zip(self.nets, hps, strict=True)]
        names = [k for k, _ in self.nets[0].named_parameters()]
        self.names = names  # 0.weight, 0.bias, 2.weight, 2.bias
        self.params = [torch.stack([dict(n.named_parameters())[k].detach().clone()
                                    for n in self.nets]) for k in names]
        self.ours = make_optimizer(name, self.params,
                                   **(ours_hp if ours_hp is not None else per_model(hps, name)))

    def our_grads(self, step: int) -> list[Tensor]:
        """Each model's gradient at its own parameters, stacked [G, ...], in one backward."""
        x, y = batch(step, self.dtype)
        w1, b1, w2, b2 = (p.detach().requires_grad_(True) for p in self.params)
        hidden = torch.tanh(torch.einsum("bi,goi->gbo", x, w1) + b1[:, None])
        out = torch.einsum("gbi,goi->gbo", hidden, w2) + b2[:, None]
        n_models, n = out.shape[:2]
        total = loss_of(out.reshape(n_models * n, -1), y.repeat(n_models)) * n_models
        return list(torch.autograd.grad(total, (w1, b1, w2, b2)))

    def step_ours(self, step: int, active: Tensor | None = None) -> None:
        self.ours.step(self.our_grads(step), active)

    def step_torch(self, step: int, which: Sequence[int] | None = None) -> None:
        x, y = batch(step, self.dtype)
        for g, (net, opt) in enumerate(zip(self.nets, self.torch_opts, strict=True)):
            if which is not None and g not in which:
                continue
            opt.zero_grad()
            loss_of(net(x), y).backward()
            opt.step()

    def assert_equal(self, rtol: float = RTOL, atol: float = ATOL) -> None:
        for g, net in enumerate(self.nets):
            for k, p in zip(self.names, self.params, strict=True):
                torch.testing.assert_close(p[g].detach(), dict(net.named_parameters())[k].detach(),
                                           rtol=rtol, atol=atol, msg=lambda m, g=g, k=k: f"{g} {k}: {m}")


@pytest.mark.parametrize("case", list(CASES))
def test_g_models_together_equal_g_separate_torch_optim_runs(case):
    name, hps = CASES[case]
    pair = Pair(name, hps)
    for step in range(STEPS):
        pair.step_ours(step)
        pair.step_torch(step)
    pair.assert_equal()
    moved = (pair.params[0].detach()[:, :, 1:] - torch.stack([make_net(g, torch.float64)[0].weight.detach()
                                                       for g in range(G)])[:, :, 1:])
    assert float(moved.abs().max()) > 1e-3  # the models did train


@pytest.mark.parametrize("case", ["sgd-momentum-dampening", "adam-amsgrad", "rmsprop-momentum-centered",
                                  "adadelta", "adagrad-initial_accumulator_value",
                                  "nadam-eps-weight_decay-momentum_decay"])
def test_shared_hyperparameters_take_the_scalar_path_and_still_equal_torch(case):
    name, hps = CASES[case]
    same = [hps[1]] * G
    pair = Pair(name, same)
    assert all(isinstance(v, float) for v in pair.ours._h.values())
    for step in range(STEPS):
        pair.step_ours(step)
        pair.step_torch(step)
    pair.assert_equal()


@pytest.mark.parametrize("case", ["sgd", "adam", "rmsprop-momentum-centered", "adagrad", "nadam"])
def test_float32_stays_within_float32_rounding_of_torch(case):
    name, hps = CASES[case]
    pair = Pair(name, hps, dtype=torch.float32)
    for step in range(STEPS):
        pair.step_ours(step)
        pair.step_torch(step)
    pair.assert_equal(rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", ["sgd-momentum-dampening", "nesterov", "adam-amsgrad-decoupled",
                                  "rmsprop-momentum-centered", "adadelta", "adagrad", "nadam",
                                  "nadam-decoupled"])
def test_inactive_models_are_frozen_and_resume_as_if_they_had_skipped_those_steps(case):
    name, hps = CASES[case]
    pair = Pair(name, hps)

    def on(g: int, step: int) -> bool:  # model 1 frozen for steps 5-14, model 2 every other step
        return not ((g == 1 and 5 <= step < 15) or (g == 2 and step % 2 == 1))

    for step in range(30):
        active = [on(g, step) for g in range(G)]
        before = [p[1].detach().clone() for p in pair.params]
        state_before = {k: [t[1].clone() for t in ts] for k, ts in pair.ours.state.items()}
        pair.step_ours(step, torch.tensor(active))
        pair.step_torch(step, [g for g in range(G) if active[g]])
        if not active[1]:
            for b, p in zip(before, pair.params, strict=True):
                assert torch.equal(b, p[1])
            for k, ts in pair.ours.state.items():
                for b, t in zip(state_before[k], ts, strict=True):
                    assert torch.equal(b, t[1]), k
    assert pair.ours.steps.tolist() == [30.0, 20.0, 15.0]
    pair.assert_equal()


def test_all_inactive_changes_nothing():
    pair = Pair(*CASES["adam"])
    before = [p.detach().clone() for p in pair.params]
    pair.step_ours(0, torch.zeros(G, dtype=torch.bool))
    assert all(torch.equal(b, p) for b, p in zip(before, pair.params, strict=True))
    assert pair.ours.steps.tolist() == [0.0] * G


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_round_trip_continues_identically(name):
    hps = next(h for n, h in CASES.values() if n == name)
    pair = Pair(name, hps)
    for step in range(20):
        pair.step_ours(step)
    buffer = io.BytesIO()
    torch.save(pair.ours.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    config = pair.ours.get_config()
    clone = [p.detach().clone() for p in pair.params]
    other = make_optimizer(config.pop("name"), clone, **config)
    other.load_state_dict(state)
    for step in range(20, 40):
        grads = pair.our_grads(step)
        pair.ours.step(grads)
        other.step(grads)
    for a, b in zip(pair.params, clone, strict=True):
        assert torch.equal(a.detach(), b)


@pytest.mark.parametrize("case", ["momentum", "adam-eps-weight_decay", "adagrad", "nadam-decoupled"])
def test_lr_set_per_epoch_matches_torch_param_group_lr(case):
    name, hps = CASES[case]
    pair = Pair(name, hps)
    base = torch.tensor([hp["lr"] for hp in hps], dtype=torch.float64)
    for epoch in range(4):
        factor = 0.7**epoch
        pair.ours.set_lr(base * factor)
        for opt, hp in zip(pair.torch_opts, hps, strict=True):
            opt.param_groups[0]["lr"] = hp["lr"] * factor
        for step in range(5 * epoch, 5 * epoch + 5):
            pair.step_ours(step)
            pair.step_torch(step)
    pair.assert_equal()


def test_changing_lr_in_place_takes_effect_like_set_lr():
    a, b = Pair(*CASES["adam"]), Pair(*CASES["adam"])
    a.ours.lr.mul_(0.5)
    b.ours.set_lr(b.ours.lr * 0.5)
    for step in range(5):
        a.step_ours(step)
        b.step_ours(step)
    assert all(torch.equal(x, y) for x, y in zip(a.params, b.params, strict=True))
    assert a.ours.lr.tolist() == pytest.approx([0.005, 0.0015, 0.01])


@pytest.mark.parametrize("name", ["momentum", "adam", "rmsprop", "nadam"])
def test_select_keeps_the_chosen_models_and_their_state(name):
    hps = next(h for n, h in CASES.values() if n == name)
    pair = Pair(name, hps)
    for step in range(10):
        pair.step_ours(step)
        pair.step_torch(step)
    keep = torch.tensor([0, 2])
    pair.params = [p[keep].clone() for p in pair.params]
    pair.ours.select(keep, params=pair.params)
    pair.nets = [pair.nets[0], pair.nets[2]]
    pair.torch_opts = [pair.torch_opts[0], pair.torch_opts[2]]
    assert pair.ours.num_models == 2
    for step in range(10, 20):
        pair.step_ours(step)
        pair.step_torch(step)
    pair.assert_equal()
    assert pair.ours.get_config()["lr"] == [hps[0]["lr"], hps[2]["lr"]]


def test_select_without_params_indexes_its_own():
    params = [torch.arange(12.0).view(3, 4)]
    opt = make_optimizer("sgd", params, lr=[0.1, 0.2, 0.3])
    opt.select(torch.tensor([2]))
    assert opt.params[0].tolist() == [[8.0, 9.0, 10.0, 11.0]]
    assert opt.get_config()["lr"] == 0.3


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_get_config_names_every_hyperparameter_and_rebuilds_the_same_optimizer(name):
    hps = next(h for n, h in CASES.values() if n == name)
    params = [torch.zeros(G, 2, 2, dtype=torch.float64)]
    opt = make_optimizer(name, params, **per_model(hps, name))
    config = opt.get_config()
    assert config["name"] == name
    assert set(config) == {"name", *opt.hyper}
    rebuilt = make_optimizer(config.pop("name"), params, **config)
    assert rebuilt.get_config() == opt.get_config()
    lrs = [hp.get("lr", opt.hyper["lr"].default) for hp in hps]
    assert opt.get_config()["lr"] == (lrs[0] if len(set(lrs)) == 1 else lrs)


def test_defaults_are_torch_defaults():
    p = [torch.zeros(1, 2)]
    assert make_optimizer("momentum", p).get_config()["momentum"] == 0.9
    assert make_optimizer("nesterov", p).get_config()["momentum"] == 0.9
    assert make_optimizer("sgd", p).get_config()["momentum"] == 0.0
    torch_defaults: dict[str, Callable[..., torch.optim.Optimizer]] = {
        "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop,
        "adadelta": torch.optim.Adadelta, "adagrad": torch.optim.Adagrad,
        "nadam": torch.optim.NAdam,
    }
    for name, cls in torch_defaults.items():
        config = make_optimizer(name, p).get_config()
        group = cls([torch.zeros(1, requires_grad=True)]).param_groups[0]
        for key, value in config.items():
            if key == "name":
                continue
            if key not in group:  # a switch this torch does not have yet (Adam's before 2.6)
                assert key == "decoupled_weight_decay" and value is False, key
                continue
            assert group[key] == (tuple(value) if isinstance(value, list) else value), key


@pytest.mark.parametrize(
    ("name", "hp", "message"),
    [
        ("adamm", {}, "train.optimizer: 'adamm' is not one of sgd, momentum, nesterov, adam, "
                      "rmsprop, adadelta, adagrad, nadam"),
        ("adam", {"rho": 0.9}, "train.rho: not a hyperparameter of adam (got 0.9); adam accepts "
                               "lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay"),
        ("nesterov", {"dampening": 0.1}, "train.dampening: not a hyperparameter of nesterov"),
        ("momentum", {"nesterov": True}, "train.nesterov: not a hyperparameter of momentum"),
        ("sgd", {"lr": -0.1}, "train.lr: must be a finite number >= 0 (got -0.1)"),
        ("sgd", {"lr": math.nan}, "train.lr: must be a finite number >= 0"),
        ("adam", {"betas": (0.9, 1.0)}, r"train.betas: must be a number in [0, 1) (got 1.0)"),
        ("adam", {"betas": 0.9}, r"train.betas: must be a pair (b1, b2) (got 0.9)"),
        ("rmsprop", {"alpha": 1.5}, r"train.alpha: must be a number in [0, 1] (got 1.5)"),
        ("adam", {"amsgrad": torch.tensor([True, False, True])}, "train.amsgrad: must be true or"),
        ("sgd", {"lr": torch.tensor([0.1, 0.2])}, "train.lr: per-model values need one per "
                                                  "model, 3 (got shape (2,))"),
        ("sgd", {"lr": "fast"}, "train.lr: must be a number or 3 per-model numbers (got 'fast')"),
        ("sgd", {"nesterov": True}, "train.nesterov: Nesterov momentum needs momentum > 0"),
        ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "train.nesterov:"),
    ],
)
def test_bad_names_and_values_raise_one_line_config_errors(name, hp, message):
    with pytest.raises(ConfigError) as info:
        make_optimizer(name, [torch.zeros(G, 2)], **hp)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_zero_gradient_entries_never_move_under_adaptive_optimizers():
    for name in ("adam", "rmsprop", "adagrad"):
        p = torch.ones(2, 5)
        opt: BatchedOptimizer = make_optimizer(name, [p], lr=0.1)
        for _ in range(3):
            g = torch.randn(2, 5)
            g[:, 0] = 0.0
            opt.step([g])
        assert p[:, 0].tolist() == [1.0, 1.0], name
        assert bool(torch.isfinite(p).all()), name
