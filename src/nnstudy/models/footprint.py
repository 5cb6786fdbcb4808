"""The memory a model takes, known before a byte of it is allocated.

A spec such as `{mlp: {hidden: [1000000000]}}` asks for 64 billion weights on 8x8 digits:
building it fails deep inside torch's allocator, or swaps the machine to a halt. Building it
on torch's `meta` device gives every parameter's shape and no storage, so the bytes can be
counted first and an impossible model refused with its size and the memory there is:

    bytes = parameters x 4 (float32) x tensors per parameter x models

where `tensors per parameter` is 1 to build it (inspect, check) and, to train it, the
weights, their gradients, the best epoch's copy and the optimizer's state (see
`nnstudy.training.footprint`). Activations are left out: the estimate is a floor, so a
refusal is certain to be right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from nnstudy.errors import ConfigError

FLOAT32_BYTES = 4


def parameter_count(model: Any, input_shape: Sequence[int], num_classes: int | None = None
                    ) -> int | None:
    """The parameters of the model `model` (a spec in any form) builds for `input_shape`,
    counted on the meta device (nothing allocated); None when it cannot be built there
    (the real build then reports why)."""
    from nnstudy.models.factory import build_model

    try:
        with torch.device("meta"):
            net = build_model(model, input_shape, num_classes)
    except Exception:
        return None
    return sum(p.numel() for p in net.parameters())


def available_bytes(device: torch.device | str = "cpu") -> tuple[int | None, str]:
    """The bytes `device` can still take and where that figure comes from (None: cannot
    tell): free GPU memory for CUDA, else the process's available memory."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free, f"free on {device}"
    from nnstudy.data.memory import available_memory  # a leaf module: /proc and cgroups

    memory = available_memory()
    return memory.bytes, memory.source


def check_fits(need: int, what: str, device: torch.device | str = "cpu") -> None:
    """Raise a ConfigError when `need` bytes (for `what`) exceed what `device` has."""
    have, source = available_bytes(device)
    if have is None or need <= have:
        return
    from nnstudy.data.memory import format_bytes

    raise ConfigError(f"model: {what} need at least {format_bytes(need)}, but "
                      f"{format_bytes(have)} is available ({source}); make the model "
                      "smaller")
