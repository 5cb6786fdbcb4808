"""A small study's speed: nnstudy's grouped, parallel study against plain PyTorch loops run
one after the other in one process (as a notebook does), measured in the same run.

The grid: the MLP 784-100-10 (ReLU, SGD, batch 64) at 4 learning rates x 3 seeds on the
same 8,000 mnist-10k images, 15 epochs each, no early stopping. The plain loops use torch's
default thread count; nnstudy runs its default: one single-threaded worker per core.

    .venv/bin/python benchmarks/bench_study.py [--root ../shared/data/mnist-10k] [--epochs 15]

Prints both wall times, the ratio, and the mean test accuracy of each side.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from bench_train import ROOT, plain_loop

from nnstudy.data import load_data
from nnstudy.study import Study

LRS = [0.01, 0.05, 0.1, 0.2]
SEEDS = [0, 1, 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(ROOT))
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args()

    data = {"name": "mnist", "root": args.root, "valid_fraction": 0.0}
    bundle = load_data(data)
    print(f"{len(LRS)} learning rates x {len(SEEDS)} seeds of MLP 784-100-10, "
          f"{args.epochs} epochs, {len(bundle.train)} training images, "
          f"torch threads {torch.get_num_threads()}")

    start = time.perf_counter()
    plain_acc = [plain_loop(bundle, args.epochs, seed, lr)[1] for lr in LRS for seed in SEEDS]
    plain = time.perf_counter() - start

    study = Study.from_dict({
        "name": "bench", "data": data, "model": {"mlp": {"hidden": [100]}},
        "train": {"optimizer": "sgd", "batch_size": 64, "epochs": args.epochs},
        "grid": {"train.lr": LRS}, "seeds": SEEDS,
        "select": {"metric": "test_accuracy"},
    })
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = study.run(out=Path(tmp) / "study")
        ours = time.perf_counter() - start
    our_acc = result.trials["final_test_accuracy"].tolist()
    print(f"plain loops, one after the other: {plain:6.1f} s  mean test accuracy "
          f"{statistics.mean(plain_acc):.2%}")
    print(f"nnstudy study ({len(study.groups)} group(s), default workers): {ours:6.1f} s  "
          f"mean test accuracy {statistics.mean(our_acc):.2%}")
    print(f"speed-up: {plain / ours:.2f}x")


if __name__ == "__main__":
    main()
