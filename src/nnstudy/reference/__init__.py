"""The NumPy reference engine: every layer's forward and backward, written out.

Read a torch model with `nnstudy.models.to_reference.from_torch(model)` (outside this
package, so that the engine itself needs NumPy alone), run
`net.forward(x)` and `net.backward(dL/dy)`, compare `net.grads()` with autograd, and train
an MLP with `train_numpy`.
"""

from nnstudy.reference.activations import (
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    LinearActivation,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from nnstudy.reference.batchnorm import BatchNorm
from nnstudy.reference.conv import Conv2d
from nnstudy.reference.dropout import Dropout
from nnstudy.reference.flatten import Flatten
from nnstudy.reference.layer import Layer
from nnstudy.reference.linear import Linear
from nnstudy.reference.losses import l2_penalty, mse, nll, softmax_cross_entropy
from nnstudy.reference.network import Network
from nnstudy.reference.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from nnstudy.reference.train import EpochMetrics, train_numpy

__all__ = [
    "ELU",
    "GELU",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm",
    "Conv2d",
    "Dropout",
    "EpochMetrics",
    "Flatten",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Linear",
    "LinearActivation",
    "LogSoftmax",
    "MaxPool2d",
    "Network",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "l2_penalty",
    "mse",
    "nll",
    "softmax_cross_entropy",
    "train_numpy",
]
