"""The one trainer: G models of one architecture trained at once.

`train_group(specs, bundle)` takes G run specs that share the data, the architecture, the
optimizer and the batch size (see `group_key`) and may differ in everything else:
seed (initial weights and data order), learning rate and the optimizer's other
hyperparameters, L2, schedule, epochs, init, early stopping. A single run is G = 1.

Per epoch, each model sees the training set in its own order (seeded by its `seed`, so
configurations with the same seed see the same batches: paired comparisons), in batches of
`batch_size`; the G forward and backward passes are one batched computation
(`StackedModel`), and one batched optimizer step updates every model. Then every model is
evaluated on train, valid and test in inference mode, early stopping is applied per model,
and a model whose loss turned NaN or inf stops there, marked diverged. For small models
on a CPU with two or more threads, a helper thread does the evaluation of each epoch
while the next one trains (`train_group`'s `overlap`), with the same results.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from nnstudy.config.run import RunSpec
from nnstudy.models import build_model
from nnstudy.training.diagnostics import Signals, diagnose, signal_summary
from nnstudy.training.init import apply_init
from nnstudy.training.losses import correct_counts, loss_sums
from nnstudy.training.optimizers import make_optimizer
from nnstudy.training.schedules import lr_factor
from nnstudy.training.stacked import StackedModel

SPLITS = ("train", "valid", "test")
# Divergence, relative to the untrained model's training loss L0: a batch loss that is
# NaN, inf or above BLOWUP x L0 stops the model at once; a batch loss above SPIKE x L0
# counts when the epoch ends no better than the untrained model (a spike it recovers
# from, as RMSprop often shows early on, is not divergence).
BLOWUP = 100.0
SPIKE = 10.0
_BOOL_HPARAMS = ("nesterov", "centered", "amsgrad", "decoupled_weight_decay")


def group_key(spec: RunSpec) -> str:
    """What G models trained together must share; specs with equal keys form one group."""
    import json

    t = spec.train
    hp = t.optimizer_hparams()
    shared = {
        "data": spec.data.model_dump(mode="json"),
        "model": spec.model,
        "optimizer": t.optimizer,
        "hparam_keys": sorted(hp),
        "flags": {k: hp[k] for k in _BOOL_HPARAMS if k in hp},
        "batch_size": t.batch_size,
        "loss": t.loss,
        "engine": t.engine,
        "eval_batch_size": t.eval_batch_size,
        "device": spec.device,
    }
    return json.dumps(shared, sort_keys=True, default=str)


@dataclass
class TrainedModel:
    """What training one model produced."""

    spec: RunSpec
    history: list[dict[str, Any]]          # rows: epoch, split, loss, accuracy
    epoch_times: list[float]               # wall seconds of each training epoch (group's)
    best_epoch: int
    epochs_run: int
    status: str                            # "done" or "diverged"
    state_dict: dict[str, Tensor]          # weights of the best epoch
    diagnostics: list[dict[str, Any]]
    params: int
    stopped_early: bool = False
    signals: dict[str, Any] = field(default_factory=dict)
    final: dict[str, dict[str, float]] = field(default_factory=dict)
    best: dict[str, dict[str, float]] = field(default_factory=dict)


ProgressFn = Callable[[int, int, dict[str, float]], None]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from nnstudy.errors import ConfigError

        raise ConfigError(f"device: {name!r} asked for, but torch sees no CUDA device")
    return dev


def _per_model(values: Sequence[Any], device: torch.device) -> Tensor:
    return torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)


def _optimizer_hparams(specs: Sequence[RunSpec], device: torch.device) -> dict[str, Any]:
    hps = [s.train.optimizer_hparams() for s in specs]
    out: dict[str, Any] = {}
    for key in hps[0]:
        values = [h[key] for h in hps]
        if key in _BOOL_HPARAMS:
            out[key] = values[0]
        elif key == "betas":
            out[key] = (_per_model([v[0] for v in values], device),
                        _per_model([v[1] for v in values], device))
        elif all(v == values[0] for v in values):
            out[key] = float(values[0])
        else:
            out[key] = _per_model(values, device)
    return out


def _build_models(specs: Sequence[RunSpec], input_shape, num_classes: int) -> list:
    models = []
    for s in specs:
        # The seed alone fixes the initial weights: paired across configurations.
        net = build_model(s.model, input_shape, num_classes, seed=s.train.seed)
        torch.manual_seed(s.train.seed)
        models.append(apply_init(net, s.train.init, s.train.init_scale))
    return models


class _BestTracker:
    """Per-model early stopping on one metric, with a copy of each model's best weights."""

    def __init__(self, specs: Sequence[RunSpec], stacked: StackedModel, has_valid: bool):
        es = [s.train.early_stopping for s in specs]
        default_metric = "valid_loss" if has_valid else "train_loss"
        self.metric = [e.metric if e else default_metric for e in es]
        self.maximize = [bool(e and e.maximize) for e in es]
        self.patience = [e.patience if e else None for e in es]
        self.min_delta = [e.min_delta if e else 0.0 for e in es]
        self.best_value = [math.inf * (-1 if m else 1) for m in self.maximize]
        self.best_epoch = [0] * len(specs)
        self.since_best = [0] * len(specs)
        self.best_params = {k: v.detach().clone() for k, v in stacked.params.items()}
        self.best_buffers = {k: v.clone() for k, v in stacked.buffers.items()}

    def update(self, epoch: int, metrics: dict[str, Tensor], stacked: StackedModel,
               active: list[bool]) -> list[bool]:
        """Record epoch `epoch`; return, per model, whether it should stop now."""
        improved, stop = [], []
        for g, name in enumerate(self.metric):
            if not active[g]:
                improved.append(False)
                stop.append(False)
                continue
            value = float(metrics[name][g])
            if math.isnan(value):
                better = False
            elif self.maximize[g]:
                better = value > self.best_value[g] + self.min_delta[g]
            else:
                better = value < self.best_value[g] - self.min_delta[g]
            if better or epoch == 0:
                self.best_value[g] = value if not math.isnan(value) else self.best_value[g]
                self.best_epoch[g] = epoch
                self.since_best[g] = 0
            else:
                self.since_best[g] += 1
            improved.append(better or epoch == 0)
            p = self.patience[g]
            stop.append(p is not None and self.since_best[g] >= p)
        if any(improved):
            mask = torch.tensor(improved, device=next(iter(stacked.params.values())).device)
            for k, v in stacked.params.items():
                self.best_params[k][mask] = v.detach()[mask]
            for k, v in stacked.buffers.items():
                self.best_buffers[k][mask] = v[mask]
        return stop

    def restore(self, stacked: StackedModel) -> None:
        with torch.no_grad():
            for k, v in stacked.params.items():
                v.copy_(self.best_params[k])
            for k, v in stacked.buffers.items():
                v.copy_(self.best_buffers[k])


# Data converted to the training dtype is kept in memory up to this size (per use).
CACHE_BYTES = 1 << 30


def _sample_bytes(bundle, dtype: torch.dtype) -> int:
    """Bytes of one input sample of `bundle` in `dtype`."""
    return math.prod(bundle.input_shape) * torch.finfo(dtype).bits // 8


class EvalBatches:
    """The evaluation batches of every split, converted once and kept in memory when they
    fit in CACHE_BYTES (else converted again at each evaluation)."""

    def __init__(self, bundle, batch_size: int, device: torch.device, dtype: torch.dtype,
                 train_inputs: Tensor | None = None):
        """`train_inputs`: the training split already converted (`TrainBatches.cache`);
        its batches are then slices of it, not copies."""
        self.bundle, self.batch_size, self.device, self.dtype = bundle, batch_size, device, dtype
        self.train_inputs = train_inputs
        total = sum(len(getattr(bundle, s)) for s in SPLITS) * _sample_bytes(bundle, dtype)
        self.cache = {s: list(self._make(s)) for s in SPLITS} if total <= CACHE_BYTES \
            else None

    def _make(self, split: str):
        data = getattr(self.bundle, split)
        if split == "train" and self.train_inputs is not None:
            y = data.y.to(self.device)
            for start in range(0, len(data), self.batch_size):
                stop = start + self.batch_size
                yield self.train_inputs[start:stop], y[start:stop]
            return
        for start in range(0, len(data), self.batch_size):
            idx = torch.arange(start, min(start + self.batch_size, len(data)))
            x = self.bundle.batch(split, idx).to(self.device, self.dtype)
            yield x, data.y[idx].to(self.device)

    def __call__(self, split: str):
        return self.cache[split] if self.cache is not None else self._make(split)


class TrainBatches:
    """The training batches: each model's samples `idx` [G, B] as inputs [G, B, ...].

    Without augmentation, the training split is converted to `dtype` on `device` once
    (when it fits in CACHE_BYTES) and a batch is one `index_select`; otherwise each
    batch is gathered and converted by `DataBundle.batch`, augmentation included.
    Called with a whole epoch's `perms` [G, N], it gathers the epoch at once (a helper
    thread does it ahead of time), so that each batch is then a slice.
    """

    def __init__(self, bundle, device: torch.device, dtype: torch.dtype,
                 generator: torch.Generator):
        self.bundle, self.device, self.dtype, self.generator = bundle, device, dtype, generator
        n = len(bundle.train)
        self.sample_bytes = _sample_bytes(bundle, dtype)
        self.cache = None
        if not bundle.augmenter and n * self.sample_bytes <= CACHE_BYTES:
            self.cache = bundle.batch("train", torch.arange(n)).to(device, dtype)
        self.y = bundle.train.y.to(device)

    def __call__(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Inputs [G, B, ...] and labels [G, B] of the samples `idx` [G, B]."""
        flat = idx.reshape(-1)
        y = self.y.index_select(0, flat).view(idx.shape)
        if self.cache is not None:
            x = self.cache.index_select(0, flat)
            return x.view(*idx.shape, *x.shape[1:]), y
        x = self.bundle.batch("train", idx, train=True, generator=self.generator)
        return x.to(self.device, self.dtype), y

    def can_gather_epoch(self, perms_shape: torch.Size) -> bool:
        """Whether an epoch of `perms_shape` [G, N] fits in EPOCH_GATHER_BYTES (cached data)."""
        return self.cache is not None and \
            math.prod(perms_shape) * self.sample_bytes <= EPOCH_GATHER_BYTES


# An epoch gathered ahead of time (the helper thread's work while the main one trains)
# may take this much memory; larger epochs are gathered batch by batch.
EPOCH_GATHER_BYTES = 256 << 20


@torch.no_grad()
def evaluate(stacked: StackedModel, batches: EvalBatches, loss: str) -> dict[str, Tensor]:
    """Loss and accuracy of every model on every non-empty split: `{split}_loss` [G]."""
    stacked.eval()
    out: dict[str, Tensor] = {}
    for split in SPLITS:
        n = len(getattr(batches.bundle, split))
        if n == 0:
            continue
        loss_sum = torch.zeros(stacked.G, dtype=torch.float64, device=batches.device)
        correct = torch.zeros(stacked.G, dtype=torch.float64, device=batches.device)
        for x, y in batches(split):
            logits = stacked(x, shared=True)
            loss_sum += loss_sums(loss, logits, y).double()
            correct += correct_counts(logits, y).double()
        out[f"{split}_loss"] = (loss_sum / n).cpu()
        out[f"{split}_accuracy"] = (correct / n).cpu()
    stacked.train()
    return out


# Overlapping evaluation with training pays when one intra-op thread already runs a
# training step about as fast as two: small steps, where per-operation overhead and not
# arithmetic sets the pace. Measured on a 2-core CPU: the 784-100-10 MLP at batch 64
# (5.1M multiply-adds a step) trains no faster on 2 threads than on 1, while evaluation
# (one large product per split) runs twice as fast on 2.
OVERLAP_MAX_STEP_MACS = 8_000_000


def train_group(
    specs: Sequence[RunSpec],
    bundle,
    device: str | torch.device | None = None,
    progress: ProgressFn | None = None,
    dtype: torch.dtype = torch.float32,
    overlap: bool | None = None,
) -> list[TrainedModel]:
    """Train the G models described by `specs` together on `bundle`; see the module doc.

    Args:
        specs: G run specs with one `group_key`.
        bundle: the data (`nnstudy.data.load_data`).
        device: overrides the specs' device ("cpu", "cuda", "auto").
        progress: called after each epoch with (epoch, epochs, mean metrics).
        dtype: float32, or float64 for exact comparisons.
        overlap: evaluate epoch e on a second CPU thread while epoch e + 1 trains.
            None (default) decides: on when the process has 2 or more threads, the
            device is the CPU and a training step is small (OVERLAP_MAX_STEP_MACS);
            training then runs on one intra-op thread and evaluation on another. The
            results are the same as without it: a model that evaluation stops (early
            stopping, divergence) is rewound to the evaluated weights.

    Denormal floats are flushed to zero while it runs (adaptive optimizers' state decays
    into them, and they are many times slower on CPUs), and not after.
    """
    threads = torch.get_num_threads()
    torch.set_flush_denormal(True)
    try:
        group = _Group(list(specs), bundle, device, progress, dtype)
        if overlap is None:
            overlap = (threads >= 2 and group.dev.type == "cpu"
                       and group.step_macs() <= OVERLAP_MAX_STEP_MACS)
        return group.run(overlap, threads)
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)


class _Group:
    """One group's training: its models, optimizer, data order and bookkeeping.

    Each model's status is settled epoch by epoch, in order, by `_finish(epoch)`: with
    evaluation overlapped, `_finish(e)` runs after epoch e + 1 trained, and a model that
    epoch e stops is rewound to its epoch-e weights, so what is recorded is the same.
    """

    def __init__(self, specs: list[RunSpec], bundle, device, progress, dtype) -> None:
        keys = {group_key(s) for s in specs}
        if len(keys) != 1:
            raise ValueError(
                "train_group: the specs differ in data, model, optimizer or batch size")
        dev = resolve_device(str(device or specs[0].device))
        if dev.type != "cpu" and not bundle.augmenter:
            # the data set goes to the GPU once; batches are gathered there (augmentation
            # draws from a CPU generator, so augmented data stays on the CPU)
            bundle = bundle.to(dev)
        self.specs, self.bundle, self.dev, self.dtype, self.progress = (
            specs, bundle, dev, dtype, progress)
        self.G = G = len(specs)
        self.t0 = t0 = specs[0].train
        self.models = _build_models(specs, bundle.input_shape, bundle.num_classes)
        self.n_params = sum(p.numel() for p in self.models[0].parameters())
        self.stacked = StackedModel(self.models).to(dev, dtype)
        self.opt = make_optimizer(t0.optimizer, list(self.stacked.params.values()),
                                  **_optimizer_hparams(specs, dev))
        self.base_lr = _per_model([s.train.lr for s in specs], dev)
        lam = _per_model([s.train.l2 for s in specs], dev).to(dtype)
        self.lam = lam if bool((lam > 0).any()) else None
        self.weight_names = self.stacked.weight_names()
        self.epochs = [s.train.epochs for s in specs]

        # Each model's data order comes from its own seed; equal seeds share one order.
        self.gens = {s.train.seed: torch.Generator().manual_seed(s.train.seed) for s in specs}
        self.seeds = [s.train.seed for s in specs]
        torch.manual_seed(self.seeds[0])  # dropout masks: reproducible for the group
        self.train_batches = TrainBatches(
            bundle, dev, dtype, torch.Generator().manual_seed(self.seeds[0] + 1))
        self.eval_batches = EvalBatches(bundle, t0.eval_batch_size, dev, dtype,
                                        self.train_batches.cache)

        self.history: list[list[dict[str, Any]]] = [[] for _ in specs]
        self.signals = Signals(G)
        self.active = [True] * G        # settled: still training after the last finish()
        self.frozen = [False] * G       # diverged in a batch, not yet settled: left alone
        self.step_diverged = [0] * G    # epoch whose batch loss blew up (not yet settled)
        self.diverged = [False] * G
        self.stopped_early = [False] * G
        self.epochs_run = [0] * G
        self.epoch_times: list[float] = []

    def step_macs(self) -> int:
        """Multiply-adds of the linear layers in one training forward pass of the group."""
        dense = self.stacked.dense
        if dense is None:
            return 1 << 62
        per_sample = sum(layer.module.in_features * layer.module.out_features
                         for layer in dense.layers if layer.kind == "linear")
        return self.G * self.t0.batch_size * per_sample

    # -- the epochs -------------------------------------------------------------------

    def run(self, overlap: bool, threads: int) -> list[TrainedModel]:
        """Train every epoch. With `overlap`, a helper thread evaluates epoch e while
        e + 1 trains, and gathers the samples of epoch e + 1 while e trains; both threads
        then run one intra-op thread each, and the evaluations before the first epoch
        and after the last, which nothing overlaps, use all `threads`."""
        stacked, G, loss = self.stacked, self.G, self.t0.loss
        pool = None
        pending = None  # (epoch, future of its metrics, its weights, its peak batch losses)
        try:
            metrics = evaluate(stacked, self.eval_batches, loss)
            if overlap:
                torch.set_num_threads(1)  # before the helper thread starts: it takes this too
                pool = ThreadPoolExecutor(1, initializer=torch.set_flush_denormal,
                                          initargs=(True,))
            perms = self._draw_perms()
            ahead = self._gather_ahead(pool, perms)
            self._record(0, metrics, [True] * G)
            self.tracker = _BestTracker(self.specs, stacked, has_valid="valid_loss" in metrics)
            self.tracker.update(0, metrics, stacked, [True] * G)
            self.initial_loss = metrics["train_loss"].clamp(min=1e-3).tolist()
            self.blowup = [BLOWUP * v for v in self.initial_loss]
            self.spike = [SPIKE * v for v in self.initial_loss]
            last = max(self.epochs)
            for epoch in range(1, last + 1):
                if not any(self._trains(epoch)):
                    break
                next_perms = self._draw_perms() if epoch < last else None
                next_ahead = self._gather_ahead(pool, next_perms)
                peak = self._train_epoch(epoch, perms, ahead)
                perms, ahead = next_perms, next_ahead
                if pool is None:
                    metrics = evaluate(stacked, self.eval_batches, loss)
                    self._finish(epoch, metrics, stacked, peak, rewind=False)
                    continue
                if epoch == last:  # the last evaluation overlaps nothing: every thread
                    self._settle(pending)
                    pending = None
                    torch.set_num_threads(threads)
                    metrics = evaluate(stacked, self.eval_batches, loss)
                    self._finish(epoch, metrics, stacked, peak, rewind=False)
                    continue
                snapshot = stacked.snapshot()
                future = pool.submit(evaluate, snapshot, self.eval_batches, loss)
                self._settle(pending)
                pending = (epoch, future, snapshot, peak)
            self._settle(pending)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            torch.set_num_threads(threads)
        return self._results()

    def _settle(self, pending: tuple | None) -> None:
        """Finish an epoch whose evaluation ran on the helper thread (waiting for it)."""
        if pending is not None:
            epoch, future, weights, peak = pending
            self._finish(epoch, future.result(), weights, peak, rewind=True)

    def _gather_ahead(self, pool: ThreadPoolExecutor | None, perms: Tensor | None,
                      ) -> Future | None:
        """The helper thread's gathering of the epoch in order `perms`, when it fits."""
        if pool is None or perms is None or not self.train_batches.can_gather_epoch(perms.shape):
            return None
        return pool.submit(self.train_batches, perms)

    def _draw_perms(self) -> Tensor:
        """Each model's order of the training samples for the next epoch, [G, N]: one
        draw per seed and epoch from that seed's generator."""
        n_train = len(self.bundle.train)
        perm_of = {s: torch.randperm(n_train, generator=gen) for s, gen in self.gens.items()}
        return torch.stack([perm_of[s] for s in self.seeds]).to(self.dev)

    def _trains(self, epoch: int) -> list[bool]:
        """Which models train in `epoch`: not settled out, not frozen, epochs left."""
        return [a and not f and epoch <= e
                for a, f, e in zip(self.active, self.frozen, self.epochs, strict=True)]

    def _train_epoch(self, epoch: int, perms: Tensor, ahead: Future | None) -> list[float]:
        """One epoch of every training model, each in its order `perms` [G, N]; returns
        each model's largest batch loss. `ahead` is the helper thread's gathering of this
        epoch's samples: batches are slices of it once it is done, gathered here before."""
        specs, dev, stacked, t0 = self.specs, self.dev, self.stacked, self.t0
        trains = self._trains(epoch)
        start = time.perf_counter()
        factors = _per_model(
            [lr_factor(s.train.schedule, epoch - 1, s.train.epochs) for s in specs], dev)
        self.opt.set_lr(self.base_lr * factors)
        n_train, B = perms.shape[1], t0.batch_size
        epoch_data = None
        mask = None if all(trains) else torch.tensor(trains, device=dev)
        peak = [0.0] * self.G  # the epoch's largest batch loss per model (never NaN)
        blowup = self.blowup
        for step, i in enumerate(range(0, n_train, B)):
            if epoch_data is None and ahead is not None and ahead.done():
                epoch_data = ahead.result()
            if epoch_data is not None:
                x, y = epoch_data[0][:, i : i + B], epoch_data[1][:, i : i + B]
            else:
                x, y = self.train_batches(perms[:, i : i + B])
            batch_loss, grads = stacked.loss_and_grads(x, y, t0.loss, self.lam,
                                                       self.weight_names)
            blown = False
            for g, value in enumerate(batch_loss.tolist()):  # one copy of G numbers
                if value > peak[g]:
                    peak[g] = value
                if not value <= blowup[g] and trains[g]:  # NaN and inf fail `<=` too
                    trains[g], self.frozen[g], self.step_diverged[g] = False, True, epoch
                    blown = True
            if blown:
                if not any(trains):
                    break
                mask = torch.tensor(trains, device=dev)
            if step == 0:
                self.signals.observe_gradients(stacked, grads, epoch)
            self.opt.step(grads, active=mask)
        self.epoch_times.append(time.perf_counter() - start)
        return peak

    def _finish(self, epoch: int, metrics: dict[str, Tensor], weights: StackedModel,
                peak: list[float], rewind: bool) -> None:
        """Settle `epoch`: record its metrics, divergence, best weights, early stopping.

        `weights` holds the models as they were at the end of `epoch`; with `rewind`, a
        model this stops gets those weights back (it trained on meanwhile).
        """
        G = self.G
        was = [False] * G   # models that trained through this epoch
        stopped = []
        for g in range(G):
            if not self.active[g] or epoch > self.epochs[g]:
                continue
            if self.step_diverged[g] == epoch:
                self.active[g], self.diverged[g], self.epochs_run[g] = False, True, epoch
                continue
            was[g] = True
            self.epochs_run[g] = epoch
            loss_now = float(metrics["train_loss"][g])
            if not math.isfinite(loss_now) or (
                    peak[g] > self.spike[g] and loss_now >= self.initial_loss[g]):
                self.active[g], self.diverged[g] = False, True
                stopped.append(g)
        self._record(epoch, metrics, was)
        stops = self.tracker.update(
            epoch, metrics, weights,
            [w and not d for w, d in zip(was, self.diverged, strict=True)])
        for g, stop in enumerate(stops):
            if stop and self.active[g]:
                self.active[g], self.stopped_early[g] = False, True
                stopped.append(g)
        for g in range(G):
            if was[g] and epoch == self.epochs[g]:
                self.active[g] = False
        if rewind and stopped:
            self.stacked.copy_models_from(weights, stopped)
        if self.progress is not None:
            self.progress(epoch, max(self.epochs), _progress_info(metrics, was))

    def _record(self, epoch: int, metrics: dict[str, Tensor], mask: list[bool]) -> None:
        for g in range(self.G):
            if not mask[g]:
                continue
            for split in SPLITS:
                if f"{split}_loss" in metrics:
                    self.history[g].append({
                        "epoch": epoch, "split": split,
                        "loss": float(metrics[f"{split}_loss"][g]),
                        "accuracy": float(metrics[f"{split}_accuracy"][g]),
                    })

    def _results(self) -> list[TrainedModel]:
        stacked, tracker = self.stacked, self.tracker
        self.signals.observe_dead_units(stacked, self.bundle, self.dev, self.dtype)
        self.signals.observe_data(self.bundle, start_finite=all(
            math.isfinite(v) for v in self.initial_loss))
        self.signals.settle(self.epochs_run)
        tracker.restore(stacked)
        results = []
        for g, s in enumerate(self.specs):
            history = self.history[g]
            results.append(TrainedModel(
                spec=s, history=history, epoch_times=self.epoch_times[: self.epochs_run[g]],
                best_epoch=tracker.best_epoch[g], epochs_run=self.epochs_run[g],
                status="diverged" if self.diverged[g] else "done",
                state_dict=stacked.state_dict(g),
                diagnostics=diagnose(g, s, history, self.signals, self.models[0],
                                     self.bundle.num_classes, self.diverged[g]),
                params=self.n_params, stopped_early=self.stopped_early[g],
                final=_split_metrics(history, max(r["epoch"] for r in history)),
                best=_split_metrics(history, tracker.best_epoch[g]),
                signals=signal_summary(g, self.signals),
            ))
        return results


def _split_metrics(history: list[dict[str, Any]], epoch: int) -> dict[str, dict[str, float]]:
    return {r["split"]: {"loss": r["loss"], "accuracy": r["accuracy"]}
            for r in history if r["epoch"] == epoch}


def _progress_info(metrics: dict[str, Tensor], active: list[bool]) -> dict[str, float]:
    idx = [g for g, a in enumerate(active) if a] or list(range(len(active)))
    info = {}
    for key in ("train_loss", "valid_accuracy", "train_accuracy"):
        if key in metrics:
            vals = metrics[key][idx]
            info[key] = float(vals.mean())
    return info
