"""Data sets in memory: readers, downloads with checksums, splits, transforms, batches.

`load_data(spec)` returns a `DataBundle`; `bundle.batch(split, idx)` makes the float inputs
of a batch. See docs/data.md.
"""

from nnstudy.data.bundle import DataBundle, Split
from nnstudy.data.load import load_data

__all__ = ["DataBundle", "Split", "load_data"]
