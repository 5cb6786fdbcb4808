"""report.html of a study: report.md's sections with the figures beside them, on one page.

In reading order: the overview (data, model, parameters, FLOPs, machine, wall time), the
best configuration (per group), the winner and runner-up in words, learning curves, the
metric against the grid keys (and the heatmap of a two-key grid), cost against quality, every
configuration with its intervals, the main effects (text and figure), every trial (each
table sorts by a click on its header), each trial's diagnostics with their messages and
signals, and the confusion matrix, weight images and predictions of the kept models. A study
still running or stopped midway gives the same page for the trials done, and says so at
the top.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from nnstudy.errors import NNStudyError
from nnstudy.report.html import (
    escape,
    fragment,
    gc_paused,
    markdown_html,
    page,
    split_sections,
    table_html,
    try_figure,
)
from nnstudy.report.labels import metric_title
from nnstudy.report.markdown import render_report
from nnstudy.report.model_figures import ModelOnTest
from nnstudy.report.plots import (
    plot_cost_quality,
    plot_heatmap,
    plot_learning_curves,
    plot_main_effects,
    plot_metric_vs_key,
)
from nnstudy.report.tables import fmt_float
from nnstudy.study.kept_models import kept_trials, load_trial_model, trial_summaries
from nnstudy.study.result import StudyResult
from nnstudy.study.trials import has_metric, metric_column


class StudyFigures:
    """The study page's figures, each a Figure from the result's tables, chosen from the
    grid: what `StudyResult.plot_*` return and what the page draws."""

    def __init__(self, result: StudyResult) -> None:
        self.result = result
        self.trials = result.trials
        self.keys = result.keys
        select = result.spec.select
        self.metric = select.metric
        self.quality = ("best_test_accuracy" if has_metric(self.trials, "test_accuracy")
                        else metric_column(self.trials, self.metric))

    def _varied(self) -> list[str]:
        return [k for k in self.keys if self.trials[k].astype(str).nunique() > 1]

    def sweep_keys(self) -> tuple[str | None, str | None]:
        """(x, hue): x is the varied key with the most numeric values (a learning rate), or
        else the first; hue the first other varied key."""
        varied = self._varied()
        if not varied:
            return None, None

        def numeric(key: str) -> int:
            values = pd.to_numeric(self.trials[key], errors="coerce")
            return int(values.notna().all()) * values.nunique()

        x = max(varied, key=numeric) if any(numeric(k) for k in varied) else varied[0]
        others = [k for k in varied if k != x]
        return x, (others[0] if others else None)

    def _max_epochs(self) -> int | None:
        epochs = self.result.spec.train.get("epochs")
        return epochs if isinstance(epochs, int) and "train.epochs" not in self.keys else None

    def curves(self, configs: list[str] | None = None, splits=("train", "valid", "test"),
               title: str | None = None) -> Figure:
        """Learning curves of the configurations labelled `configs` (default: the selected
        best ones), mean over seeds with its 95% CI."""
        configs = configs if configs is not None else [c for c in self.result.best()["config"]
                                                       if c]
        chosen = self.trials[self.trials["config"].isin(configs)]
        epochs = self.result.epochs
        epochs = epochs[epochs["trial_id"].isin(chosen["trial_id"])]
        return plot_learning_curves(epochs, chosen, by=self._varied(), splits=splits,
                                    max_epochs=self._max_epochs(), level=self.result.level,
                                    title=title)

    def sweep(self, metric: str | None = None) -> Figure:
        x, hue = self.sweep_keys()
        if x is None:
            raise NNStudyError("no grid key has two values")
        return plot_metric_vs_key(self.trials, x, metric or self.quality, hue=hue,
                                  level=self.result.level)

    def heatmap(self, metric: str | None = None) -> Figure:
        x, hue = self.sweep_keys()
        if x is None or hue is None:
            raise NNStudyError("a heatmap needs two grid keys with two values each")
        return plot_heatmap(self.trials, hue, x, metric or self.quality,
                            level=self.result.level)

    def effects(self, metric: str | None = None) -> Figure:
        varied = self._varied()
        if not varied:
            raise NNStudyError("no grid key has two values")
        return plot_main_effects(self.trials, varied, metric_column(
            self.trials, metric or self.metric), level=self.result.level)

    def cost(self) -> Figure:
        return plot_cost_quality(self.trials, self.keys, quality=self.quality,
                                 level=self.result.level)


def _partial_note(trials: pd.DataFrame, out: Any) -> str:
    status = trials["status"].astype(str) if len(trials) else pd.Series([], dtype=str)
    waiting = int(status.isin(["pending", "running"]).sum())
    if not waiting:
        return ""
    finished = len(trials) - waiting
    return (f'<p class="partial"><strong>Partial report:</strong> {finished} of {len(trials)} '
            f"trials have finished; {int((status == 'running').sum())} running, "
            f"{int((status == 'pending').sum())} pending. The study is still running or was "
            f"stopped midway (<code>nnstudy study resume {escape(out)}</code> continues it); "
            "everything below is of the finished trials only.</p>")


def _diagnostics_html(result: StudyResult) -> str:
    """Each finding of each trial with its message; each code's suggestion once; and, folded
    away, the signals behind them (gradient norms, dead ReLU fractions) per trial."""
    try:
        summaries = trial_summaries(result)
    except NNStudyError:
        return ""
    labels = dict(zip(result.trials["trial_id"].astype(str), result.trials["config"],
                      strict=True))
    seeds = dict(zip(result.trials["trial_id"].astype(str), result.trials["seed"],
                     strict=True))
    findings, suggestions, signals = [], {}, []
    for trial, summary in summaries.items():
        found = summary.get("diagnostics", [])
        for d in found:
            findings.append((trial, labels.get(trial, ""), seeds.get(trial, ""),
                             d.get("code", ""), d.get("message", "")))
            suggestions.setdefault(d.get("code", ""), d.get("suggestion", ""))
        if found:
            for name, values in _signal_rows(summary.get("signals") or {}):
                signals += [(trial, name, layer, fmt_float(v)) for layer, v in values]
    if not findings:
        return ""
    out = ["<h3>Each trial's findings</h3>",
           table_html(("trial", "configuration", "seed", "finding", "message"), findings,
                      numeric=(2,)),
           "<ul>" + "".join(f"<li><code>{escape(code)}</code>: {escape(text)}</li>"
                            for code, text in suggestions.items()) + "</ul>"]
    if signals:
        out.append("<details><summary>The signals behind them (gradient norms on the first "
                   "batch of the last epoch, fractions of ReLU units that never fire)"
                   "</summary>"
                   + table_html(("trial", "signal", "parameter or layer", "value"), signals,
                                numeric=(3,)) + "</details>")
    return "".join(out)


def _signal_rows(signals: dict[str, Any]) -> list[tuple[str, list[tuple[str, float]]]]:
    return [(name, list((signals.get(key) or {}).items()))
            for name, key in (("gradient norm", "grad_norms"),
                              ("dead ReLU fraction", "dead_relu_fraction"))]


def kept_model_html(result: StudyResult, figures: StudyFigures,
                    limit: int = 4) -> str:
    """The confusion matrix, weights and predictions of each kept model (best first, at
    most `limit`)."""
    kept = kept_trials(result)
    if not kept:
        return (f'<p class="note">No weights were kept (keep_models: '
                f"{escape(result.spec.keep_models)}), so there is no confusion matrix, weight "
                "image or prediction grid.</p>")
    trials = result.trials.set_index(result.trials["trial_id"].astype(str))
    column = metric_column(result.trials, figures.metric)
    sign = 1 if result.spec.select.resolved_mode == "min" else -1
    order = sorted(kept, key=lambda t: (sign * _num(trials.loc[t, column])))
    policy = result.spec.keep_models
    parts = [f"<p>The test split through the weights kept in models/ (keep_models: "
             f"{escape(policy)}"
             + ("; the best seed of each selected configuration" if policy == "best" else "")
             + f"), ordered by each trial's own {escape(metric_title(figures.metric))}: the "
             "confusion "
             "matrix, the first layer's weights as images (red raises a unit, blue lowers "
             "it), and the mistakes each model is surest of.</p>"]
    bundles: dict[str, object] = {}  # the data, loaded once for every model trained on it
    for trial in order[:limit]:
        row = trials.loc[trial]
        name = f"{trial}: {row['config']}, seed {row['seed']}"
        try:
            _, model, bundle = load_trial_model(result, trial, bundles)
            on_test = ModelOnTest(model, bundle)
        except (NNStudyError, RuntimeError, OSError) as exc:
            parts.append(f'<p class="note">{escape(name)}: its model could not be loaded '
                         f"({escape(str(exc).splitlines()[0])})</p>")
            continue
        parts.append(f"<h3>{escape(name)}</h3>")
        parts.append(try_figure(lambda o=on_test, n=name: o.confusion(f"{n}: test split"),
                                f"confusion matrix of {name}", size="small"))
        parts.append(try_figure(lambda o=on_test: o.weights(max_tiles=16),
                                f"first-layer weights of {name}"))
        parts.append(try_figure(lambda o=on_test: o.predictions(only_mistakes=True, count=10,
                                                                 title="Mistakes, most "
                                                                       "confident first"),
                                f"mistakes of {name}"))
    if len(order) > limit:
        parts.append(f'<p class="note">{len(order) - limit} more kept models in '
                     f"models/ are not drawn here.</p>")
    return "".join(parts)


def _num(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.inf
    return v if math.isfinite(v) else math.inf


@gc_paused()
def study_body(result: StudyResult) -> str:
    """The content of a study's page (for `page`, or for a notebook)."""
    figures = StudyFigures(result)
    markdown = render_report(result.overview(), result.trials,
                             result.spec.select.model_dump())
    sections = dict(split_sections(markdown))
    head = sections.pop("", "")
    out = [markdown_html(head), _partial_note(result.trials, result.out_dir)]
    nav = []

    def add(title: str, body: str) -> None:
        anchor = "s-" + "".join(ch if ch.isalnum() else "-" for ch in title.lower())
        nav.append(f'<a href="#{anchor}">{escape(title)}</a>')
        out.append(f'<section id="{anchor}">{body}</section>')

    for title, text in sections.items():
        body = markdown_html(text)
        if title.startswith("Winner"):
            body = body.replace("<p>", '<p class="verdict">', 1)
        if title.startswith("Main effects"):
            body += try_figure(figures.effects, "main effects")
        add(title, body)
        if title.startswith("Winner"):
            add("Figures", "<h2>Figures</h2>" + figures_html(figures))
            if len(result.trials) and (result.trials["status"].astype(str) == "done").any():
                add("Kept models", "<h2>Kept models</h2>" + kept_model_html(result, figures))
        if title.startswith("Diagnostics"):
            out[-1] = out[-1].replace("</section>", _diagnostics_html(result) + "</section>")
    return out[0] + f"<nav>{''.join(nav)}</nav>" + "".join(out[1:])


def figures_html(figures: StudyFigures) -> str:
    """Learning curves of the selected configurations and of the winner, the quality
    against the grid (and its heatmap), and cost against quality."""
    q = metric_title(figures.quality)
    winner = [c for c in figures.result.best(per=[])["config"] if c]
    parts = [
        try_figure(lambda: figures.curves(splits=("valid",), title="Valid curves of the "
                                          "selected configurations"),
                   "learning curves of the selected configurations"),
        try_figure(lambda: figures.curves(configs=winner, title=f"The winner, {winner[0]}: "
                                          "train, valid and test") if winner else None,
                   "learning curves of the winner"),
        try_figure(figures.sweep, f"{q} against the grid"),
        try_figure(figures.heatmap, f"{q} heatmap") if figures.sweep_keys()[1] else "",
        try_figure(figures.cost, "cost against quality"),
    ]
    return "".join(parts)


def study_page(result: StudyResult) -> str:
    """The whole of a study's report.html."""
    return page(f"Study report: {result.spec.name}", study_body(result))


def study_fragment(result: StudyResult) -> str:
    return fragment(study_body(result))
