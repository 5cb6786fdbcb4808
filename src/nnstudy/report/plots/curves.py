"""Learning curves: loss and accuracy per epoch for each split, one configuration or several.

For a configuration trained with several seeds the line is the mean over the seeds at each
epoch and the band their spread (`ci`: the Student t interval of the mean; `minmax`: the
lowest to the highest seed); the caption says which. Marked on the curves:
- the best epoch (the epoch whose weights were kept; for several seeds the mean of their
  best epochs, rounded): a star;
- a trial that stopped early: a bar at its last epoch, at its own value there;
- a diverged trial: drawn on its own (it is in no mean), ending with an X at its last
  finite value.
After a seed stops early the mean goes on over the seeds still training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from nnstudy.errors import ConfigError
from nnstudy.report.plots.figure import (
    SPLIT_COLOURS,
    SPLIT_STYLES,
    add_caption,
    category_colour,
    new_figure,
)
from nnstudy.report.plots.frames import as_float, configurations, require_columns
from nnstudy.report.plots.intervals import BANDS, Band, describe_band, spread_rows
from nnstudy.report.plots.text import config_label, percent_axis

SPLITS = ("train", "valid", "test")
METRICS = ("loss", "accuracy")
MARKERS = {"best": "*", "stopped": "|", "diverged": "X"}


def plot_learning_curves(
    epochs: pd.DataFrame,
    trials: pd.DataFrame | None = None,
    *,
    by: Sequence[str] = (),
    splits: Sequence[str] = SPLITS,
    metrics: Sequence[str] = METRICS,
    band: Band = "ci",
    level: float = 0.95,
    max_epochs: int | None = None,
    log_loss: bool = False,
    title: str | None = None,
) -> Figure:
    """Loss and accuracy against epoch, one panel per metric.

    Args:
        epochs: columns `epoch`, `split`, `loss`, `accuracy`, and `trial_id` (without it all
            rows are one trial: a run's history).
        trials: one row per trial, columns `trial_id` and `status` (done, diverged, ...);
            optional `best_epoch` (marked with a star), `stopped_early` (bool), and the `by`
            keys. Without it every trial is taken as done, with no best epoch. A one-row
            table without `trial_id` describes the only trial of `epochs`.
        by: keys that tell configurations apart (`train.optimizer`, `train.lr`); trials with
            the same values are seeds of one configuration. Empty: all trials are one.
        splits, metrics: what to draw (a subset of train/valid/test and loss/accuracy).
        band: `ci` (Student t interval of the mean at `level`) or `minmax`.
        max_epochs: the configured epoch count; a done trial that ended before it stopped
            early. Default: the `stopped_early` column if given, else the longest trial.
        log_loss: a logarithmic loss axis (the late epochs' small losses spread out).
        title: the figure's title (default `Learning curves`).

    One configuration: colour = split. Several: colour = configuration, line style = split.
    """
    if band not in BANDS:
        raise ConfigError(f"band: {band!r} is not one of {', '.join(BANDS)}")
    epochs, trials = _tables(epochs, trials, by)
    bad = [s for s in splits if s not in SPLITS]
    bad += [m for m in metrics if m not in METRICS]
    if bad or not splits or not metrics:
        raise ConfigError(f"learning curves: {bad or 'nothing'} to draw; splits are "
                          f"{', '.join(SPLITS)}, metrics {', '.join(METRICS)}")
    groups = configurations(trials, list(by))
    single = len(groups) == 1
    wide = {(s, m): epochs[epochs["split"] == s].pivot(index="epoch", columns="trial_id",
                                                       values=m)
            for s in splits for m in metrics}
    stopped = _stopped_early(epochs, trials, max_epochs)

    fig = new_figure(5.2 * len(metrics) + (0 if single else 2.2), 4.2)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    means: dict[str, list[float]] = {m: [] for m in metrics}  # what the axis limits follow
    bands: dict[str, list[float]] = {m: [] for m in metrics}
    drawn_markers: set[str] = set()
    seeds = 1
    for position, (values, rows) in enumerate(groups):
        members = trials.iloc[rows]
        label = config_label(values, list(by))
        diverged = members["status"].astype(str) == "diverged"
        ids = members.loc[~diverged, "trial_id"].tolist()
        lost = members.loc[diverged, "trial_id"].tolist()
        seeds = max(seeds, len(ids))
        best = _best_epoch(members[~diverged])
        for split in splits:
            colour = SPLIT_COLOURS[split] if single else category_colour(position)
            style = "-" if single else SPLIT_STYLES[split]
            for ax, metric in zip(axes, metrics, strict=True):
                table = wide[(split, metric)]
                tag = f"{label}|{split}|{metric}"
                curve = table[[i for i in ids if i in table.columns]]
                if curve.shape[1]:
                    mean, lo, hi, n = spread_rows(curve.to_numpy(), band, level)
                    x = curve.index.to_numpy()
                    has = n > 0
                    ax.plot(x[has], mean[has], style, color=colour, lw=1.8, gid=f"mean|{tag}")
                    means[metric] += list(mean[has])
                    bands[metric] += [*lo[np.isfinite(lo)], *hi[np.isfinite(hi)]]
                    if np.isfinite(lo).any():
                        ax.fill_between(x, lo, hi, color=colour, alpha=0.18, lw=0,
                                        gid=f"band|{tag}")
                    if best is not None and best in set(x[has]):
                        at = int(np.flatnonzero(x == best)[0])
                        ax.plot([best], [mean[at]], MARKERS["best"], ms=13, color=colour,
                                mec="black", mew=0.8, zorder=5, gid=f"best|{tag}")
                        drawn_markers.add("best")
                    for trial in curve.columns:
                        if stopped.get(trial, False):
                            e, v = _last_finite(curve[trial])
                            ax.plot([e], [v], MARKERS["stopped"], ms=16, mew=2.5,
                                    color=colour, zorder=5, gid=f"stopped|{trial}|{tag}")
                            drawn_markers.add("stopped")
                for trial in lost:
                    if trial not in table.columns:
                        continue
                    series = table[trial]
                    ok = np.isfinite(series.to_numpy(dtype=float))
                    if not ok.any():
                        continue
                    ax.plot(series.index[ok], series.to_numpy()[ok], style, color=colour,
                            lw=1.0, alpha=0.7, gid=f"diverged-line|{trial}|{tag}")
                    e, v = _last_finite(series)
                    ax.plot([e], [v], MARKERS["diverged"], ms=11, color=colour, mec="black",
                            mew=0.8, zorder=6, clip_on=False, gid=f"diverged|{trial}|{tag}")
                    drawn_markers.add("diverged")
        if single and best is not None:
            for ax in axes:
                ax.axvline(best, color="0.45", ls=":", lw=1.2, zorder=1, gid="best-epoch")

    for ax, metric in zip(axes, metrics, strict=True):
        _finish_axis(ax, metric, means[metric], bands[metric], log_loss and metric == "loss")
    best_text = "best epoch" + (f" {best}" if single and best is not None else "")
    best_text += f" (mean of {seeds} seeds)" if seeds > 1 else " (weights kept)"
    _legend(fig, axes[0], groups, by, splits, single, drawn_markers, best_text)
    fig.suptitle(title or "Learning curves", fontsize=13)
    caption = describe_band(band, level, seeds) if seeds > 1 else "one trial per line"
    add_caption(fig, caption)
    return fig


def _tables(epochs: pd.DataFrame, trials: pd.DataFrame | None, by: Sequence[str]
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    require_columns(epochs, ["epoch", "split", "loss", "accuracy"], "epochs")
    if "trial_id" not in epochs.columns:
        epochs = epochs.assign(trial_id="run")
    epochs = epochs.assign(trial_id=epochs["trial_id"].astype(str),
                           split=epochs["split"].astype(str),
                           loss=as_float(epochs["loss"]), accuracy=as_float(epochs["accuracy"]))
    if len(epochs) == 0:
        raise ConfigError("epochs: the table is empty; there is no curve to draw")
    ids = list(dict.fromkeys(epochs["trial_id"]))
    if trials is None:
        trials = pd.DataFrame({"trial_id": ids, "status": "done"})
    elif "trial_id" not in trials.columns:
        if len(trials) != 1 or len(ids) != 1:
            raise ConfigError("trials: no column 'trial_id', which is needed when there is "
                              f"more than one trial ({len(trials)} rows, {len(ids)} in epochs)")
        trials = trials.assign(trial_id=ids[0])
    require_columns(trials, ["trial_id", "status", *by], "trials")
    trials = trials.assign(trial_id=trials["trial_id"].astype(str))
    return epochs, trials.reset_index(drop=True)


def _stopped_early(epochs: pd.DataFrame, trials: pd.DataFrame, max_epochs: int | None
                   ) -> dict[str, bool]:
    """trial_id -> whether it stopped early (done, and ended before the last epoch)."""
    done = trials["status"].astype(str) == "done"
    if "stopped_early" in trials.columns and max_epochs is None:
        flags = trials["stopped_early"].fillna(False).astype(bool) & done
        return dict(zip(trials["trial_id"], flags, strict=True))
    last = epochs.groupby("trial_id")["epoch"].max()
    limit = max_epochs if max_epochs is not None else int(last.max())
    return {t: bool(d and t in last.index and last[t] < limit)
            for t, d in zip(trials["trial_id"], done, strict=True)}


def _best_epoch(members: pd.DataFrame) -> int | None:
    """The best epoch of one trial, or the rounded mean of several seeds' best epochs."""
    if "best_epoch" not in members.columns:
        return None
    values = as_float(members["best_epoch"])
    values = values[np.isfinite(values)]
    return round(float(values.mean())) if values.size else None


def _last_finite(series: pd.Series) -> tuple[int, float]:
    values = series.to_numpy(dtype=float)
    at = int(np.flatnonzero(np.isfinite(values))[-1])
    return int(series.index[at]), float(values[at])


def _finish_axis(ax: Axes, metric: str, means: list[float], bands: list[float],
                 log: bool) -> None:
    ax.set_xlabel("epoch (0 = before training)")
    ax.set_ylabel(metric + (" (log scale)" if log else ""))
    ax.set_title(metric, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if metric == "accuracy":
        percent_axis(ax)
    # A diverged trial's last loss can be 1e9: keep the axis on the trials that trained, and
    # put the X of a value beyond it on the edge (the markers are drawn with clip_on=False).
    centre = np.asarray(means, dtype=float)
    if not centre.size:
        return
    every = np.concatenate([centre, np.asarray(bands, dtype=float)])
    lo, hi = float(every.min()), float(every.max())
    # A t interval of three seeds reaches past 100% accuracy or below a loss of 0; the
    # quantity does not, so the axis stops where the means allow.
    if metric == "accuracy":
        lo, hi = max(lo, min(0.0, centre.min())), min(hi, max(1.0, centre.max()))
    elif centre.min() >= 0:
        lo = max(lo, 0.0)
    if log and centre.min() > 0:
        ax.set_yscale("log")
        lo = max(lo, centre.min() / 2)  # a band down to 0 would take the axis to -inf
        bottom, top = lo / 1.15, hi * 1.15
    else:
        pad = 0.05 * (hi - lo or abs(hi) or 1.0)
        bottom, top = lo - pad, hi + pad
    for line in ax.get_lines():
        if (line.get_gid() or "").startswith("diverged|"):
            line.set_ydata([min(max(float(line.get_ydata()[0]), bottom), top)])
    ax.set_ylim(bottom, top)


def _legend(fig: Figure, ax: Axes, groups, by: Sequence[str], splits: Sequence[str],
            single: bool, markers: set[str], best_text: str) -> None:
    handles: list[Line2D] = []
    if single:
        handles += [Line2D([], [], color=SPLIT_COLOURS[s], lw=2, label=s) for s in splits]
    else:
        handles += [Line2D([], [], color=category_colour(i), lw=3,
                           label=config_label(values, list(by)))
                    for i, (values, _) in enumerate(groups)]
        handles += [Line2D([], [], color="black", ls=SPLIT_STYLES[s], lw=1.5, label=s)
                    for s in splits]
    words = {"best": best_text, "stopped": "stopped early",
             "diverged": "diverged (last finite value)"}
    handles += [Line2D([], [], ls="", marker=MARKERS[k], color="0.4", mec="black", ms=10,
                       mew=0.8 if k != "stopped" else 2.5, label=words[k])
                for k in ("best", "stopped", "diverged") if k in markers]
    if single:
        ax.legend(handles=handles, fontsize=8, framealpha=0.9)
    else:
        fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
