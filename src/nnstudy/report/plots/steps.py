"""The running training loss per mini-batch: the per-iteration curves of reports 001 and 002
and the "loss every 2,000 mini-batches" of report 003, from the step log that
`train.log_every: N` keeps (a run's `steps.csv`, a study's `StudyResult.steps`).

Each logged point at step s is the mean training loss over the N steps before it (s - N + 1
to s), so the curve is smoother than single batches and lags them by N/2 steps. With L2 on,
the regularized loss (data loss + L2 term) is drawn dashed beside the data loss. Over several
seeds the line is their mean and the band their spread (`ci` or `minmax`); a diverged trial is
drawn alone and ends with an X at its last finite value, as on the learning curves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from nnstudy.errors import ConfigError
from nnstudy.report.plots.figure import add_caption, category_colour, new_figure
from nnstudy.report.plots.frames import as_float, configurations, require_columns
from nnstudy.report.plots.intervals import BANDS, Band, describe_band, spread_rows
from nnstudy.report.plots.text import config_label

LOSS = "train_loss_running"
REGULARIZED = "train_regularized_loss_running"


def plot_step_losses(
    steps: pd.DataFrame,
    trials: pd.DataFrame | None = None,
    *,
    by: Sequence[str] = (),
    band: Band = "ci",
    level: float = 0.95,
    log_loss: bool = False,
    title: str | None = None,
) -> Figure:
    """The running training loss against the mini-batch step, one line per configuration.

    Args:
        steps: columns `step` and `train_loss_running`, optional `trial_id` (without it all
            rows are one run), `train_regularized_loss_running` (drawn dashed where finite)
            and `epoch`.
        trials: one row per trial with `trial_id`, `status` and the `by` keys (a study's
            `StudyResult.trials`). Without it every trial of `steps` is taken as done.
        by: keys that tell configurations apart; trials with equal values are seeds of one.
        band: `ci` (Student t interval of the mean at `level`) or `minmax`.
        log_loss: a logarithmic loss axis.
        title: the figure's title (default `Running training loss`).

    Example:
        >>> fig = plot_step_losses(result.steps, result.trials, by=["model.mlp.hidden"])
        >>> save_figure(fig, "steps.png")
    """
    if band not in BANDS:
        raise ConfigError(f"band: {band!r} is not one of {', '.join(BANDS)}")
    steps, trials = _tables(steps, trials, by)
    regularized = REGULARIZED in steps.columns and np.isfinite(steps[REGULARIZED]).any()
    columns = [LOSS, REGULARIZED] if regularized else [LOSS]
    wide = {c: steps.pivot(index="step", columns="trial_id", values=c) for c in columns}
    groups = configurations(trials, list(by))
    single = len(groups) == 1

    fig = new_figure(7.5 if single else 9.5, 4.4)
    ax = fig.subplots()
    handles: list[Line2D] = []
    seeds, lost_any = 1, False
    for position, (values, rows) in enumerate(groups):
        members = trials.iloc[rows]
        label = config_label(values, list(by)) if by else "training loss"
        colour = category_colour(position)
        diverged = members["status"].astype(str) == "diverged"
        ids = [i for i in members.loc[~diverged, "trial_id"] if i in wide[LOSS].columns]
        lost = [i for i in members.loc[diverged, "trial_id"] if i in wide[LOSS].columns]
        seeds = max(seeds, len(ids))
        for column in columns:
            style = "--" if column == REGULARIZED else "-"
            table = wide[column]
            tag = f"{label}|{column}"
            if ids:
                mean, lo, hi, n = spread_rows(table[ids].to_numpy(), band, level)
                x = table.index.to_numpy()
                has = n > 0
                ax.plot(x[has], mean[has], style, color=colour, lw=1.6,
                        gid=f"mean|{tag}")
                if column == LOSS:
                    handles.append(Line2D([], [], color=colour, lw=1.6,
                                          label=f"{label} ({len(ids)} seed"
                                                f"{'s' if len(ids) != 1 else ''})"))
                if np.isfinite(lo).any():
                    ax.fill_between(x, lo, hi, color=colour, alpha=0.18, lw=0,
                                    gid=f"band|{tag}")
            for trial in lost:
                series = table[trial].dropna()
                finite = series[np.isfinite(series.to_numpy(dtype=float))]
                if finite.empty:
                    continue
                ax.plot(finite.index, finite.to_numpy(), style, color=colour, lw=1.0,
                        alpha=0.7, gid=f"diverged-line|{trial}|{tag}")
                ax.plot([finite.index[-1]], [finite.iloc[-1]], "X", ms=10, color=colour,
                        mec="black", mew=0.8, zorder=6, gid=f"diverged|{trial}|{tag}")
                lost_any = True
    if regularized:
        handles.append(Line2D([], [], color="0.3", ls="--", label="data + L2 term"))
    if lost_any:
        handles.append(Line2D([], [], ls="", marker="X", color="0.3", mec="black",
                              label="diverged"))
    ax.set_xlabel("mini-batch (step)")
    ax.set_ylabel("training loss, running mean")
    if log_loss:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if handles:
        ax.legend(handles=handles, fontsize=8,
                  **({} if single else {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}))
    fig.suptitle(title or "Running training loss", fontsize=13)
    every = _window(steps)
    window = f"each point: the mean over the {every} steps before it; " if every else ""
    add_caption(fig, window + (describe_band(band, level, seeds) if seeds > 1
                               else "one trial per line"))
    return fig


def _tables(steps: pd.DataFrame, trials: pd.DataFrame | None, by: Sequence[str]
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    require_columns(steps, ["step", LOSS], "steps")
    if len(steps) == 0:
        raise ConfigError("steps: the table is empty; train with `train.log_every: N` to "
                          "log the running loss every N steps")
    if "trial_id" not in steps.columns:
        steps = steps.assign(trial_id="run")
    steps = steps.assign(trial_id=steps["trial_id"].astype(str), step=as_float(steps["step"]),
                         **{LOSS: as_float(steps[LOSS])})
    if REGULARIZED in steps.columns:
        steps = steps.assign(**{REGULARIZED: as_float(steps[REGULARIZED])})
    ids = list(dict.fromkeys(steps["trial_id"]))
    if trials is None:
        trials = pd.DataFrame({"trial_id": ids, "status": "done"})
    require_columns(trials, ["trial_id", "status", *by], "trials")
    trials = trials.assign(trial_id=trials["trial_id"].astype(str))
    trials = trials[trials["trial_id"].isin(ids)].reset_index(drop=True)
    if trials.empty:
        raise ConfigError("steps: no trial of the trials table has logged steps")
    return steps, trials


def _window(steps: pd.DataFrame) -> int | None:
    """The logging interval N, when every trial logs at the same one."""
    gaps = steps.sort_values("step").groupby("trial_id")["step"].diff().dropna().unique()
    return int(gaps[0]) if len(gaps) == 1 else None
