"""Training speed: nnstudy's trainer against a plain PyTorch loop, measured in the same run.

The plain loop is what the reports write: a TensorDataset in a DataLoader (batch 64,
shuffled), nn.Sequential, torch.optim.SGD, one evaluation of the test set at the end.
nnstudy trains the same MLP (784-100-10 ReLU, SGD lr 0.1, batch 64, 15 epochs) on the
same 8,000 images, and also evaluates train and test after every epoch; a third line
times it with `train.eval_every` = epochs (evaluated before the first epoch and after the
last: the plain loop's work, and the untrained loss the divergence rule needs).

    .venv/bin/python benchmarks/bench_train.py [--root ../shared/data/mnist-10k]
        [--epochs 15] [--threads N] [--models 1] [--repeats 5]

Both run with torch's default number of threads (one per core) unless --threads says
otherwise. The two are timed in pairs, one after the other, `--repeats` times; the
speed-up printed is the median of the pairs' ratios (this machine's speed drifts over
minutes, so a ratio of two runs side by side is steadier than one of two medians).
`--models G` also trains G seeds at once (one group) and reports the time per model.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.training.trainer import train_group

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist-10k"


def train_plain(model: nn.Module, opt: torch.optim.Optimizer, bundle, epochs: int,
                device: torch.device | str = "cpu",
                memory_format: torch.memory_format = torch.contiguous_format
                ) -> tuple[float, float]:
    """The reports' loop on `bundle`'s train split (DataLoader batch 64, shuffled), then the
    test accuracy: (training seconds, test accuracy). What every benchmark's plain side runs."""
    x_train = bundle.batch("train", torch.arange(len(bundle.train)))
    x_test = bundle.batch("test", torch.arange(len(bundle.test)))
    x_test = x_test.to(device).to(memory_format=memory_format)
    loader = DataLoader(TensorDataset(x_train, bundle.train.y), batch_size=64, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            x, y = x.to(device).to(memory_format=memory_format), y.to(device)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        acc = (model(x_test).argmax(1).cpu() == bundle.test.y).double().mean().item()
    return seconds, acc


def plain_loop(bundle, epochs: int, seed: int, lr: float = 0.1) -> tuple[float, float]:
    """The reports' loop. Returns (seconds, test accuracy)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    return train_plain(model, torch.optim.SGD(model.parameters(), lr=lr), bundle, epochs)


def ours(bundle, spec_dict: dict, seeds: list[int]) -> tuple[float, list[float]]:
    specs = []
    for seed in seeds:
        d = {**spec_dict, "train": {**spec_dict["train"], "seed": seed}}
        specs.append(RunSpec.model_validate(d))
    start = time.perf_counter()
    trained = train_group(specs, bundle)
    seconds = time.perf_counter() - start
    return seconds, [t.final["test"]["accuracy"] for t in trained]


def _spread(values: list[float]) -> str:
    return f"{min(values):.1%}-{max(values):.1%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(ROOT))
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--models", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    data = {"name": "mnist", "root": args.root, "valid_fraction": 0.0}
    bundle = load_data(data)
    spec = {"data": bundle.spec.model_dump(mode="json"),
            "model": {"mlp": {"hidden": [100], "activation": "relu"}},
            "train": {"optimizer": "sgd", "lr": 0.1, "batch_size": 64, "epochs": args.epochs}}
    print(f"MLP 784-100-10 ReLU, SGD lr 0.1, batch 64, {args.epochs} epochs, "
          f"{len(bundle.train)} training images, {args.threads} thread(s)")

    at_end = {**spec, "train": {**spec["train"], "eval_every": args.epochs}}
    plain_t, plain_acc, our_t, our_acc, end_t, end_acc = [], [], [], [], [], []
    for r in range(args.repeats):
        t, a = plain_loop(bundle, args.epochs, seed=r)
        plain_t.append(t)
        plain_acc.append(a)
        t, accs = ours(bundle, spec, [r])
        our_t.append(t)
        our_acc.append(accs[0])
        t, accs = ours(bundle, at_end, [r])
        end_t.append(t)
        end_acc.append(accs[0])
    p, o = statistics.median(plain_t), statistics.median(our_t)
    e = statistics.median(end_t)
    ratios = sorted(a / b for a, b in zip(plain_t, our_t, strict=True))
    end_ratios = sorted(a / b for a, b in zip(plain_t, end_t, strict=True))
    print(f"plain PyTorch loop : {p:6.2f} s  ({p / args.epochs * 1000:5.0f} ms/epoch)  "
          f"test accuracy {statistics.mean(plain_acc):.2%} ({_spread(plain_acc)} over seeds "
          f"0..{args.repeats - 1})")
    print(f"nnstudy, 1 model   : {o:6.2f} s  ({o / args.epochs * 1000:5.0f} ms/epoch)  "
          f"test accuracy {statistics.mean(our_acc):.2%} ({_spread(our_acc)}; with per-epoch "
          f"evaluation)")
    print(f"speed-up           : {statistics.median(ratios):.2f}x  (median of {len(ratios)} "
          f"pairs; lowest {ratios[0]:.2f}x, highest {ratios[-1]:.2f}x)")
    print(f"nnstudy, eval_every {args.epochs:<3}: {e:6.2f} s  ({e / args.epochs * 1000:5.0f} "
          f"ms/epoch)  test accuracy {statistics.mean(end_acc):.2%} (the same models: "
          f"{'equal' if end_acc == our_acc else 'DIFFERENT'})")
    print(f"speed-up           : {statistics.median(end_ratios):.2f}x  (median of "
          f"{len(end_ratios)} pairs; lowest {end_ratios[0]:.2f}x, highest {end_ratios[-1]:.2f}x)")
    if args.models > 1:
        t, accs = ours(bundle, spec, list(range(args.models)))
        print(f"nnstudy, {args.models} models at once: {t:6.2f} s = {t / args.models:5.2f} s "
              f"per model; speed-up per model {p / (t / args.models):.2f}x; test accuracy "
              f"{statistics.mean(accs):.2%} ± {statistics.stdev(accs):.2%}")


if __name__ == "__main__":
    main()
