"""The one trainer: G models of one architecture trained at once.

`train_group(specs, bundle)` takes G run specs that share the data, the architecture, the
optimizer and the batch size (see `nnstudy.training.grouping.group_key`) and may differ in
everything else: seed (initial weights and data order), learning rate and the optimizer's
other hyperparameters, L2, schedule, epochs, init, early stopping. A single run is G = 1.

Per epoch, each model sees the training set in its own order (seeded by its `seed`, so
configurations with the same seed see the same batches: paired comparisons), in batches of
`batch_size`; the G forward and backward passes are one batched computation
(`StackedModel`), and one batched optimizer step updates every model. When every model of
the group has one seed (a grid over hyperparameters at one seed), each batch is gathered
once and the MLP path multiplies it once by the models' first layers side by side. Then
every model is evaluated on train, valid and test in inference mode
(`evaluation.evaluate`), early stopping is applied per model (`early_stopping`), and a
model whose loss turned NaN or inf stops there, marked diverged. For small models on a CPU
with two or more threads, a helper thread does the evaluation of each epoch while the next
one trains (`train_group`'s `overlap`), with the same results.

With `train.eval_every: N` the group is evaluated after every N-th epoch and after each
model's last one instead of after every epoch (`_Group.evaluates`): epochs in between train
exactly as they would, and what an evaluation finds (metrics, divergence, early stopping,
the best epoch) is what it would find with N = 1, counted in evaluations (a patience of 5
is 5 evaluations) and judged only at evaluated epochs.

A model trains for `train.epochs`, or for `train.steps` optimizer steps (`budget`: its
last epoch may then stop part way, and is evaluated there). Its objective is its loss as
a batch mean or a batch sum (`train.loss_reduction`; the batched pass computes the mean,
and a sum model's gradient is scaled by the batch size), plus its L2 term. With
`train.log_every` it logs its running training loss every N steps (`step_log`). The
metrics per epoch stay per-sample means whatever the reduction, so that runs and splits
compare.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from nnstudy.config.run import RunSpec
from nnstudy.models import build_model
from nnstudy.training.batches import SPLITS, EvalBatches, TrainBatches
from nnstudy.training.budget import epochs_of
from nnstudy.training.device import resolve_device
from nnstudy.training.diagnostics import Signals, diagnose, signal_summary
from nnstudy.training.early_stopping import BestWeights, EarlyStopping
from nnstudy.training.evaluation import evaluate
from nnstudy.training.grouping import group_key, optimizer_hparams, per_model
from nnstudy.training.init import apply_init
from nnstudy.training.losses import l2_penalty, reduction_scale
from nnstudy.training.optimizers import make_optimizer
from nnstudy.training.schedules import lr_factor
from nnstudy.training.stacked import StackedModel
from nnstudy.training.step_log import StepLog

__all__ = ["SPLITS", "TrainedModel", "train_group"]

# Divergence, relative to the untrained model's training loss L0: a batch loss that is
# NaN, inf or above BLOWUP x L0 stops the model at once; a batch loss above SPIKE x L0
# counts when the epoch ends no better than the untrained model (a spike it recovers
# from, as RMSprop often shows early on, is not divergence).
BLOWUP = 100.0
SPIKE = 10.0

# Overlapping evaluation with training pays when one intra-op thread already runs a
# training step about as fast as two: small steps, where per-operation overhead and not
# arithmetic sets the pace. Measured on a 2-core CPU: the 784-100-10 MLP at batch 64
# (5.1M multiply-adds a step) trains no faster on 2 threads than on 1, while evaluation
# (one large product per split) runs twice as fast on 2.
OVERLAP_MAX_STEP_MACS = 8_000_000


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
    steps: list[dict[str, Any]] = field(default_factory=list)  # the step log's rows
    steps_run: int = 0                     # optimizer steps the model took
    samples_seen: int = 0                  # training samples over those steps
    l2_term: dict[str, float] | None = None  # lambda sum ||W||^2 at final, best (L2 on)


ProgressFn = Callable[[int, int, dict[str, float]], None]


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


@dataclass
class _ModelState:
    """Where one model of the group stands; `_Group` is its only writer.

    A model trains in epoch e while `training`, before it blew up and while e is within
    its `epochs`. Its status is settled epoch by epoch, in order (`_Group._settle`): a
    batch loss that blows up in epoch e freezes it at once (`blew_up_in` = e, its
    optimizer leaves it alone) and settles it as diverged when epoch e settles.
    """

    spec: RunSpec
    stopping: EarlyStopping
    epochs: int                    # the epochs it spans (`budget.epochs_of`)
    history: list[dict[str, Any]] = field(default_factory=list)
    training: bool = True          # still training after the last settled epoch
    blew_up_in: int | None = None  # the epoch a batch loss blew up in
    diverged: bool = False
    stopped_early: bool = False
    epochs_run: int = 0
    initial_loss: float = math.nan  # L0, the untrained model's training loss (floor 1e-3)
    steps_run: int = 0
    samples_seen: int = 0
    l2_terms: dict[int, float] = field(default_factory=dict)  # epoch -> lambda sum ||W||^2

    def trains_in(self, epoch: int) -> bool:
        return self.training and self.blew_up_in is None and epoch <= self.epochs


def _build_models(specs: Sequence[RunSpec], input_shape, num_classes: int) -> list:
    models = []
    for s in specs:
        # The seed alone fixes the initial weights: paired across configurations.
        net = build_model(s.model, input_shape, num_classes, seed=s.train.seed)
        torch.manual_seed(s.train.seed)
        models.append(apply_init(net, s.train.init, s.train.init_scale))
    return models


class _Group:
    """One group's training: the stacked models, the optimizer, the data order, and each
    model's `_ModelState`.

    Each model's status is settled epoch by epoch, in order, by `_settle(epoch)`: with
    evaluation overlapped, `_settle(e)` runs after epoch e + 1 trained, and a model that
    epoch e stops is rewound to its epoch-e weights, so what is recorded is the same.
    """

    def __init__(self, specs: list[RunSpec], bundle, device, progress, dtype) -> None:
        if len({group_key(s) for s in specs}) != 1:
            raise ValueError(
                "train_group: the specs differ in data, model, optimizer or batch size")
        dev = resolve_device(str(device or specs[0].device))
        if dev.type != "cpu" and not bundle.augmenter:
            # the data set goes to the GPU once; batches are gathered there (augmentation
            # draws from a CPU generator, so augmented data stays on the CPU)
            bundle = bundle.to(dev)
        self.specs, self.bundle, self.dev, self.dtype, self.progress = (
            specs, bundle, dev, dtype, progress)
        self.G = len(specs)
        self.t0 = t0 = specs[0].train
        has_valid = len(bundle.valid) > 0
        n_train = len(bundle.train)
        self.members = [_ModelState(s, EarlyStopping.of(s.train.early_stopping, has_valid),
                                    epochs_of(s.train, n_train)) for s in specs]
        self.models = _build_models(specs, bundle.input_shape, bundle.num_classes)
        self.n_params = sum(p.numel() for p in self.models[0].parameters())
        self.stacked = StackedModel(self.models).to(dev, dtype)
        self.opt = make_optimizer(t0.optimizer, list(self.stacked.params.values()),
                                  **optimizer_hparams(specs, dev))
        self.base_lr = per_model([s.train.lr for s in specs], dev)
        lam = per_model([s.train.l2 for s in specs], dev).to(dtype)
        self.lam = lam if bool((lam > 0).any()) else None
        self.weight_names = self.stacked.weight_names()
        self.sums = any(s.train.loss_reduction == "sum" for s in specs)
        self._objectives: dict[int, tuple[Tensor, Tensor | None]] = {}
        # the step each model's `train.steps` budget ends at (models trained by epochs end
        # with an epoch)
        self.budget_ends: dict[int, list[int]] = {}
        for g, s in enumerate(specs):
            if s.train.steps is not None:
                self.budget_ends.setdefault(s.train.steps, []).append(g)
        self.step = 0  # optimizer steps taken so far, counted over the whole run
        self.step_log = StepLog.of([s.train.log_every for s in specs],
                                   [s.train.l2 > 0 for s in specs], dev)

        # Each model's data order comes from its own seed; equal seeds share one order.
        self.gens = {s.train.seed: torch.Generator().manual_seed(s.train.seed) for s in specs}
        self.seeds = [s.train.seed for s in specs]
        # Models that share a seed see the same batches: gathered once, [1, B, ...], and
        # multiplied once by their first layers side by side (`DenseChain`); not with
        # augmentation, which draws each model's own variant of a sample.
        self.one_order = self.G > 1 and len(self.gens) == 1 and not bundle.augmenter
        torch.manual_seed(self.seeds[0])  # dropout masks: reproducible for the group
        self.train_batches = TrainBatches(
            bundle, dev, dtype, torch.Generator().manual_seed(self.seeds[0] + 1))
        self.eval_batches = EvalBatches(bundle, t0.eval_batch_size, dev, dtype,
                                        self.train_batches.cache)
        self.signals = Signals(self.G)
        self.epoch_times: list[float] = []
        self._last_info: dict[str, float] = {}  # the last evaluation's, for `progress`

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
        stacked, loss = self.stacked, self.t0.loss
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
            self._start(metrics)
            last = max(m.epochs for m in self.members)
            peak = [0.0] * self.G  # each model's largest batch loss since the last evaluation
            for epoch in range(1, last + 1):
                if not any(m.trains_in(epoch) for m in self.members):
                    break
                next_perms = self._draw_perms() if epoch < last else None
                next_ahead = self._gather_ahead(pool, next_perms)
                peak = [max(a, b) for a, b in
                        zip(peak, self._train_epoch(epoch, perms, ahead), strict=True)]
                perms, ahead = next_perms, next_ahead
                if not self.evaluates(epoch):
                    self._settle_pending(pending)  # epochs settle in order
                    pending = None
                    self._pass(epoch, range(self.G))
                    continue
                seen = peak
                peak = [0.0 if self._evaluated(m, epoch) else p
                        for m, p in zip(self.members, seen, strict=True)]
                if pool is None:
                    metrics = evaluate(stacked, self.eval_batches, loss)
                    self._settle(epoch, metrics, stacked, seen, rewind=False)
                    continue
                if epoch == last:  # the last evaluation overlaps nothing: every thread
                    self._settle_pending(pending)
                    pending = None
                    torch.set_num_threads(threads)
                    metrics = evaluate(stacked, self.eval_batches, loss)
                    self._settle(epoch, metrics, stacked, seen, rewind=False)
                    continue
                snapshot = stacked.snapshot()
                future = pool.submit(evaluate, snapshot, self.eval_batches, loss)
                self._settle_pending(pending)
                pending = (epoch, future, snapshot, seen)
            self._settle_pending(pending)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            torch.set_num_threads(threads)
        return self._results()

    def _evaluated(self, m: _ModelState, epoch: int) -> bool:
        """Whether model `m` is evaluated after `epoch`: every `train.eval_every`-th epoch
        and its last. A function of its own spec: its group mates do not change it."""
        return epoch % m.spec.train.eval_every == 0 or epoch == m.epochs

    def evaluates(self, epoch: int) -> bool:
        """Whether the group runs an evaluation after `epoch` (some model is evaluated)."""
        return any(self._evaluated(m, epoch) for m in self.members)

    def _pass(self, epoch: int, models: Iterable[int]) -> None:
        """Settle `epoch` for the `models` not evaluated after it: those that trained
        through it count it; one whose batch loss blew up in it is diverged, as `_settle`
        would find (its SPIKE rule waits for the model's next evaluation)."""
        for g in models:
            m = self.members[g]
            if not m.training or epoch > m.epochs:
                continue
            m.epochs_run = epoch
            if m.blew_up_in == epoch:
                m.training, m.diverged = False, True
        if self.progress is not None and not self.evaluates(epoch):
            self.progress(epoch, max(m.epochs for m in self.members), self._last_info)

    def _start(self, metrics: dict[str, Tensor]) -> None:
        """Record epoch 0, the untrained models: the first best epoch and L0."""
        self._record(0, metrics, [True] * self.G)
        self._record_l2(0, self.stacked, [True] * self.G)
        self.best_weights = BestWeights(self.stacked)
        for g, m in enumerate(self.members):
            m.stopping.update(0, float(metrics[m.stopping.metric][g]))
            m.initial_loss = max(float(metrics["train_loss"][g]), 1e-3)
        self.best_weights.save(self.stacked, [True] * self.G)

    def _settle_pending(self, pending: tuple | None) -> None:
        """Settle an epoch whose evaluation ran on the helper thread (waiting for it)."""
        if pending is not None:
            epoch, future, weights, peak = pending
            self._settle(epoch, future.result(), weights, peak, rewind=True)

    def _gather_ahead(self, pool: ThreadPoolExecutor | None, perms: Tensor | None,
                      ) -> Future | None:
        """The helper thread's gathering of the epoch in order `perms`, when it fits."""
        if pool is None or perms is None:
            return None
        if not self.train_batches.can_gather_epoch(perms.shape):
            return None
        return pool.submit(self.train_batches, perms)

    def _draw_perms(self) -> Tensor:
        """Each model's order of the training samples for the next epoch, [G, N]: one
        draw per seed and epoch from that seed's generator; [1, N] when the group has one
        seed (`one_order`: the models share their batches)."""
        n_train = len(self.bundle.train)
        perm_of = {s: torch.randperm(n_train, generator=gen) for s, gen in self.gens.items()}
        seeds = self.seeds[:1] if self.one_order else self.seeds
        return torch.stack([perm_of[s] for s in seeds]).to(self.dev)

    def _train_epoch(self, epoch: int, perms: Tensor, ahead: Future | None) -> list[float]:
        """One epoch of every training model, each in its order `perms` [G, N]; returns
        each model's largest batch loss. `ahead` is the helper thread's gathering of this
        epoch's samples: batches are slices of it once it is done, gathered here before."""
        dev, stacked, t0, members = self.dev, self.stacked, self.t0, self.members
        trains = [m.trains_in(epoch) for m in members]
        start = time.perf_counter()
        factors = per_model(
            [lr_factor(m.spec.train.schedule, epoch - 1, m.epochs) for m in members], dev)
        self.opt.set_lr(self.base_lr * factors)
        n_train, B = perms.shape[1], t0.batch_size
        epoch_data = None
        mask = None if all(trains) else torch.tensor(trains, device=dev)
        peak = [0.0] * self.G  # the epoch's largest batch loss per model (never NaN)
        blowup = [BLOWUP * m.initial_loss for m in members]
        frozen: dict[int, dict[str, Tensor]] = {}  # buffers of models whose budget ended
        for step, i in enumerate(range(0, n_train, B)):
            if epoch_data is None and ahead is not None and ahead.done():
                epoch_data = ahead.result()
            if epoch_data is not None:
                x, y = epoch_data[0][:, i : i + B], epoch_data[1][:, i : i + B]
            else:
                x, y = self.train_batches(perms[:, i : i + B])
            scale, lam = self._objective(x.shape[1])
            batch_loss, grads = stacked.loss_and_grads(x, y, t0.loss, lam, self.weight_names)
            if scale is not None:  # a sum model's gradient: B times its mean's
                for grad in grads:
                    grad.mul_(scale.view(-1, *([1] * (grad.dim() - 1))))
            blown = False
            for g, value in enumerate(batch_loss.tolist()):  # one copy of G numbers
                if value > peak[g]:
                    peak[g] = value
                if not value <= blowup[g] and trains[g]:  # NaN and inf fail `<=` too
                    trains[g] = False
                    members[g].blew_up_in = epoch
                    blown = True
            if blown:
                if not any(trains):
                    break
                mask = torch.tensor(trains, device=dev)
            if step == 0:
                self.signals.observe_gradients(stacked, grads, epoch)
            penalty = None
            if self.step_log is not None and self.step_log.wants_penalty and lam is not None:
                with torch.no_grad():  # at the weights this step's loss was computed with
                    penalty = l2_penalty(stacked.params, self.weight_names, self.lam)
            self.opt.step(grads, active=mask)
            self.step += 1
            for g, on in enumerate(trains):
                if on:
                    members[g].steps_run += 1
                    members[g].samples_seen += x.shape[1]
            if self.step_log is not None:
                logged = batch_loss if scale is None else batch_loss * scale
                self.step_log.add(self.step, epoch, logged, penalty, trains)
            ended = [g for g in self.budget_ends.get(self.step, ()) if trains[g]]
            if ended:  # these models took their last step; the others go on
                for g in ended:
                    trains[g] = False
                    frozen[g] = {k: v[g].clone() for k, v in stacked.buffers.items()}
                if not any(trains):
                    break
                mask = torch.tensor(trains, device=dev)
        if frozen and stacked.buffers:  # the forward passes after their last step moved
            with torch.no_grad():      # their batch-norm statistics: put them back
                for g, buffers in frozen.items():
                    for k, v in buffers.items():
                        stacked.buffers[k][g] = v
        self.epoch_times.append(time.perf_counter() - start)
        return peak

    def _objective(self, batch: int) -> tuple[Tensor | None, Tensor | None]:
        """For a batch of `batch` samples: each model's factor from its batch-mean loss to
        its objective, [G] (None when every model's is the mean), and the L2 strengths to
        pass with the mean loss: lambda / factor, so that the gradient of (mean loss +
        (lambda / factor) ||W||^2), times the factor, is that of (sum loss + lambda ||W||^2)."""
        if not self.sums:
            return None, self.lam
        cached = self._objectives.get(batch)
        if cached is None:
            scale = per_model([reduction_scale(s.train.loss_reduction, batch)
                               for s in self.specs], self.dev).to(self.dtype)
            lam = self.lam / scale if self.lam is not None else None
            cached = self._objectives[batch] = (scale, lam)
        return cached

    def _settle(self, epoch: int, metrics: dict[str, Tensor], weights: StackedModel,
                peak: list[float], rewind: bool) -> None:
        """Settle `epoch`: record its metrics, divergence, best weights, early stopping.

        `weights` holds the models as they were at the end of `epoch`; with `rewind`, a
        model this stops gets those weights back (it trained on meanwhile).
        """
        trained = [False] * self.G  # the models that trained through this epoch
        stopped = []
        self._pass(epoch, [g for g, m in enumerate(self.members)
                           if not self._evaluated(m, epoch)])
        for g, m in enumerate(self.members):
            if not m.training or epoch > m.epochs or not self._evaluated(m, epoch):
                continue
            m.epochs_run = epoch
            if m.blew_up_in == epoch:
                m.training, m.diverged = False, True
                continue
            trained[g] = True
            loss_now = float(metrics["train_loss"][g])
            if not math.isfinite(loss_now) or (
                    peak[g] > SPIKE * m.initial_loss and loss_now >= m.initial_loss):
                m.training, m.diverged = False, True
                stopped.append(g)
        self._record(epoch, metrics, trained)
        self._record_l2(epoch, weights, trained)
        improved = [False] * self.G
        for g, m in enumerate(self.members):
            if not trained[g] or m.diverged:
                continue
            improved[g], stop = m.stopping.update(epoch, float(metrics[m.stopping.metric][g]))
            if stop and m.training:
                m.training, m.stopped_early = False, True
                stopped.append(g)
        self.best_weights.save(weights, improved)
        for g, m in enumerate(self.members):
            if trained[g] and epoch == m.epochs:
                m.training = False
        if rewind and stopped:
            self.stacked.copy_models_from(weights, stopped)
        self._last_info = _progress_info(metrics, trained)
        if self.progress is not None:
            self.progress(epoch, max(m.epochs for m in self.members), self._last_info)

    def _record(self, epoch: int, metrics: dict[str, Tensor], models: list[bool]) -> None:
        """Append epoch `epoch`'s metrics to the history of the models where `models`."""
        for g, m in enumerate(self.members):
            if not models[g]:
                continue
            for split in SPLITS:
                if f"{split}_loss" in metrics:
                    m.history.append({
                        "epoch": epoch, "split": split,
                        "loss": float(metrics[f"{split}_loss"][g]),
                        "accuracy": float(metrics[f"{split}_accuracy"][g]),
                    })

    def _record_l2(self, epoch: int, weights: StackedModel, models: list[bool]) -> None:
        """Keep lambda sum ||W||^2 at epoch `epoch`'s weights for the models where `models`
        that have an L2 term (one reduction over the weights per epoch)."""
        if self.lam is None:
            return
        with torch.no_grad():
            terms = l2_penalty(weights.params, self.weight_names, self.lam).tolist()
        for g, m in enumerate(self.members):
            if models[g] and m.spec.train.l2 > 0:
                m.l2_terms[epoch] = terms[g]

    def _results(self) -> list[TrainedModel]:
        stacked = self.stacked
        self.signals.observe_dead_units(stacked, self.bundle, self.dev, self.dtype)
        self.signals.observe_data(self.bundle, start_finite=all(
            math.isfinite(m.initial_loss) for m in self.members))
        self.signals.settle([m.epochs_run for m in self.members])
        self.best_weights.restore(stacked)
        results = []
        for g, m in enumerate(self.members):
            best_epoch = m.stopping.best_epoch
            final_epoch = max(r["epoch"] for r in m.history)
            l2_term = ({"final": m.l2_terms[final_epoch], "best": m.l2_terms[best_epoch]}
                       if m.l2_terms else None)
            results.append(TrainedModel(
                spec=m.spec, history=m.history, epoch_times=self.epoch_times[: m.epochs_run],
                best_epoch=best_epoch, epochs_run=m.epochs_run,
                status="diverged" if m.diverged else "done",
                state_dict=stacked.state_dict(g),
                diagnostics=diagnose(g, m.spec, m.history, self.signals, self.models[0],
                                     self.bundle.num_classes, m.diverged),
                params=self.n_params, stopped_early=m.stopped_early,
                final=split_metrics(m.history, final_epoch, m.l2_terms.get(final_epoch)),
                best=split_metrics(m.history, best_epoch, m.l2_terms.get(best_epoch)),
                signals=signal_summary(g, self.signals),
                steps=self.step_log.rows[g] if self.step_log is not None else [],
                steps_run=m.steps_run, samples_seen=m.samples_seen, l2_term=l2_term,
            ))
        return results


def split_metrics(history: list[dict[str, Any]], epoch: int, l2_term: float | None = None
                  ) -> dict[str, dict[str, float]]:
    """Loss and accuracy per split at `epoch`; with an L2 term (lambda sum ||W||^2 at that
    epoch's weights), also the regularized loss: loss + L2 term."""
    out = {}
    for r in history:
        if r["epoch"] == epoch:
            out[r["split"]] = {"loss": r["loss"], "accuracy": r["accuracy"]}
            if l2_term is not None:
                out[r["split"]]["regularized_loss"] = r["loss"] + l2_term
    return out


def _progress_info(metrics: dict[str, Tensor], models: list[bool]) -> dict[str, float]:
    idx = [g for g, a in enumerate(models) if a] or list(range(len(models)))
    info = {}
    for key in ("train_loss", "valid_accuracy", "train_accuracy"):
        if key in metrics:
            vals = metrics[key][idx]
            info[key] = float(vals.mean())
    return info
