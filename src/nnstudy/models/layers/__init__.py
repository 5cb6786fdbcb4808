"""The layer kinds: for each layer spec, its torch module and what the rest of the
package needs to know about it, registered under the spec class (see `kind.py`).

One file per kind, as torch.nn has them: linear, conv, pool, flatten, dropout, batchnorm,
and activations (one entry each). Importing this package registers every kind.
"""

from nnstudy.models.layers import batchnorm, conv, dropout, flatten, linear, pool  # noqa: F401
from nnstudy.models.layers.activations import LinearActivation
from nnstudy.models.layers.kind import KINDS, LayerKind, decayed_names, kind_of, kind_of_module

__all__ = ["KINDS", "LayerKind", "LinearActivation", "decayed_names", "kind_of", "kind_of_module"]
