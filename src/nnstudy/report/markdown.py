"""report.md: what a study found, in the order a reader asks for it.

1. the header: study, data, model, machine, wall time, grid, seeds, trials done/diverged/failed;
2. the best configuration overall or per group of keys (the reports' "best learning rate per
   optimizer" table), with train/valid/test loss and accuracy and the best epoch;
3. whether the winner is distinguishable from the runner-up (and, per group, the group's
   winner from its runner-up), in words;
4. every configuration: mean ± 95% interval over seeds, sorted by the select metric, with cost
   (epochs run, wall time, training FLOPs) beside it;
5. main effects of each grid key;
6. every trial; failed trials with their error; diagnostics of the trials that have findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nnstudy.report.labels import (
    comparison_sentence,
    config_label,
    effect_label,
    format_effect,
    format_level,
    format_value,
    metric_kind,
    metric_title,
    short_key,
)
from nnstudy.report.tables import (
    fmt_count,
    fmt_float,
    fmt_int,
    fmt_interval,
    fmt_mean_pm,
    fmt_seconds,
    is_missing,
    markdown_table,
)
from nnstudy.study.aggregate import (
    aggregate,
    best_per,
    compare,
    compare_per,
    main_effects,
    resolve_mode,
)
from nnstudy.study.trials import SUMMARY_METRICS, grid_keys, has_metric, metric_column

SUMMARY = ("train_loss", "valid_loss", "test_loss", "train_accuracy", "valid_accuracy",
           "test_accuracy")


def _selection_text(metric: str, mode: str, per: Sequence[str], keys: Sequence[str]) -> str:
    where = ("at each trial's best epoch" if not metric.startswith("final_")
             and metric.removeprefix("best_") in SUMMARY_METRICS else "")
    better = "lower is better" if mode == "min" else "higher is better"
    scope = (f"best per {', '.join(short_key(p, keys) for p in per)}" if per
             else "best overall")
    return ", ".join(x for x in (f"{metric_title(metric)} {where}".strip(), better, scope) if x)


def _header(meta: dict[str, Any], trials: pd.DataFrame, keys: Sequence[str],
            selection: str) -> list[str]:
    lines = [f"# Study report: {meta.get('name', 'study')}", ""]
    items: list[tuple[str, str]] = []
    if meta.get("data") or meta.get("data_sizes"):
        sizes = meta.get("data_sizes") or {}
        size_text = ", ".join(f"{fmt_int(n)} {split}" for split, n in sizes.items())
        data = str(meta.get("data", ""))
        items.append(("Data", ": ".join(x for x in (data, size_text and
                                                    f"{size_text} examples") if x)))
    model = str(meta.get("model", ""))
    params = meta.get("params")
    if params is None and "params" in trials and trials["params"].notna().any():
        distinct = sorted(pd.to_numeric(trials["params"], errors="coerce").dropna().unique())
        params = distinct[0] if len(distinct) == 1 else (distinct[0], distinct[-1])
    facts = []
    if isinstance(params, tuple):
        facts.append(f"{fmt_int(params[0])} to {fmt_int(params[1])} parameters "
                     "(depends on the configuration)")
    elif params is not None:
        facts.append(f"{fmt_int(params)} parameters")
    if meta.get("flops") is not None:
        facts.append(f"{fmt_int(meta['flops'])} FLOPs per example (forward)")
    if meta.get("training_flops_per_sample") is not None:
        facts.append(f"{fmt_int(meta['training_flops_per_sample'])} per training example "
                     "(forward and backward)")
    if model or facts:
        items.append(("Model", ": ".join(x for x in (model, ", ".join(facts)) if x)))
    if meta.get("machine"):
        items.append(("Machine", str(meta["machine"])))
    if meta.get("wall_time_s") is not None:
        items.append(("Wall time", fmt_seconds(meta["wall_time_s"])))
    grid = meta.get("grid")
    if grid:
        n_configs = int(np.prod([len(v) for v in grid.values()]))
        grid_text = "; ".join(f"{k}: {', '.join(format_value(v) for v in values)}"
                              for k, values in grid.items())
        items.append(("Grid", f"{grid_text} ({n_configs} configurations)"))
    elif keys:
        items.append(("Keys", ", ".join(keys)))
    if meta.get("variants"):
        items.append(("Variants", ", ".join(str(v) for v in meta["variants"])))
    seeds = meta.get("seeds")
    if seeds is None and "seed" in trials:
        seeds = sorted({int(s) for s in trials["seed"]})
    if seeds is not None:
        items.append(("Seeds", ", ".join(str(s) for s in seeds)))
    items.append(("Trials", _trial_counts(trials)))
    items.append(("Selection", selection))
    lines += [f"- **{name}**: {text}" for name, text in items]
    return lines


def _trial_counts(trials: pd.DataFrame) -> str:
    status = trials["status"].astype(str) if len(trials) else pd.Series([], dtype=str)
    counts = [(int((status == s).sum()), s) for s in ("done", "diverged", "failed")]
    waiting = int(status.isin(["pending", "running"]).sum())
    text = f"{len(trials)}: " + ", ".join(f"{n} {s}" for n, s in counts)
    if waiting:
        text += f", {waiting} not finished (this report is partial)"
    return text


def _best_section(trials: pd.DataFrame, keys: list[str], metric: str, mode: str,
                  per: list[str], level: float) -> list[str]:
    scope = ", ".join(short_key(p, keys) for p in per)
    title = f"## Best configuration per {scope}" if per else "## Best configuration"
    table = best_per(trials, keys, metric, mode, per, level)
    lines = [title, ""]
    if table.empty:
        return [*lines, "No trial has finished.", ""]
    frame = pd.DataFrame()
    for p in per:
        frame[short_key(p, keys)] = [format_value(v) for v in table[p]]
    frame["configuration"] = [_best_label(row, keys, per) for _, row in table.iterrows()]
    frame["seeds"] = table["select_n"].astype(int)
    ci_title = f"{format_level(level)} CI of {metric_title(metric)}"
    frame[ci_title] = [fmt_interval(lo, hi) for lo, hi in zip(table["select_lo"],
                                                              table["select_hi"], strict=True)]
    shown = [m for m in SUMMARY if m in table.columns]
    for m in shown:
        frame[metric_title(m)] = [fmt_float(v) for v in table[m]]
    if "best_epoch" in table:
        frame["best epoch"] = [fmt_float(v, 1) for v in table["best_epoch"]]
    numeric = ["seeds", *(metric_title(m) for m in shown), "best epoch"]
    lines += [markdown_table(frame, numeric), ""]
    lines.append(f"Means over seeds of each trial's metrics at its best epoch "
                 f"(the epoch whose weights were kept); diverged trials are in no mean. "
                 f"The interval is the {format_level(level)} Student t interval of "
                 f"{metric_title(metric)} over seeds.")
    if (table["select_n"] == 1).any():
        lines.append("With one seed there is no interval: one run cannot show how much the "
                     "result moves with the seed.")
    return [*lines, ""]


def _best_label(row: pd.Series, keys: list[str], per: list[str]) -> str:
    """The configuration a best-per row names: the keys that are not `per` keys (all keys
    when there are none), `—` when nothing is left to name, `none finished` for a group
    without results."""
    if row["select_n"] == 0:
        return "none finished"
    others = [k for k in keys if k not in per]
    if per and not others:
        return "—"
    return config_label({k: row[k] for k in others}, keys)


def _compare_section(trials: pd.DataFrame, keys: list[str], metric: str, mode: str,
                     per: list[str], level: float) -> list[str]:
    lines = ["## Winner and runner-up", ""]
    result = compare(trials, keys, metric, mode, level)
    lines.append(comparison_sentence(result, keys) + ".")
    if result.runner_up_values is not None:
        best = config_label(result.best_values or {}, keys)
        runner_up = config_label(result.runner_up_values, keys)
        lines += ["", f"Mean {metric_title(metric)}: {best} "
                  f"{fmt_float(result.best_mean)} ({result.n_best} seeds), "
                  f"{runner_up} {fmt_float(result.runner_up_mean)} "
                  f"({result.n_runner_up} seeds). "
                  + ("A paired t-test over the seeds both have: seed s starts every "
                     "configuration from the same weights and data order."
                     if result.test == "paired" else
                     "Welch's t-test: the two have fewer than two seeds in common."
                     if result.test == "welch" else "")]
    if per:
        within = [f"- {config_label(values, keys)}: {comparison_sentence(sub, keys)}."
                  for values, sub in compare_per(trials, keys, per, metric, mode, level)]
        if within:
            scope = ", ".join(short_key(p, keys) for p in per)
            lines += ["", f"Within each {scope}:", "", *within]
    return [*lines, ""]


def _aggregate_section(trials: pd.DataFrame, keys: list[str], metric: str, mode: str,
                       level: float) -> list[str]:
    shown = [metric] + [m for m in ("valid_loss", "valid_accuracy", "test_loss",
                                     "test_accuracy")
                        if m != metric.removeprefix("best_") and has_metric(trials, m)]
    cost = [c for c in ("epochs_run", "wall_time_s", "training_flops") if c in trials]
    table = aggregate(trials, keys, shown + cost, level)
    column = f"{metric}_mean"
    order = np.argsort(table[column].to_numpy(dtype=float) * (1 if mode == "min" else -1),
                       kind="stable")
    table = table.iloc[order]
    lines = ["## All configurations", ""]
    if table.empty:
        return [*lines, "No trials.", ""]
    frame = pd.DataFrame()
    for key in keys:
        frame[short_key(key, keys)] = [format_value(v) for v in table[key]]
    frame["done"] = table["n"].to_numpy()
    frame["diverged"] = table["n_diverged"].to_numpy()
    frame["failed"] = table["n_failed"].to_numpy()
    for m in shown:
        frame[metric_title(m)] = [fmt_mean_pm(a, lo, hi, n) for a, lo, hi, n in zip(
            table[f"{m}_mean"], table[f"{m}_lo"], table[f"{m}_hi"], table[f"{m}_n"],
            strict=True)]
    if "epochs_run" in cost:
        frame["epochs"] = [fmt_float(v, 1) for v in table["epochs_run_mean"]]
    if "wall_time_s" in cost:
        frame["wall time"] = [fmt_seconds(v) for v in table["wall_time_s_mean"]]
    if "training_flops" in cost:
        frame["training FLOPs"] = [fmt_count(v) for v in table["training_flops_mean"]]
    if "params" in trials and pd.to_numeric(trials["params"], errors="coerce").nunique() > 1:
        params = aggregate(trials, keys, ["params"], level).iloc[order]
        frame["params"] = [fmt_int(v) for v in params["params_mean"]]
    text_columns = {short_key(k, keys) for k in keys}
    numeric = [c for c in frame.columns if c not in text_columns]
    lines += [markdown_table(frame, numeric), ""]
    lines.append(f"Sorted by mean {metric_title(metric)} "
                 f"({'lower' if mode == 'min' else 'higher'} first). Each figure is the mean "
                 f"over done trials ± the half-width of its {format_level(level)} Student t "
                 "interval; \"(1 seed)\" marks a mean of one run, which has no interval. "
                 "Epochs, wall time and training FLOPs are means per trial, so that "
                 "configurations can be compared at equal cost.")
    return [*lines, ""]


def _effects_section(trials: pd.DataFrame, keys: list[str], metric: str,
                     level: float) -> list[str]:
    effects = main_effects(trials, keys, metric, level)
    if effects.empty:
        return []
    kind = metric_kind(metric)
    lines = ["## Main effects", ""]
    lines.append(f"Change of mean {metric_title(metric)} when one key changes from its first "
                 f"value, the others held: paired over (other keys, seed), with its "
                 f"{format_level(level)} interval"
                 + (" (accuracy differences in percentage points)." if kind == "accuracy"
                    else "."))
    for key, part in effects.groupby("key", sort=False):
        lines += ["", f"{key}:", ""]
        for position, (_, row) in enumerate(part.iterrows()):
            mean = (f"{100 * row['mean']:.2f}%" if kind == "accuracy"
                    else fmt_float(row["mean"]))
            pairs = "" if position == 0 else f", {int(row['n_pairs'])} pairs"
            if row["n_diverged"]:
                pairs += f"; {int(row['n_diverged'])} diverged, left out"
            count = int(row["n"])
            if row["n_pairs"] == 0:
                pairs = pairs.replace(", 0 pairs", "")
            label = effect_label(key, row["value"], keys)
            text = (f"{label}: reference" if row["reference"] else
                    format_effect(label, row["diff"], row["diff_lo"], row["diff_hi"], kind))
            lines.append(f"- {text} (mean {mean} over {count} "
                         f"trial{'s' if count != 1 else ''}{pairs})")
    return [*lines, ""]


def _trials_section(trials: pd.DataFrame, keys: list[str]) -> list[str]:
    lines = ["## Trials", ""]
    if trials.empty:
        return [*lines, "No trials.", ""]
    frame = pd.DataFrame()
    frame["trial"] = trials["trial_id"].astype(str).to_numpy()
    for key in keys:
        frame[short_key(key, keys)] = [format_value(v) for v in trials[key]]
    frame["seed"] = trials["seed"].to_numpy()
    frame["status"] = trials["status"].astype(str).to_numpy()
    numeric = ["seed"]
    for m in SUMMARY:
        if has_metric(trials, m):
            frame[metric_title(m)] = [fmt_float(v) for v in trials[metric_column(trials, m)]]
            numeric.append(metric_title(m))
    for column, title, fmt in (("best_epoch", "best epoch", fmt_int),
                               ("epochs_run", "epochs", fmt_int),
                               ("wall_time_s", "wall time", fmt_seconds),
                               ("training_flops", "training FLOPs", fmt_count)):
        if column in trials:
            frame[title] = [fmt(v) for v in trials[column]]
            numeric.append(title)
    lines += [markdown_table(frame, numeric), ""]
    failed = trials[trials["status"].astype(str) == "failed"]
    if not failed.empty and "error" in trials:
        lines += ["### Failed trials", ""]
        for _, row in failed.iterrows():
            error = "" if is_missing(row["error"]) else str(row["error"]).strip()
            first = error.splitlines()[-1] if error else "no error text"
            lines.append(f"- {row['trial_id']} ({row['config']}, seed {row['seed']}): {first}")
        lines.append("")
    return lines


def _diagnostics_section(trials: pd.DataFrame) -> list[str]:
    if "diagnostics" not in trials:
        return []
    lines = ["## Diagnostics", ""]
    codes = trials["diagnostics"].map(lambda v: "" if is_missing(v) else str(v)).to_numpy()
    has = np.array([c.strip() != "" for c in codes], dtype=bool)
    found = trials[has]
    if found.empty:
        return [*lines, "No trial has diagnostic findings.", ""]
    frame = pd.DataFrame({
        "trial": found["trial_id"].astype(str).to_numpy(),
        "configuration": found["config"].astype(str).to_numpy(),
        "seed": found["seed"].to_numpy(),
        "status": found["status"].astype(str).to_numpy(),
        "findings": [", ".join(c.strip() for c in str(v).split(",") if c.strip())
                     for v in codes[has]],
    })
    lines += [markdown_table(frame, ["seed"]), ""]
    lines.append("Codes: not_learning (loss at chance level), diverged (NaN or inf loss), "
                 "double_softmax, vanishing_gradients, exploding_gradients, dead_relus, "
                 "overfitting; each trial's summary.json has the message and a suggestion.")
    return [*lines, ""]


def render_report(meta: dict[str, Any], trials: pd.DataFrame, select: dict[str, Any]) -> str:
    """The Markdown report of a study.

    `meta` (every key optional):
        name         study name
        data         data set, e.g. "mnist-10k (normalize: auto)"
        data_sizes   {split: number of examples}, e.g. {"train": 9000, "valid": 1000, ...}
        model        the model, e.g. "mlp hidden [100] relu"
        params       parameters per model (default: from the trials' `params` column)
        flops        forward FLOPs per example
        training_flops_per_sample  forward and backward FLOPs per training example
        machine      e.g. "2-core x86_64, CPU, torch 2.4"
        wall_time_s  the study's wall time in seconds
        seeds        list of seeds (default: those of the trials)
        grid         {dotted key: list of values}
        variants     names of the variants
        keys         the keys telling configurations apart (default: `grid_keys` of the trials)
        level        confidence level (default 0.95)
    `trials`: the runner's DataFrame, one row per trial (see `nnstudy.study.trials`).
    `select`: {"metric": "valid_loss", "mode": "min" | "max" | "auto", "per": [keys]}.
    """
    return _render(meta, trials, select, head=False)


def render_head(meta: dict[str, Any], trials: pd.DataFrame, select: dict[str, Any]) -> str:
    """The head of the report (what `nnstudy study run` prints): the header, the best
    configuration (per group) and the winner against the runner-up; while no trial has
    finished, the header and the trials. Arguments as in `render_report`."""
    return _render(meta, trials, select, head=True)


def _render(meta: dict[str, Any], trials: pd.DataFrame, select: dict[str, Any],
            head: bool) -> str:
    level = float(meta.get("level", 0.95))
    keys = list(meta.get("keys") or grid_keys(trials))
    metric = str(select.get("metric", "valid_loss"))
    mode = resolve_mode(metric, str(select.get("mode", "auto")))
    per = list(select.get("per") or [])
    if len(trials):
        metric_column(trials, metric)
    lines = _header(meta, trials, keys, _selection_text(metric, mode, per, keys))
    lines.append("")
    if not len(trials) or not (trials["status"].astype(str) == "done").any():
        lines += ["No trial has finished, so there is nothing to compare yet.", ""]
        lines += _trials_section(trials, keys)
        return "\n".join(lines).rstrip() + "\n"
    lines += _best_section(trials, keys, metric, mode, per, level)
    lines += _compare_section(trials, keys, metric, mode, per, level)
    if not head:
        lines += _aggregate_section(trials, keys, metric, mode, level)
        lines += _effects_section(trials, keys, metric, level)
        lines += _trials_section(trials, keys)
        lines += _diagnostics_section(trials)
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["render_head", "render_report"]
