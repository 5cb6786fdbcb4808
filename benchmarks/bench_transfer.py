"""A transfer study with its features cached, against the same study with the backbone run
at every step: the second measured on a few epochs per group and extrapolated.

For each group of features trials of a finished study (e.g. studies/transfer-digits.yaml):

- **cached** (measured): the study's own seconds for the group, its backbone pass
  (`features.cache.seconds`: computed, or read back) plus its training (`group_wall_time_s`);
- **backbone every step, nnstudy** (extrapolated): the same specs trained by the same batched
  trainer on the images, the FeatureModel with its frozen backbone in the forward pass of
  every step and every evaluation: `train_group` timed with 1 and with 1 + E epochs, the
  difference over E is the seconds per epoch, and the group's time is its fixed part plus
  that per epoch times the epochs the study's group actually ran;
- **backbone every step, plain loop** (extrapolated): each trial alone, as one usually
  writes it: torch.optim.Adam, per batch `head(backbone(x))` with the backbone frozen (eval
  mode, no_grad), and after each epoch the loss and accuracy of every split through the
  backbone again; seconds per epoch measured over E epochs, times the epochs the trial ran.

Pixel trials run the same way in both studies and are left out. Times are of one process
with `--threads` intra-op threads (the study's workers ran with as many).

    python benchmarks/bench_transfer.py STUDY_DIR [--epochs 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import torch
import torch.nn.functional as F

from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.models import build_model
from nnstudy.study.store import open_store
from nnstudy.training.trainer import train_group


def group_trials(study_dir: str) -> dict[str, list[dict]]:
    """The done trials with a features model, by group, each with its spec and summary."""
    store = open_store(study_dir, must_exist=True)
    try:
        rows = store.trials()
    finally:
        store.close()
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["status"] != "done":
            continue
        summary = json.loads(row["summary_json"])
        if "features" not in summary:
            continue
        spec = RunSpec.model_validate_json(row["config_json"])
        groups[row["grp"]].append({"id": row["id"], "spec": spec, "summary": summary})
    return dict(groups)


def with_epochs(spec: RunSpec, epochs: int) -> RunSpec:
    train = spec.train.model_copy(update={"epochs": epochs, "early_stopping": None})
    return spec.model_copy(update={"train": train})


def trainer_seconds(specs: list[RunSpec], bundle, epochs: int) -> float:
    start = time.perf_counter()
    train_group([with_epochs(s, epochs) for s in specs], bundle)
    return time.perf_counter() - start


@torch.no_grad()
def evaluate(model, bundle, batch_size: int = 4096) -> None:
    for split in bundle.splits:
        for i in range(0, len(split), batch_size):
            idx = torch.arange(i, min(len(split), i + batch_size))
            logits = model(bundle.batch(split.name, idx))
            F.cross_entropy(logits, split.y[idx]).item()
            (logits.argmax(1) == split.y[idx]).sum().item()


def plain_loop_seconds_per_epoch(spec: RunSpec, bundle, epochs: int) -> float:
    """A plain loop's seconds per epoch (training and evaluation), backbone in every step."""
    model = build_model(spec.model, bundle.input_shape, bundle.num_classes, seed=spec.train.seed)
    opt = torch.optim.Adam(model.head.parameters(), lr=spec.train.lr)
    gen = torch.Generator().manual_seed(spec.train.seed)
    n, b = len(bundle.train), spec.train.batch_size
    model.train()  # the frozen backbone stays in eval mode
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, b):
            idx = perm[i : i + b]
            with torch.no_grad():
                feats = model.features(bundle.batch("train", idx))
            loss = F.cross_entropy(model.head(feats), bundle.train.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        evaluate(model, bundle)
        model.train()
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_dir")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    total = defaultdict(float)
    print("| group | trials | epochs run | cached (measured) | every step, nnstudy "
          "(extrapolated) | every step, plain loop (extrapolated) |")
    print("|---|---:|---:|---:|---:|---:|")
    for trials in group_trials(args.study_dir).values():
        specs = [t["spec"] for t in trials]
        bundle = load_data(specs[0].data)
        first = trials[0]["summary"]
        cached = first["features"]["cache"]["seconds"] + first["group_wall_time_s"]
        ran = max(t["summary"]["epochs_run"] for t in trials)
        one = trainer_seconds(specs, bundle, 1)
        more = trainer_seconds(specs, bundle, 1 + args.epochs)
        per_epoch = (more - one) / args.epochs
        naive = (one - per_epoch) + per_epoch * ran
        plain = sum(plain_loop_seconds_per_epoch(t["spec"], bundle, args.epochs)
                    * t["summary"]["epochs_run"] for t in trials)
        label = (f"{first['features']['layer']}, "
                 f"{specs[0].data.max_per_class} per class")
        print(f"| {label} | {len(trials)} | {ran} | {cached:.1f} s | {naive:.1f} s "
              f"({per_epoch:.2f} s/epoch) | {plain:.1f} s |", flush=True)
        total["cached"] += cached
        total["naive"] += naive
        total["plain"] += plain
    print(f"| total | | | {total['cached']:.1f} s | {total['naive']:.1f} s "
          f"({total['naive'] / total['cached']:.1f} x) | {total['plain']:.1f} s "
          f"({total['plain'] / total['cached']:.1f} x) |")


if __name__ == "__main__":
    main()
