"""`train.engine: numpy`: train with the NumPy reference engine, every number visible.

The model is built from its spec exactly as the torch engine builds it (same seed, same
initial weights), read into `nnstudy.reference`, and trained there by plain or momentum
SGD (`MinibatchGD`) over the same per-epoch orders of examples as the torch trainer draws
for that seed; so the curve equals the torch engine's to float tolerance (tested). Slower,
and limited to what reports 001 and 002 do: MLPs and softmax regression, sgd and momentum,
L2, a mean or summed loss.

Everything around the steps follows the torch trainer's rules, from the same code: the
step budget (`budget`), the step log (`step_log`), divergence (the trainer's BLOWUP and
SPIKE), early stopping and the best epoch's weights (`early_stopping`), the L2 term at
each epoch, and the diagnostics from the same evidence (`diagnostics`: the weight-gradient
norms of the first batch of each epoch, the dead ReLU units of the last weights, the
classes and non-finite inputs of the data). A run therefore writes the same metrics.csv
rows and summary.json keys with either engine.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from nnstudy.config.run import RunSpec
from nnstudy.errors import ConfigError
from nnstudy.models import build_model
from nnstudy.models.to_reference import from_torch
from nnstudy.reference.activations import ReLU
from nnstudy.reference.network import Network
from nnstudy.reference.train import MinibatchGD, evaluate
from nnstudy.training.budget import epochs_of
from nnstudy.training.diagnostics import Signals, diagnose, signal_summary
from nnstudy.training.early_stopping import EarlyStopping
from nnstudy.training.init import apply_init
from nnstudy.training.schedules import lr_factor
from nnstudy.training.stacked import StackedModel
from nnstudy.training.step_log import StepLog
from nnstudy.training.trainer import BLOWUP, SPIKE, SPLITS, TrainedModel, split_metrics

DEAD_UNIT_SAMPLES = 1000  # as the torch trainer's dead-unit check


def train_with_numpy(spec: RunSpec, bundle) -> TrainedModel:
    """Train `spec` on `bundle` with the reference engine; metrics as the torch trainer's."""
    t = spec.train
    if t.optimizer not in ("sgd", "momentum"):
        raise ConfigError(f"train.optimizer: {t.optimizer!r} with engine numpy; the reference "
                          "engine trains with sgd or momentum")
    net = build_model(spec.model, bundle.input_shape, bundle.num_classes, seed=t.seed)
    torch.manual_seed(t.seed)
    apply_init(net, t.init, t.init_scale)
    network = from_torch(net.double())
    weights = StackedModel([net]).weight_names()  # the L2 term's and the diagnostics'
    arrays = {s: (bundle.batch(s, torch.arange(len(getattr(bundle, s)))).double().numpy(),
                  getattr(bundle, s).y.numpy()) for s in SPLITS if len(getattr(bundle, s))}
    gd = MinibatchGD(network, optimizer=t.optimizer,
                     momentum=t.optimizer_hparams().get("momentum", 0.9), l2=t.l2,
                     loss=t.loss, reduction=t.loss_reduction, decayed=weights)
    run = _Run(spec, network, gd, arrays, weights, len(bundle.valid) > 0)
    run.train(torch.Generator().manual_seed(t.seed), epochs_of(t, len(bundle.train)))

    signals = Signals(1)
    for epoch, norms in run.grad_norms.items():
        signals.record_gradient_norms(epoch, {k: torch.tensor([v], dtype=torch.float64)
                                              for k, v in norms.items()})
    signals.settle([run.epochs_run])
    signals.dead_fraction = _dead_fractions(network, arrays)  # the last weights, as torch
    signals.observe_data(bundle, start_finite=math.isfinite(run.initial_loss))
    run.restore_best()
    state = {k: torch.from_numpy(np.ascontiguousarray(v)).float()
             for k, v in network.params().items()}
    full = net.float().state_dict()
    full.update(state)
    best_epoch = run.stopping.best_epoch
    final_epoch = max(r["epoch"] for r in run.history)
    return TrainedModel(
        spec=spec, history=run.history, epoch_times=run.epoch_times, best_epoch=best_epoch,
        epochs_run=run.epochs_run, status="diverged" if run.diverged else "done",
        state_dict=full,
        diagnostics=diagnose(0, spec, run.history, signals, net, bundle.num_classes,
                             run.diverged),
        params=sum(p.numel() for p in net.parameters()), stopped_early=run.stopped_early,
        signals=signal_summary(0, signals),
        final=split_metrics(run.history, final_epoch, run.l2_terms.get(final_epoch)),
        best=split_metrics(run.history, best_epoch, run.l2_terms.get(best_epoch)),
        steps=run.log.rows[0] if run.log is not None else [],
        steps_run=run.steps_run, samples_seen=run.samples_seen,
        l2_term=({"final": run.l2_terms[final_epoch], "best": run.l2_terms[best_epoch]}
                 if run.l2_terms else None),
    )


class _Run:
    """One model's epochs on the reference engine, with the torch trainer's rules."""

    def __init__(self, spec: RunSpec, network: Network, gd: MinibatchGD,
                 arrays: dict[str, tuple[np.ndarray, np.ndarray]], weights: list[str],
                 has_valid: bool) -> None:
        self.spec, self.network, self.gd, self.arrays = spec, network, gd, arrays
        self.weights = weights
        t = spec.train
        self.stopping = EarlyStopping.of(t.early_stopping, has_valid)
        self.log = StepLog.of([t.log_every], [t.l2 > 0], torch.device("cpu"))
        self.history: list[dict] = []
        self.epoch_times: list[float] = []
        self.grad_norms: dict[int, dict[str, float]] = {}  # epoch -> weight -> norm
        self.l2_terms: dict[int, float] = {}
        self.best = self._copy()
        self.epochs_run = self.steps_run = self.samples_seen = 0
        self.diverged = self.stopped_early = False
        self.initial_loss = math.nan

    def train(self, gen: torch.Generator, epochs: int) -> None:
        """Epoch 0 (the untrained model), then each epoch until the budget, early stopping
        or divergence ends it."""
        t = self.spec.train
        x_train, y_train = self.arrays["train"]
        n = len(x_train)
        metrics = self._evaluate(0)
        self.initial_loss = max(metrics["train"], 1e-3)
        self.stopping.update(0, self._metric(0))
        step = 0
        for epoch in range(1, epochs + 1):
            order = torch.randperm(n, generator=gen).numpy()  # the torch trainer's order
            lr = t.lr * lr_factor(t.schedule, epoch - 1, epochs)
            start = time.perf_counter()
            peak, blew_up = 0.0, False
            for b, i in enumerate(range(0, n, t.batch_size)):
                idx = order[i : i + t.batch_size]
                batch = self.gd.gradient(x_train[idx], y_train[idx])
                mean = batch.loss / len(idx) if t.loss_reduction == "sum" else batch.loss
                peak = max(peak, mean)
                if not mean <= BLOWUP * self.initial_loss:  # NaN and inf fail `<=` too
                    blew_up = True
                    break
                if b == 0:
                    self.grad_norms[epoch] = {k: float(np.linalg.norm(batch.grads[k]))
                                              for k in self.weights}
                self.gd.update(batch.grads, lr)
                step += 1
                self.steps_run += 1
                self.samples_seen += len(idx)
                if self.log is not None:
                    self.log.add(step, epoch, torch.tensor([batch.loss], dtype=torch.float64),
                                 torch.tensor([batch.penalty], dtype=torch.float64), [True])
                if step == t.steps:
                    break
            self.epoch_times.append(time.perf_counter() - start)
            self.epochs_run = epoch
            if blew_up:
                self.diverged = True
                return
            metrics = self._evaluate(epoch)
            if not math.isfinite(metrics["train"]) or (
                    peak > SPIKE * self.initial_loss and metrics["train"] >= self.initial_loss):
                self.diverged = True
                return
            improved, stop = self.stopping.update(epoch, self._metric(epoch))
            if improved:
                self.best = self._copy()
            if stop:
                self.stopped_early = True
                return

    def _evaluate(self, epoch: int) -> dict[str, float]:
        """Record epoch `epoch`: loss and accuracy per split (eval mode), the L2 term."""
        losses = {}
        for split, (x, y) in self.arrays.items():
            loss, acc = evaluate(self.network, x, y, self.spec.train.loss)
            self.history.append({"epoch": epoch, "split": split, "loss": float(loss),
                                 "accuracy": float(acc)})
            losses[split] = float(loss)
        if self.gd.l2:
            self.l2_terms[epoch] = self.gd.l2 * sum(
                float((self.gd.params[k] ** 2).sum()) for k in self.weights)
        return losses

    def _metric(self, epoch: int) -> float:
        """The early-stopping metric at `epoch` (valid_loss, train_accuracy, ...)."""
        split, _, kind = self.stopping.metric.partition("_")
        return next(r[kind] for r in self.history if r["epoch"] == epoch and r["split"] == split)

    def _copy(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.network.params().items()}

    def restore_best(self) -> None:
        """Put the best epoch's weights back into the network."""
        for k, v in self.network.params().items():
            v[...] = self.best[k]


def _dead_fractions(network: Network, arrays: dict[str, tuple[np.ndarray, np.ndarray]]
                    ) -> dict[str, torch.Tensor]:
    """Per ReLU layer, the fraction of its units that are zero for every sample of the
    first DEAD_UNIT_SAMPLES of the validation split (the training split without one), in
    eval mode: the torch trainer's `Signals.observe_dead_units`."""
    x = arrays["valid"][0] if "valid" in arrays else arrays["train"][0]
    h = x[:DEAD_UNIT_SAMPLES]
    if len(h) == 0:
        return {}
    network.eval()
    out = {}
    for name, layer in network.layers:
        h = layer.forward(h)
        if isinstance(layer, ReLU):
            fired = (h.reshape(len(h), -1) > 0).any(axis=0)
            out[name] = torch.tensor([float((~fired).mean())], dtype=torch.float64)
    network.train()
    return out
