"""Optimizer step time: our batched optimizers vs torch.optim (foreach) on G separate models.

The parameters are those of the 784-100-10 MLP (79,510 per model), float32, stacked
[G, ...] for ours and G separate sets (one torch.optim optimizer each, foreach=True)
for torch. Gradients are random but shaped like MNIST's: 15% of the input pixels are
zero in every training image of mnist-10k (their first-layer weight gradients are always
exactly 0, so Adam's and Adagrad's second moments stay 0 there), and about 37% are zero
in a batch of 64. Both sides step the same gradients; times are the best of several
rounds, interleaved, in the same process. `no floor` is ours with the sqrt floor off
(nnstudy.training.optimizers.base.sqrt_floor_value), to show what it buys.

    python benchmarks/bench_optimizers.py [--threads 1] [--steps 30] [--rounds 5]

Prints microseconds per step and the ratio torch / ours (above 1: ours is faster).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from nnstudy.training.optimizers import base, make_optimizer

SHAPES = [(100, 784), (100,), (10, 100), (10,)]
TORCH = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adam": (torch.optim.Adam, {}),
    "adam-amsgrad": (torch.optim.Adam, {"amsgrad": True}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adadelta": (torch.optim.Adadelta, {}),
    "adagrad": (torch.optim.Adagrad, {}),
}
OURS = {"adam-amsgrad": ("adam", {"amsgrad": True})}
SQRT = {"adam", "adam-amsgrad", "rmsprop", "adagrad"}


def mnist_like_grads(G: int, steps: int, gen: torch.Generator) -> list[list[torch.Tensor]]:
    """`steps` gradient sets [G, ...]: fixed 15% and per-step 22% more zero input columns."""
    always_zero = torch.rand(784, generator=gen) < 0.15
    out = []
    for _ in range(steps):
        grads = [torch.randn(G, *s, generator=gen) * 1e-2 for s in SHAPES]
        zero = always_zero | (torch.rand(784, generator=gen) < 0.26)
        grads[0][:, :, zero] = 0.0
        out.append(grads)
    return out


def best_time(fn: Callable[[int], None], steps: int) -> float:
    start = time.perf_counter()
    for i in range(steps):
        fn(i)
    return (time.perf_counter() - start) / steps


def bench(case: str, G: int, per_model_lr: bool, steps: int, rounds: int) -> dict[str, float]:
    gen = torch.Generator().manual_seed(0)
    grads = mnist_like_grads(G, steps, gen)
    lr = torch.linspace(1e-3, 2e-3, G, dtype=torch.float64) if per_model_lr else 1e-3
    name, extra = OURS.get(case, (case, {}))
    cls, torch_extra = TORCH[case]

    def ours_optimizer() -> tuple[list[torch.Tensor], base.BatchedOptimizer]:
        params = [torch.randn(G, *s, generator=gen) for s in SHAPES]
        return params, make_optimizer(name, params, lr=lr, **extra)

    _, ours = ours_optimizer()
    floor = base.sqrt_floor_value
    base.sqrt_floor_value = lambda scale, dtype: 0.0
    try:
        _, no_floor = ours_optimizer()
    finally:
        base.sqrt_floor_value = floor

    models = [[torch.randn(*s, generator=gen).requires_grad_(True) for s in SHAPES]
              for _ in range(G)]
    lrs = lr.tolist() if isinstance(lr, torch.Tensor) else [lr] * G
    theirs = [cls(m, lr=lrs[g], foreach=True, **torch_extra) for g, m in enumerate(models)]
    unstacked = [[[t[g] for t in gs] for g in range(G)] for gs in grads]

    def torch_step(i: int) -> None:
        for m, opt, gs in zip(models, theirs, unstacked[i], strict=True):
            for p, gr in zip(m, gs, strict=True):
                p.grad = gr
            opt.step()

    runs = {"ours": lambda i: ours.step(grads[i]), "torch": torch_step}
    if case in SQRT:
        runs["no floor"] = lambda i: no_floor.step(grads[i])
    for fn in runs.values():  # warm up: state past its first steps
        for i in range(steps):
            fn(i)
    best = {k: float("inf") for k in runs}
    for _ in range(rounds):
        for k, fn in runs.items():
            best[k] = min(best[k], best_time(fn, steps))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print(f"torch {torch.__version__}, {args.threads} thread(s), float32, 784-100-10 MLP "
          f"(79,510 parameters per model); us per step, best of {args.rounds} x {args.steps}")
    header = f"{'optimizer':<13} {'G':>3} {'lr':<9} {'ours':>9} {'torch':>9} {'torch/ours':>10}"
    print(header + f" {'no floor':>9}")
    for G, per_model in ((1, False), (20, False), (20, True)):
        for case in TORCH:
            t = bench(case, G, per_model, args.steps, args.rounds)
            row = (f"{case:<13} {G:>3} {'per-model' if per_model else 'shared':<9} "
                   f"{t['ours'] * 1e6:>9.0f} {t['torch'] * 1e6:>9.0f} "
                   f"{t['torch'] / t['ours']:>10.2f}")
            if "no floor" in t:
                row += f" {t['no floor'] * 1e6:>9.0f}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
