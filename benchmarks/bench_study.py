"""A study's speed: report 000's 20-MLP grid as a plain PyTorch loop, as an nnstudy study
with every trial alone (ungrouped) and as one with the trials that can train together
grouped, all measured in the same run.

The grid (`--grid mlp`, report 000's Task 2): optimizers sgd, adam, rmsprop, adadelta x
learning rates 0.001, 0.01, 0.05, 0.1, 0.5, seed 0; `--grid sgd`: sgd x the same 5
learning rates x seeds 0..3 (20 trials, one optimizer: every trial can train with every
other). Each trial: MLP 784-100-10 ReLU, batch 64, `--epochs` epochs (15), no early
stopping, the 8,000 training images of mnist-10k (read in place from `--root`), test
accuracy at the end.

- plain loop: what the reports write, one model after another in this process: a
  TensorDataset in a DataLoader (batch 64, shuffled), nn.Sequential, torch.optim, the test
  set evaluated once at the end; torch's default thread count
  (`--plain-threads` to change it: on a loaded machine two threads can be slower than one).
- nnstudy ungrouped: `Study.run` with max_group_size 1 (one work unit per trial).
- nnstudy grouped: `Study.run` with the default max_group_size (trials that share an
  optimizer train together).
- grouped, eval at end: the same with `train.eval_every` = epochs: evaluated before the
  first epoch and after the last only (the plain loop's work, and the untrained model's
  loss, which the divergence rule needs), instead of after every epoch. Both nnstudy runs use the default workers and threads (one
  single-threaded worker per core), and are timed whole: worker start-up, data loading,
  training with per-epoch evaluation of train and test, the store.

- whole processes: the plain loop as a process of its own (`python bench_study.py
  --plain-process`: import torch, load the data, train the 20 models, one after another)
  against `nnstudy study run` as a process of its own (the CLI: import, read the study
  file, start the workers, train, store, write results.csv, report.md and report.html),
  grouped. This is what a user waits for; it also prints when the first unit began to
  train, counted from the executor's start (`first_train_s` in the study's record).

    PYTHONPATH=src:benchmarks python benchmarks/bench_study.py [--grid mlp|sgd]
        [--epochs 15] [--device cpu|cuda] [--root ../shared/data/mnist-10k]

At the end the plain loop runs once more (`--no-plain-again` skips it): this machine's
speed drifts by a tenth to a quarter over minutes, and the two plain-loop times bound it.

Each line gives the wall time, the ratio plain / it, training samples per second (trials
x epochs x 8,000 / wall, as if no trial stopped: nnstudy stops a model whose loss blows
up, the plain loop does not), the achieved GFLOP/s (the training FLOPs of nnstudy's
counting convention, `nnstudy inspect`, over the wall time) and that as a fraction of this
machine's float32 matmul peak, measured first in the same run (a 4096 x 4096 `torch.mm`
with torch's default threads). The convention counts a batch of one (no accumulation
over the batch in the weight gradient) and no evaluation; so for the nnstudy runs a second
figure, "training phase", takes the products nnstudy computes (forward, weight and input
gradients of every training step, the forward of every per-epoch evaluation; 2 FLOPs a
multiply-add, as the peak's mm) over the time the work units spent in `train_group`
(summed over units, divided by the workers). Then each trial's test accuracy three ways.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from bench_train import train_plain
from torch import nn

from nnstudy.data import load_data
from nnstudy.models import build_model
from nnstudy.study import Study
from nnstudy.training.summary import training_flops

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist-10k"
LRS = [0.001, 0.01, 0.05, 0.1, 0.5]
GRIDS = {
    "mlp": ({"train.optimizer": ["sgd", "adam", "rmsprop", "adadelta"], "train.lr": LRS}, [0]),
    "sgd": ({"train.optimizer": ["sgd"], "train.lr": LRS}, [0, 1, 2, 3]),
}
TORCH_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam,
                    "rmsprop": torch.optim.RMSprop, "adadelta": torch.optim.Adadelta}
MODEL = {"mlp": {"hidden": [100], "activation": "relu"}}


def matmul_peak(device: torch.device, n: int = 4096, repeats: int = 5) -> float:
    """Float32 GFLOP/s of an n x n x n `torch.mm` (2 n^3 FLOPs), the best of `repeats`."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    out = torch.empty(n, n, device=device)
    torch.mm(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_trial(bundle, optimizer: str, lr: float, seed: int, epochs: int,
                device: torch.device) -> float:
    """The reports' loop for one trial; returns its test accuracy."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(),
                          nn.Linear(100, 10)).to(device)
    opt = TORCH_OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    return train_plain(model, opt, bundle, epochs, device=device)[1]


def study_spec(grid: str, data: dict, epochs: int, device: str,
               max_group_size: int | None, eval_every: int = 1) -> dict:
    """The study file of `grid`, as a dict."""
    keys, seeds = GRIDS[grid]
    spec = {"name": f"bench-{grid}", "data": data, "model": MODEL, "device": device,
            "train": {"optimizer": "sgd", "batch_size": 64, "epochs": epochs,
                      "eval_every": eval_every},
            "grid": keys, "seeds": seeds, "select": {"metric": "test_accuracy"}}
    if max_group_size is not None:
        spec["max_group_size"] = max_group_size
    return spec


def study_of(grid: str, data: dict, epochs: int, device: str,
             max_group_size: int | None, eval_every: int = 1) -> Study:
    return Study.from_dict(study_spec(grid, data, epochs, device, max_group_size, eval_every))


def plain_process(args: argparse.Namespace) -> None:
    """`--plain-process`: the plain loop over the grid in this process (started by `main`),
    its loop time and accuracies printed as JSON on the last line."""
    torch.set_num_threads(args.plain_threads)
    bundle = load_data({"name": "mnist", "root": args.root, "valid_fraction": 0.0})
    keys, seeds = GRIDS[args.grid]
    start = time.perf_counter()
    acc = [[o, lr, s, plain_trial(bundle, o, lr, s, args.epochs, torch.device(args.device))]
           for o in keys["train.optimizer"] for lr in keys["train.lr"] for s in seeds]
    print(json.dumps({"loop_s": time.perf_counter() - start, "acc": acc}))


def timed_process(cmd: list[str], cwd: str | None = None) -> tuple[float, str]:
    """Wall seconds of a whole process, and its standard output (it must succeed)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


def cli_study(spec: dict) -> tuple[float, dict]:
    """`nnstudy study run` on `spec` as a whole process: (wall seconds, the executor's record
    from study.db)."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        wall, _ = timed_process([sys.executable, "-m", "nnstudy", "study", "run", "study.yaml",
                                 "--out", "s", "-q"], cwd=tmp)
        with sqlite3.connect(Path(tmp) / "s" / "study.db") as db:
            (executions,) = db.execute(
                "SELECT value FROM meta WHERE key = 'executions'").fetchone()
    return wall, json.loads(executions)[-1]


def matmul_work(net: nn.Module, n_train: int, n_eval: int, epochs: int,
                evaluations: int | None = None) -> int:
    """FLOPs (2 per multiply-add) of the products one nnstudy trial computes: per training
    sample the forward, the weight gradient and, after the first layer, the input gradient
    of each linear layer; and the forward of every evaluated sample (train and test, before
    the first epoch and after each, or `evaluations` times)."""
    macs = [m.in_features * m.out_features for m in net.modules() if isinstance(m, nn.Linear)]
    per_sample = 2 * (2 * sum(macs) + sum(macs[1:]))
    evaluations = epochs + 1 if evaluations is None else evaluations
    return epochs * n_train * per_sample + evaluations * n_eval * 2 * sum(macs)


def warm_worker_server() -> float:
    """Start the workers' fork server and wait until it can fork (it imports torch and the
    trainer once per process; the CLI starts it while it imports, and the whole-process
    lines include it). Returns the seconds it took. Done before the in-process timings, so
    that neither nnstudy line pays it and the other not."""
    from concurrent.futures import ProcessPoolExecutor

    from nnstudy.study.executors.local import worker_context

    start = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        pool.submit(os.getpid).result()
    return time.perf_counter() - start


def run_study(study: Study, workers: int | None) -> tuple[float, dict, float, int]:
    """Wall seconds, {(optimizer, lr, seed): (final test accuracy, status)}, the units' summed
    train_group seconds, and the number of work units."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = study.run(out=Path(tmp) / "study", workers=workers)
        wall = time.perf_counter() - start
    t = result.trials
    acc = {(o, float(lr), int(s)): (float(a), status) for o, lr, s, a, status in zip(
        t["train.optimizer"], t["train.lr"], t["seed"], t["final_test_accuracy"], t["status"],
        strict=True)}
    return wall, acc, float(t["wall_time_s"].sum()), len(study.work_units())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", choices=sorted(GRIDS), default="mlp")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--root", default=str(ROOT))
    ap.add_argument("--plain-threads", type=int, default=torch.get_num_threads(),
                    help="intra-op threads of the plain loop (default: torch's, one per core)")
    ap.add_argument("--workers", type=int, default=None,
                    help="nnstudy's worker processes (default: one per core on the CPU, "
                         "one on a GPU)")
    ap.add_argument("--max-group-size", type=int, default=None,
                    help="the grouped studies' max_group_size (default: the study default, "
                         "8; --grid sgd's group of 20 is then 3 units of 7, 7 and 6)")
    ap.add_argument("--no-plain-again", action="store_true",
                    help="skip timing the plain loop a second time at the end (which shows "
                         "how far the machine's speed drifted during the run)")
    ap.add_argument("--plain-process", action="store_true",
                    help="(internal) run the plain loop and print its figures as JSON")
    args = ap.parse_args()
    if args.plain_process:
        plain_process(args)
        return
    device = torch.device(args.device)
    workers = args.workers if args.workers is not None else (1 if device.type == "cuda" else
                                                             os.cpu_count() or 1)

    data = {"name": "mnist", "root": args.root, "valid_fraction": 0.0}
    bundle = load_data(data)
    keys, seeds = GRIDS[args.grid]
    trials = [(o, lr, s) for o in keys["train.optimizer"] for lr in keys["train.lr"]
              for s in seeds]
    n_train = len(bundle.train)
    samples = len(trials) * args.epochs * n_train
    net = build_model(MODEL, bundle.input_shape, bundle.num_classes)
    per_sample = training_flops(net, bundle.input_shape)["training_flops_per_sample"]
    flops = samples * per_sample
    n_eval = n_train + len(bundle.test)
    work = len(trials) * matmul_work(net, n_train, n_eval, args.epochs)
    work_last = len(trials) * matmul_work(net, n_train, n_eval, args.epochs, evaluations=2)
    load = os.getloadavg()
    peak = matmul_peak(device)
    print(f"grid {args.grid}: {len(trials)} trials of MLP 784-100-10 ReLU, batch 64, "
          f"{args.epochs} epochs, {n_train} training images, device {device}, "
          f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    print(f"training FLOPs: {per_sample:,} per sample x {samples:,} samples = "
          f"{flops / 1e12:.3f} TFLOP (nnstudy's counting convention); products nnstudy computes "
          f"(training and per-epoch evaluation, 2 FLOPs a multiply-add): {work / 1e12:.3f} TFLOP")
    print(f"float32 matmul peak (4096^3 mm): {peak:.1f} GFLOP/s; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    plain_cmd = [sys.executable, __file__, "--plain-process", "--grid", args.grid, "--epochs",
                 str(args.epochs), "--device", args.device, "--root", args.root,
                 "--plain-threads", str(args.plain_threads)]
    plain_process_s, out = timed_process(plain_cmd)
    plain_run = json.loads(out.strip().splitlines()[-1])
    plain = plain_run["loop_s"]
    plain_acc = {(o, float(lr), int(s)): a for o, lr, s, a in plain_run["acc"]}
    server_s = warm_worker_server()
    ungrouped = run_study(study_of(args.grid, data, args.epochs, args.device, 1), workers)
    size = args.max_group_size
    grouped = run_study(study_of(args.grid, data, args.epochs, args.device, size), workers)
    at_end = run_study(study_of(args.grid, data, args.epochs, args.device, size, args.epochs),
                       workers)
    cli_s, record = cli_study(study_spec(args.grid, data, args.epochs, args.device, size))
    cli_end_s, record_end = cli_study(study_spec(args.grid, data, args.epochs, args.device,
                                                 size, args.epochs))

    def line(name: str, wall: float) -> str:
        gflops = flops / wall / 1e9
        return (f"{name:<22}{wall:8.1f} s  {plain / wall:5.2f}x  {samples / wall / 1e3:7.1f} k "
                f"samples/s  {gflops:7.1f} GFLOP/s  {gflops / peak:6.1%} of peak")

    print(f"{'':<22}{'wall':>10}  {'ratio':>5}")
    print(line("plain loop", plain) + f"   ({args.plain_threads} thread(s); its loop)")
    for name, (wall, _, phase, units), products in (
            ("nnstudy ungrouped", ungrouped, work), ("nnstudy grouped", grouped, work),
            ("grouped, eval at end", at_end, work_last)):
        gflops = products / (phase / workers) / 1e9
        print(line(name, wall) + f"   ({units} units, {workers} worker(s); training phase "
                                 f"{phase / workers:.1f} s, its products {gflops:.1f} GFLOP/s, "
                                 f"{gflops / peak:.1%} of peak)")
    print(f"(the workers' fork server was started before the nnstudy lines: "
          f"{server_s:.2f} s)")
    print(f"whole processes: plain loop {plain_process_s:.1f} s; `nnstudy study run` (grouped, "
          "report included):")
    for name, wall, rec in (("evaluating every epoch", cli_s, record),
                            (f"eval_every {args.epochs}", cli_end_s, record_end)):
        print(f"  {name:<24}{wall:6.1f} s  {plain_process_s / wall:5.2f}x   (its executor "
              f"{rec['wall_s']:.1f} s; first unit training "
              f"{rec.get('first_train_s', float('nan')):.2f} s after the executor started)")
    if not args.no_plain_again:  # how far the machine drifted while nnstudy ran
        again_s, out = timed_process(plain_cmd)
        again = json.loads(out.strip().splitlines()[-1])["loop_s"]
        print(f"plain loop again, at the end: its loop {again:.1f} s ({again / plain:.2f} of "
              f"the first), whole process {again_s:.1f} s")
    print(f"float32 matmul peak again: {matmul_peak(device):.1f} GFLOP/s; load average "
          f"after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    print("\ntest accuracy per trial: plain / ungrouped / grouped (nnstudy stops a model "
          "whose batch loss blows up: 'diverged')")
    for key in trials:
        o, lr, s = key
        (u, u_status), (g, g_status) = ungrouped[1][key], grouped[1][key]
        marks = {u_status, g_status} - {"done"}
        print(f"  {o:<9} lr {lr:<6g} seed {s}: {plain_acc[key]:7.2%} {u:7.2%} {g:7.2%}"
              f"{'  ' + '/'.join(sorted(marks)) if marks else ''}")
    ours_u = {k: v[0] for k, v in ungrouped[1].items()}
    ours_g = {k: v[0] for k, v in grouped[1].items()}
    diff_g = [abs(ours_g[k] - ours_u[k]) for k in trials]
    diff_p = [abs(ours_g[k] - plain_acc[k]) for k in trials]
    print(f"grouped vs ungrouped: {sum(d == 0 for d in diff_g)} of {len(trials)} equal, "
          f"largest difference {max(diff_g):.2%}")
    same = [k for k in trials if at_end[1][k] == grouped[1][k]]
    print(f"eval at end vs grouped (final test accuracy and status): {len(same)} of "
          f"{len(trials)} equal" + ("" if len(same) == len(trials) else ", differing: " + ", ".join(
              f"{o} lr {lr:g} ({grouped[1][(o, lr, s)][1]} -> {at_end[1][(o, lr, s)][1]})"
              for o, lr, s in trials if (o, lr, s) not in same)))
    print(f"grouped vs plain loop: median difference {statistics.median(diff_p):.2%}, "
          f"largest {max(diff_p):.2%}; mean accuracy plain "
          f"{statistics.mean(plain_acc.values()):.2%}, grouped "
          f"{statistics.mean(ours_g.values()):.2%}")


if __name__ == "__main__":
    main()
