"""The shape of one input sample written on the command line: `1,28,28`, `1x28x28`, `784`."""

from __future__ import annotations

import re

from nnstudy.errors import ConfigError

Shape = tuple[int, ...]


def parse_shape(text: str, where: str = "--input") -> Shape:
    """`1,32,32`, `1x32x32`, `(1, 32, 32)` or `784` as a tuple of positive sizes.

    Sizes are separated by commas, or by `x` when there is no comma; every size must be a
    positive whole number, and an error names the first part that is not (`64,x` is not
    64). Raises a ConfigError naming `where`.
    """
    body = re.sub(r"\s+", "", text).strip("()[]")
    parts = body.split(",") if "," in body else body.split("x")
    for part in parts:
        if not (part.isascii() and part.isdigit() and int(part) > 0):
            bad = f"{part!r} is not a positive whole number" if part else "a size is missing"
            raise ConfigError(f"{where}: {text!r} is not a shape like C,H,W (1,32,32) or N "
                              f"(784): {bad}")
    return tuple(int(p) for p in parts)
