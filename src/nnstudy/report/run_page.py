"""report.html of one run (`nnstudy train`), from its RunResult (`nnstudy.train`'s; read
through its fields, since the report never imports what trains): what it was, its metrics at the best epoch, its
learning curves, the confusion matrix, the first layer's weights as images where the model
allows, a grid of test predictions and the mistakes it is surest of, and its diagnostics with
the signals behind them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from nnstudy.config.model import parse_model_spec
from nnstudy.errors import NNStudyError
from nnstudy.report.html import (
    escape,
    fragment,
    gc_paused,
    page,
    section,
    table_html,
    try_figure,
)
from nnstudy.report.model_figures import ModelOnTest
from nnstudy.report.plots import plot_learning_curves
from nnstudy.report.tables import fmt_count, fmt_float, fmt_int, fmt_seconds


def run_curves(run: Any, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch for train, valid and test, the best epoch starred."""
    s = run.summary
    trials = pd.DataFrame([{"status": s.get("status", "done"), "best_epoch": s["best_epoch"]}])
    return plot_learning_curves(pd.DataFrame(run.history), trials,
                                max_epochs=run.spec.train.epochs, title=title)


def run_on_test(run: Any) -> ModelOnTest:
    """The run's model and its data's test split."""
    from nnstudy.data import load_data

    return ModelOnTest(run.model, load_data(run.spec.data))


def _name(run: Any) -> str:
    """The config's name, else the run directory's."""
    if run.spec.name:
        return str(run.spec.name)
    return run.out_dir.name if run.out_dir is not None else "run"


def _overview(run: Any) -> str:
    s = run.summary
    data = s.get("data", {})
    sizes = ", ".join(f"{fmt_int(n)} {split}" for split, n in (data.get("sizes") or {}).items())
    items = [
        ("Data", run.spec.data.describe() + (f": {sizes} examples" if sizes else "")),
        ("Model", parse_model_spec(run.spec.model).describe()),
        ("Parameters", fmt_int(s.get("params"))),
        ("FLOPs per example", f"{fmt_int(s.get('forward_flops_per_sample'))} forward, "
                              f"{fmt_int(s.get('training_flops_per_sample'))} training"),
        ("Training FLOPs", fmt_count(s.get("training_flops"))),
        ("Optimizer", f"{run.spec.train.optimizer}, lr {run.spec.train.lr}, batch "
                      f"{run.spec.train.batch_size}"),
        ("Status", f"{s.get('status')}: best epoch {s.get('best_epoch')} of "
                   f"{s.get('epochs_run')}"),
        ("Wall time", fmt_seconds(s.get("wall_time_s"))),
    ]
    if run.out_dir is not None:
        items.append(("Run directory", str(run.out_dir)))
    return "<ul>" + "".join(f"<li><strong>{escape(k)}</strong>: {escape(v)}</li>"
                            for k, v in items) + "</ul>"


def _lead(summary: dict[str, Any]) -> str:
    """The run in one sentence: its test result at the best epoch and what the diagnostics
    found."""
    test = summary.get("best", {}).get("test") or summary.get("best", {}).get("valid") or {}
    split = "test" if summary.get("best", {}).get("test") else "valid"
    codes = [d.get("code", "") for d in summary.get("diagnostics", [])]
    found = (f"diagnostics found {', '.join(codes)} (see below)" if codes
             else "no diagnostic fired")
    result = (f"{split} accuracy {100 * test['accuracy']:.2f}% (loss {test['loss']:.4f})"
              if test.get("accuracy") is not None else "no metrics")
    return (f'<p class="verdict">{escape(summary.get("status", ""))}: {escape(result)} at the '
            f"best epoch, {escape(summary.get('best_epoch'))} of "
            f"{escape(summary.get('epochs_run'))}; {escape(found)}.</p>")


def _metrics(run: Any) -> str:
    rows = [(split, fmt_float(m.get("loss")), f"{100 * m['accuracy']:.2f}%"
             if m.get("accuracy") is not None else "—")
            for split, m in run.summary["best"].items()]
    return table_html(("split", "loss", "accuracy"), rows, numeric=(1, 2))


def diagnostics_html(summary: dict[str, Any]) -> str:
    """Each finding with its message and suggestion, and the measurements behind the
    diagnostics (gradient norms, dead ReLU fractions, classes seen) in a table."""
    parts = []
    for d in summary.get("diagnostics", []):
        parts.append(f'<div class="diag"><p><code>{escape(d.get("code", ""))}</code> '
                     f"{escape(d.get('message', ''))}</p><p>Suggestion: "
                     f"{escape(d.get('suggestion', ''))}</p></div>")
    if not parts:
        parts.append("<p>No diagnostic fired: the loss left chance level, stayed finite, "
                     "gradients kept a healthy size, ReLUs stayed alive and the validation "
                     "loss did not climb away from its best.</p>")
    signals = summary.get("signals") or {}
    rows = []
    for name, values in (("gradient norm", signals.get("grad_norms") or {}),
                         ("dead ReLU fraction", signals.get("dead_relu_fraction") or {})):
        rows += [(name, layer, fmt_float(v)) for layer, v in values.items()]
    if rows:
        parts.append("<h3>The signals behind them</h3>"
                     "<p>Gradient norms on the first batch of the last epoch; the fraction of "
                     "ReLU units that output zero for every example of that batch.</p>"
                     + table_html(("signal", "parameter or layer", "value"), rows,
                                  numeric=(2,)))
    if signals.get("classes_in_train") is not None:
        parts.append(f"<p>Classes in the training split: "
                     f"{escape(signals['classes_in_train'])}</p>")
    return "".join(parts)


@gc_paused()
def run_body(run: Any) -> str:
    """The content of a run's page."""
    out = [f"<h1>Run report: {escape(_name(run))}</h1>", _lead(run.summary), _overview(run)]
    out.append(section("Metrics at the best epoch", _metrics(run)
                       + "<p>The weights kept (model.pt) are those of the best epoch.</p>"))
    out.append(section("Learning curves", try_figure(lambda: run_curves(run),
                                                     "learning curves")))
    try:
        on_test = run_on_test(run)
        on_test.outputs  # noqa: B018  (evaluated once here so that a failure shows below)
    except (NNStudyError, RuntimeError, OSError) as exc:
        out.append(section("Test predictions", f'<p class="note">The model could not be '
                           f"evaluated on the test split ({escape(str(exc).splitlines()[0])})"
                           "</p>"))
    else:
        out.append(section("Confusion matrix", try_figure(on_test.confusion,
                                                          "confusion matrix", size="small")))
        out.append(section("Weights as images", try_figure(on_test.weights,
                                                           "first-layer weights")))
        out.append(section("Predictions", try_figure(
            lambda: on_test.predictions(title="A random sample of the test split"),
            "test predictions") + try_figure(
            lambda: on_test.predictions(only_mistakes=True, count=10,
                                        title="Mistakes, most confident first"),
            "mistakes")))
    out.append(section("Diagnostics", diagnostics_html(run.summary)))
    return "\n".join(out)


def run_page(run: Any) -> str:
    """The whole of a run's report.html."""
    return page(f"Run report: {_name(run)}", run_body(run))


def run_fragment(run: Any) -> str:
    return fragment(run_body(run))
