"""A LeNet-style CNN's training speed: nnstudy's trainer against a plain PyTorch loop (with
and without channels_last), measured in the same run; `--grid` also times a
4-configuration CNN study against the plain loops one after another.

The model: conv 6@5x5 (padding 2), ReLU, max pool 2, conv 16@5x5, ReLU, max pool 2,
linear 120, ReLU, linear 84, ReLU, linear 10, on the 8,000 mnist-10k training images
(1x28x28, read in place from `--root`), SGD lr 0.05, batch 64, `--epochs` epochs (3).

- plain loop: a TensorDataset in a DataLoader (batch 64, shuffled), nn.Sequential,
  torch.optim.SGD, the test set evaluated once at the end.
- plain loop, channels_last: the same with the model and each batch in channels_last.
- nnstudy, 1 model: `train_group` on one spec; it also evaluates train and test after
  every epoch. Two figures: samples/s over its whole wall time, and over its training
  epochs alone (`TrainedModel.epoch_times`).

All three use torch's default thread count, or `--threads`. Each is timed `--repeats`
times (3), interleaved; the median is printed, with the load average.

    PYTHONPATH=src:benchmarks python benchmarks/bench_cnn.py [--epochs 3] [--threads N]
        [--repeats 3] [--grid] [--root ../shared/data/mnist-10k]

`--grid`: learning rates 0.01, 0.02, 0.05, 0.1 (seed 0) as plain loops one after another
(torch's threads) and as an nnstudy study (`Study.run`, default workers: one
single-threaded worker per core, each configuration its own work unit), evaluated after
every epoch, and with `train.eval_every` = epochs (before the first epoch and after the
last: the plain loop's work). The workers' fork server is started before the studies are
timed (`bench_study.warm_worker_server`; the CLI starts it while it imports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from bench_study import warm_worker_server
from bench_train import train_plain
from torch import nn

from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.study import Study
from nnstudy.training.trainer import train_group

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist-10k"
LR = 0.05
GRID_LRS = [0.01, 0.02, 0.05, 0.1]
MODEL = [{"conv": {"out": 6, "kernel": 5, "padding": 2}}, "relu", {"maxpool": 2},
         {"conv": {"out": 16, "kernel": 5}}, "relu", {"maxpool": 2}, "flatten",
         {"linear": 120}, "relu", {"linear": 84}, "relu", {"linear": 10}]


def plain_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def plain_loop(bundle, epochs: int, lr: float = LR, seed: int = 0,
               channels_last: bool = False) -> tuple[float, float]:
    """The reports' loop. Returns (training seconds, test accuracy)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(seed)
    model = plain_net().to(memory_format=fmt)
    return train_plain(model, torch.optim.SGD(model.parameters(), lr=lr), bundle, epochs,
                       memory_format=fmt)


def ours(bundle, epochs: int) -> tuple[float, float, float]:
    """nnstudy, one model: (wall seconds, training-epoch seconds, test accuracy)."""
    spec = RunSpec.model_validate({
        "data": bundle.spec.model_dump(mode="json"), "model": MODEL,
        "train": {"optimizer": "sgd", "lr": LR, "batch_size": 64, "epochs": epochs}})
    start = time.perf_counter()
    trained = train_group([spec], bundle)[0]
    wall = time.perf_counter() - start
    return wall, sum(trained.epoch_times), trained.final["test"]["accuracy"]


def grid(bundle, data: dict, epochs: int) -> None:
    start = time.perf_counter()
    plain_acc = [plain_loop(bundle, epochs, lr)[1] for lr in GRID_LRS]
    plain = time.perf_counter() - start
    server_s = warm_worker_server()
    print(f"4-configuration grid (lr {', '.join(map(str, GRID_LRS))}), {epochs} epochs "
          f"(the workers' fork server started first: {server_s:.2f} s):")
    print(f"  plain loops, one after the other: {plain:6.1f} s  test accuracy "
          f"{' '.join(f'{a:.2%}' for a in plain_acc)}")
    for eval_every, how in ((1, "evaluated every epoch"),
                            (epochs, f"eval_every {epochs}: at the end")):
        study = Study.from_dict({
            "name": "bench-cnn", "data": data, "model": MODEL, "device": "cpu",
            "train": {"optimizer": "sgd", "batch_size": 64, "epochs": epochs,
                      "eval_every": eval_every},
            "grid": {"train.lr": GRID_LRS}, "seeds": [0], "max_group_size": 1,
            "select": {"metric": "test_accuracy"}})
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = study.run(out=Path(tmp) / "study")
            wall = time.perf_counter() - start
        acc = result.trials["final_test_accuracy"].tolist()
        print(f"  nnstudy study, {how} ({len(study.work_units())} units, default workers): "
              f"{wall:6.1f} s  {plain / wall:.2f}x  test accuracy "
              f"{' '.join(f'{a:.2%}' for a in acc)}")
    print(f"  load average {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(ROOT))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--grid", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = {"name": "mnist", "root": args.root, "valid_fraction": 0.0}
    bundle = load_data(data)
    samples = args.epochs * len(bundle.train)
    print(f"LeNet-style CNN (conv 6@5x5 p2, pool, conv 16@5x5, pool, 120, 84, 10), SGD lr "
          f"{LR}, batch 64, {args.epochs} epochs, {len(bundle.train)} training images, "
          f"{args.threads} thread(s); load average {_load()}")
    times: dict[str, list[float]] = {"plain": [], "plain_cl": [], "ours": [], "ours_train": []}
    accs: dict[str, list[float]] = {"plain": [], "plain_cl": [], "ours": []}
    for _ in range(args.repeats):
        t, a = plain_loop(bundle, args.epochs)
        times["plain"].append(t)
        accs["plain"].append(a)
        t, a = plain_loop(bundle, args.epochs, channels_last=True)
        times["plain_cl"].append(t)
        accs["plain_cl"].append(a)
        wall, train, a = ours(bundle, args.epochs)
        times["ours"].append(wall)
        times["ours_train"].append(train)
        accs["ours"].append(a)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [("plain loop", "plain", "plain"),
            ("plain loop, channels_last", "plain_cl", "plain_cl"),
            ("nnstudy, 1 model (wall)", "ours", "ours"),
            ("nnstudy, training epochs", "ours_train", "ours")]
    for name, key, acc in rows:
        print(f"{name:<28}{med[key]:7.2f} s  {samples / med[key] / 1e3:6.1f} k samples/s  "
              f"{med['plain'] / med[key]:5.2f}x the plain loop  test accuracy "
              f"{statistics.mean(accs[acc]):.2%}")
    print(f"(median of {args.repeats}; load average after {_load()})")
    if args.grid:
        grid(bundle, data, args.epochs)


if __name__ == "__main__":
    main()
