"""The device a run or a study trains on.

`auto`, the default of both (`nnstudy.config.run.DEFAULT_DEVICE`), is CUDA when torch sees
a GPU and the CPU otherwise; `cpu`, `cuda` and `cuda:N` ask for one. The name is resolved
where training happens (a study's worker process), so a study file says the same thing
on every machine.
"""

from __future__ import annotations

import torch

from nnstudy.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """The torch device `name` stands for on this machine; asking for CUDA where torch
    sees none is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} asked for, but torch sees no CUDA device")
    return dev
