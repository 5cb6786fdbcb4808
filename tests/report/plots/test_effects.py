"""Main effects: one panel per key, each point the mean of the metric over the done trials
with that value, its bar the Student t interval over them."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudy.errors import ConfigError
from nnstudy.report.plots.effects import plot_main_effects
from nnstudy.report.plots.intervals import t_interval


def test_each_panel_draws_the_mean_and_interval_per_value(trials):
    keys = ["train.optimizer", "train.lr"]
    fig = plot_main_effects(trials, keys, "best_test_accuracy", level=0.9)
    axes = [ax for ax in fig.axes if ax.get_xlabel() in keys]
    assert [ax.get_xlabel() for ax in axes] == keys
    done = trials[trials["status"] == "done"]
    for ax, key in zip(axes, keys, strict=True):
        values = list(dict.fromkeys(trials[key]))
        expected = [t_interval(done[done[key] == v]["best_test_accuracy"], 0.9) for v in values]
        shown = [(k, e) for k, e in enumerate(expected) if e.n]
        container = ax.containers[0]
        np.testing.assert_allclose(container.lines[0].get_xydata(),
                                   [[k, e.mean] for k, e in shown])
        segments = np.asarray(container.lines[2][0].get_segments())
        np.testing.assert_allclose(segments, [[[k, e.lo], [k, e.hi]] for k, e in shown])
        overall = next(ln for ln in ax.get_lines() if ln.get_gid() == "overall")
        assert overall.get_ydata()[0] == pytest.approx(done["best_test_accuracy"].mean())
    ticks = [t.get_text() for t in axes[1].get_xticklabels()]
    assert ticks == ["0.001", "0.01", "0.1\n(4 diverged)"]


def test_main_effects_need_keys(trials):
    with pytest.raises(ConfigError, match="no keys given"):
        plot_main_effects(trials, [], "best_test_accuracy")
