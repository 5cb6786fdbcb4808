"""The figures that need a trained model: its confusion matrix and predictions on the test
split, and its first layer's weights as images. Shared by the run page and the study page
(for the best trial of each selected configuration whose weights were kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import nn

from nnstudy.report.plots import (
    plot_confusion_matrix,
    plot_predictions,
    plot_weight_tiles,
)


@dataclass
class ModelOnTest:
    """A model and its data bundle: test predictions, computed once."""

    model: nn.Module
    bundle: Any  # nnstudy.data.DataBundle
    batch_size: int = 2048

    @cached_property
    def outputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(confidence, predicted class) of every test example."""
        self.model.eval()
        device = next(self.model.parameters()).device  # a model trained on a GPU stays there
        n = len(self.bundle.test)
        parts = []
        with torch.no_grad():
            for start in range(0, n, self.batch_size):  # the inputs as the trainer feeds them
                x = self.bundle.batch("test", torch.arange(start, min(n, start + self.batch_size)))
                parts.append(self.model(x.to(device)).softmax(dim=1).cpu())
        return torch.cat(parts).max(dim=1)

    def confusion(self, title: str | None = None) -> Figure:
        _, predictions = self.outputs
        return plot_confusion_matrix(self.bundle.test.y, predictions,
                                     class_names=self.bundle.classes,
                                     num_classes=self.bundle.num_classes, title=title)

    def weights(self, title: str | None = None, max_tiles: int = 32) -> Figure:
        """The first layer's weights as tiles; a softmax regression's tiles are titled by
        class (its first layer is its output layer)."""
        first = next((m for m in self.model.modules() if isinstance(m, nn.Linear | nn.Conv2d)),
                     None)
        names = (self.bundle.classes if isinstance(first, nn.Linear)
                 and first.out_features == self.bundle.num_classes else None)
        columns = 10 if names is not None and len(names) > 8 else 8
        return plot_weight_tiles(self.model, self.bundle.input_shape, unit_names=names,
                                 max_tiles=max_tiles, columns=columns, title=title)

    def predictions(self, only_mistakes: bool = False, count: int = 20,
                    title: str | None = None) -> Figure:
        confidence, predictions = self.outputs
        return plot_predictions(self.bundle.test.x, self.bundle.test.y, predictions,
                                confidences=confidence, class_names=self.bundle.classes,
                                count=count, columns=10, only_mistakes=only_mistakes,
                                seed=None if only_mistakes else 0, title=title)
