"""train_numpy follows the torch engine's curve given the same weights and data order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnstudy.errors import ConfigError
from nnstudy.models import build_model
from nnstudy.models.to_reference import from_torch
from nnstudy.reference.train import train_numpy

N, FEATURES, CLASSES, EPOCHS, BATCH = 60, 12, 3, 4, 16


def _data(dtype=np.float64):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(CLASSES, FEATURES)) * 2
    y = rng.integers(0, CLASSES, N)
    x = centers[y] + rng.normal(size=(N, FEATURES))
    return x.astype(dtype), y


def _torch_curve(model, x, y, perms, lr, momentum, l2):
    """The plain PyTorch loop: SGD over the given orders, L2 on weight matrices."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    curve = []
    for perm in perms:
        total = 0.0
        for start in range(0, N, BATCH):
            idx = torch.from_numpy(perm[start : start + BATCH])
            data_loss = F.cross_entropy(model(xt[idx]), yt[idx])
            penalty = sum((p**2).sum() for p in model.parameters() if p.ndim >= 2)
            opt.zero_grad()
            (data_loss + l2 * penalty).backward()
            opt.step()
            total += data_loss.item() * len(idx)
        curve.append(total / N)
    return curve


@pytest.mark.parametrize(("optimizer", "momentum", "l2"),
                         [("sgd", 0.0, 0.0), ("momentum", 0.9, 0.0), ("momentum", 0.5, 1e-3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_same_init_and_order_give_the_torch_curve(optimizer, momentum, l2, dtype):
    x, y = _data(dtype)
    model = build_model({"mlp": {"hidden": [16]}}, (FEATURES,), num_classes=CLASSES, seed=0)
    model = model.to(torch.float64 if dtype == np.float64 else torch.float32)
    net = from_torch(model, dtype=dtype)
    gen = torch.Generator().manual_seed(0)
    perms = [torch.randperm(N, generator=gen).numpy() for _ in range(EPOCHS)]
    history = train_numpy(net, x, y, epochs=EPOCHS, lr=0.1, batch_size=BATCH,
                          optimizer=optimizer, momentum=momentum, l2=l2, permutations=perms)
    expected = _torch_curve(model, x, y, perms, 0.1, momentum, l2)
    got = [row.loss for row in history]
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert np.allclose(got, expected, rtol=tol, atol=0)
    assert got[-1] < got[0]  # it learns
    for name, p in model.named_parameters():
        assert np.allclose(net.params()[name], p.detach().numpy(), rtol=tol * 10, atol=tol)


def test_eval_metrics_and_an_lr_schedule_match_a_torch_loop_evaluated_after_each_epoch():
    x, y = _data()
    model = build_model({"mlp": {"hidden": [16]}}, (FEATURES,), num_classes=CLASSES,
                        seed=3).double()
    net = from_torch(model)
    perms = [np.random.default_rng(e).permutation(N) for e in range(EPOCHS)]
    history = train_numpy(net, x, y, epochs=EPOCHS, lr=0.2, batch_size=BATCH, permutations=perms,
                          lr_factor=lambda e: 0.5**e, train_metrics="eval")
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    expected = []
    for e, perm in enumerate(perms):
        opt = torch.optim.SGD(model.parameters(), lr=0.2 * 0.5**e)
        for start in range(0, N, BATCH):
            idx = torch.from_numpy(perm[start : start + BATCH])
            opt.zero_grad()
            F.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
        with torch.no_grad():
            out = model(xt)
        expected.append((F.cross_entropy(out, yt).item(),
                         (out.argmax(1) == yt).double().mean().item()))
    got = [(r.loss, r.accuracy) for r in history]
    assert np.allclose(got, expected, rtol=1e-10, atol=0)


def test_mse_on_labels_uses_one_hot_targets_as_torch_mse_loss():
    x, y = _data()
    model = build_model({"mlp": {"hidden": [8], "output_activation": "sigmoid"}}, (FEATURES,),
                        num_classes=CLASSES, seed=4).double()
    net = from_torch(model)
    perm = np.arange(N)
    history = train_numpy(net, x, y, epochs=1, lr=0.5, batch_size=BATCH, loss="mse",
                          permutations=[perm])
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    total = 0.0
    for start in range(0, N, BATCH):
        idx = torch.from_numpy(perm[start : start + BATCH])
        value = F.mse_loss(model(xt[idx]), F.one_hot(yt[idx], CLASSES).double())
        opt.zero_grad()
        value.backward()
        opt.step()
        total += value.item() * len(idx)
    assert history[0].loss == pytest.approx(total / N, rel=1e-12)
    assert history[0].accuracy is not None


def test_a_seed_fixes_order_and_dropout_masks():
    x, y = _data()

    def run(seed: int) -> list[float]:
        model = build_model({"mlp": {"hidden": [16], "dropout": 0.5}}, (FEATURES,),
                            num_classes=CLASSES, seed=0).double()
        return [r.loss for r in train_numpy(from_torch(model), x, y, epochs=3, lr=0.1,
                                            batch_size=BATCH, seed=seed)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_valid_rows_follow_each_train_row_in_eval_mode():
    x, y = _data()
    model = build_model({"mlp": {"hidden": [8]}}, (FEATURES,), num_classes=CLASSES, seed=0)
    history = train_numpy(from_torch(model.double()), x, y, epochs=2, lr=0.1, x_valid=x[:20],
                          y_valid=y[:20])
    assert [(r.epoch, r.split) for r in history] == [
        (1, "train"), (1, "valid"), (2, "train"), (2, "valid")]
    assert all(0.0 <= r.accuracy <= 1.0 for r in history)


def test_bad_arguments_name_the_key():
    x, y = _data()
    net = from_torch(build_model({"mlp": {"hidden": [4]}}, (FEATURES,), num_classes=CLASSES))
    with pytest.raises(ConfigError, match="optimizer: 'adam' is not one of sgd, momentum"):
        train_numpy(net, x, y, epochs=1, lr=0.1, optimizer="adam")
    with pytest.raises(ConfigError, match=r"permutations\[0\]: not a permutation"):
        train_numpy(net, x, y, epochs=1, lr=0.1, permutations=[np.zeros(N, dtype=int)])
    with pytest.raises(ConfigError, match="lr: must be > 0"):
        train_numpy(net, x, y, epochs=1, lr=0.0)
