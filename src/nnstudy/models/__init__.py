"""Model specs to torch modules: layer lists, the `mlp` and `cnn` builders, and the zoo."""

from nnstudy.models.build import SpecNet, build_layers
from nnstudy.models.factory import build_model, default_input_shape, load_model, spec_layers
from nnstudy.models.layers import LinearActivation
from nnstudy.models.zoo import AlexNet

__all__ = [
    "AlexNet",
    "LinearActivation",
    "SpecNet",
    "build_layers",
    "build_model",
    "default_input_shape",
    "load_model",
    "spec_layers",
]
