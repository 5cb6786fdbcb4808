"""Figures of runs and studies, each a function that takes plain data (pandas DataFrames,
arrays, an nn.Module) and returns a `matplotlib.figure.Figure`, with no pyplot and no
display: `save_figure(fig, "curves.png")` writes it as PNG or SVG.

| function | draws |
|---|---|
| plot_learning_curves | loss and accuracy per epoch, mean over seeds with a band |
| plot_metric_vs_key | a metric against one grid key, one line per value of another |
| plot_heatmap | a two-key grid, each cell's mean written in it |
| plot_main_effects | one panel per grid key, the mean per value with its CI |
| plot_cost_quality | quality against training FLOPs and wall time, the Pareto front |
| plot_confusion_matrix | true against predicted classes, counts in the cells |
| plot_weight_tiles | the first layer's weights as images of the input's shape |
| plot_predictions | test images with predicted and true labels, mistakes in red |
| plot_loss_surface | loss contours over two weights with descent paths |
| plot_step_losses | the running training loss per mini-batch (`train.log_every`) |
"""

from nnstudy.report.plots.confusion import confusion_counts, plot_confusion_matrix
from nnstudy.report.plots.cost import pareto_front, plot_cost_quality
from nnstudy.report.plots.curves import plot_learning_curves
from nnstudy.report.plots.effects import plot_main_effects
from nnstudy.report.plots.figure import figure_bytes, save_figure
from nnstudy.report.plots.heatmap import cell_means, plot_heatmap
from nnstudy.report.plots.intervals import t_interval
from nnstudy.report.plots.predictions import plot_predictions
from nnstudy.report.plots.steps import plot_step_losses
from nnstudy.report.plots.surface import plot_loss_surface
from nnstudy.report.plots.sweep import plot_metric_vs_key
from nnstudy.report.plots.weights import input_weight_tiles, plot_weight_tiles

__all__ = [
    "cell_means",
    "confusion_counts",
    "figure_bytes",
    "input_weight_tiles",
    "pareto_front",
    "plot_confusion_matrix",
    "plot_cost_quality",
    "plot_heatmap",
    "plot_learning_curves",
    "plot_loss_surface",
    "plot_main_effects",
    "plot_metric_vs_key",
    "plot_predictions",
    "plot_step_losses",
    "plot_weight_tiles",
    "save_figure",
    "t_interval",
]
