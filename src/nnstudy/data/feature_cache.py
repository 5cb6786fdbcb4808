"""A cache of computed tensors (a backbone's features per split): in memory, then on disk.

`cached_features(key, compute, expected_bytes=...)` returns the tensors stored under `key`:

1. from memory: a dict of this process, keyed by the key's digest (a second model of the
   same study, or a second trial, gets the very same tensors);
2. else from disk: `<cache>/features/<digest>.pt` (`<cache>` is `$NNSTUDY_DATA_DIR`, else
   `~/.cache/nnstudy`), checked before it is used: the file must load (`torch.load` with
   `weights_only=True`) and hold the same key, and every tensor the shape, dtype and sha256
   recorded when it was written; a file that fails any check is recomputed and replaced,
   with a FeatureCacheWarning that says why;
3. else `compute()` runs, and its tensors are written to disk (atomically: into a temporary
   file beside the target, renamed when complete; stale temporaries of killed processes are
   removed as the download cache does) and kept in memory.

Before loading or computing, the `expected_bytes` the caller gives (samples x feature size x
bytes per value, `feature_bytes`) are compared with the memory available
(`nnstudy.data.memory.available_memory`); when they do not fit, FeaturesTooLargeError says
how much they need and how much there is, before any work starts.

The key is a dict of everything the tensors depend on, e.g. the sha256 of the backbone's
weights, the layer, the data (`DataBundle.fingerprint()`) and the preprocessing. Its digest is
the sha256 of its canonical JSON (keys sorted; paths as strings; specs by their
`to_config()`), with CACHE_VERSION in it, so a change of any part, or of this file format,
misses the cache.

Tensors returned from memory are shared with every other caller: treat them as read-only
(each call gets its own dict). The memory holds every key used in the process until
`clear_memory()`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from nnstudy.data.atomic import atomic_path
from nnstudy.data.cache import cache_dir
from nnstudy.data.memory import AvailableMemory, available_memory, format_bytes
from nnstudy.errors import DataError

#: The version of the file format and of the key's digest; part of every digest.
CACHE_VERSION = 1

#: The tensors of this process by key digest.
_MEMORY: dict[str, dict[str, Tensor]] = {}


class FeatureCacheWarning(UserWarning):
    """A cache file was unreadable or did not match its key (it is recomputed), or the
    computed tensors could not be written (they are kept in memory only)."""


class FeaturesTooLargeError(DataError):
    """The tensors would not fit in the memory available; nothing was loaded or computed."""


@dataclass(frozen=True)
class CachedFeatures:
    """What `cached_features` returns: the tensors by name, where they came from (`memory`,
    `disk` or `computed`), the file they are (or would be) stored in, the key's digest, the
    seconds it took, and a note when something went wrong on the way (a corrupt file
    recomputed, a file that could not be written)."""

    tensors: dict[str, Tensor]
    source: Literal["memory", "disk", "computed"]
    path: Path
    digest: str
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def nbytes(self) -> int:
        """The bytes the tensors take."""
        return sum(t.numel() * t.element_size() for t in self.tensors.values())


def feature_cache_dir() -> Path:
    """Where feature files are stored: `<cache>/features`."""
    return cache_dir() / "features"


def feature_bytes(samples: int, feature_shape: Sequence[int], dtype: torch.dtype) -> int:
    """The bytes of `samples` feature tensors: samples x prod(feature_shape) x bytes per value."""
    return samples * math.prod(feature_shape) * torch.empty((), dtype=dtype).element_size()


def canonical_key(key: Mapping[str, Any]) -> str:
    """The key as canonical JSON (sorted keys, no spaces), with CACHE_VERSION added; a value
    that has no JSON form is a TypeError naming it."""
    return json.dumps(
        {"cache_version": CACHE_VERSION, "key": key},
        sort_keys=True,
        separators=(",", ":"),
        default=_json_value,
        allow_nan=False,
    )


def key_digest(key: Mapping[str, Any]) -> str:
    """The hex sha256 of `canonical_key(key)`: the file name of its tensors."""
    return hashlib.sha256(canonical_key(key).encode()).hexdigest()


def tensor_sha256(t: Tensor) -> str:
    """The hex sha256 of a tensor's values as bytes, in row-major order."""
    flat = t.detach().cpu().contiguous().reshape(-1)
    return hashlib.sha256(flat.view(torch.uint8).numpy()).hexdigest()


def state_dict_sha256(state: Mapping[str, Tensor]) -> str:
    """The hex sha256 of a state dict: every entry's name, dtype, shape and bytes, in name
    order (the same weights give the same digest whatever file they were read from)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        t = state[name]
        digest.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        digest.update(bytes.fromhex(tensor_sha256(t)))
    return digest.hexdigest()


def clear_memory() -> int:
    """Forget the tensors held in memory (as a fresh process would); returns how many keys."""
    count = len(_MEMORY)
    _MEMORY.clear()
    return count


def cached_features(
    key: Mapping[str, Any],
    compute: Callable[[], Mapping[str, Tensor]],
    *,
    expected_bytes: int,
    what: str = "features",
    directory: Path | None = None,
    memory: AvailableMemory | None = None,
) -> CachedFeatures:
    """The tensors stored under `key`, from memory, from disk, or from `compute()` (see the
    module docstring).

    `expected_bytes`: what the tensors will take in memory (`feature_bytes`), checked against
    `memory` (default: `available_memory()`) before any loading or computing; `what` names
    them in messages; `directory` defaults to `feature_cache_dir()`. `compute` returns a
    mapping of names (splits) to tensors; they are stored detached, on the CPU, contiguous.
    """
    start = time.perf_counter()
    text = canonical_key(key)
    digest = hashlib.sha256(text.encode()).hexdigest()
    path = (directory if directory is not None else feature_cache_dir()) / f"{digest}.pt"
    if digest in _MEMORY:
        return CachedFeatures(dict(_MEMORY[digest]), "memory", path, digest, _since(start))
    _check_fits(expected_bytes, what, memory if memory is not None else available_memory())
    notes = []
    if path.is_file():
        tensors, problem = _read(path, text)
        if tensors is not None:
            _MEMORY[digest] = tensors
            return CachedFeatures(dict(tensors), "disk", path, digest, _since(start))
        notes.append(f"{path}: {problem}; recomputed")
        warnings.warn(f"{what}: cache file {notes[-1]}", FeatureCacheWarning, stacklevel=2)
    tensors = _checked(compute(), what)
    try:
        _write(path, text, tensors)
    except OSError as exc:
        notes.append(f"{path}: not written ({exc}); kept in memory only")
        warnings.warn(f"{what}: cache file {notes[-1]}", FeatureCacheWarning, stacklevel=2)
    _MEMORY[digest] = tensors
    return CachedFeatures(dict(tensors), "computed", path, digest, _since(start), tuple(notes))


def _check_fits(expected: int, what: str, memory: AvailableMemory) -> None:
    if memory.bytes is None:
        warnings.warn(
            f"{what}: {format_bytes(expected)} to hold; the memory available cannot be told "
            f"here ({memory.source}), so it is not checked",
            FeatureCacheWarning,
            stacklevel=3,
        )
        return
    if expected > memory.bytes:
        raise FeaturesTooLargeError(
            f"{what}: need {format_bytes(expected)} ({expected:,} bytes) in memory, and "
            f"{format_bytes(memory.bytes)} ({memory.bytes:,} bytes) is available "
            f"({memory.source}); use fewer samples (data.max_per_class, data.classes), an "
            "earlier or smaller layer, or a smaller input size"
        )


def _checked(tensors: Mapping[str, Tensor], what: str) -> dict[str, Tensor]:
    if not isinstance(tensors, Mapping) or not tensors:
        raise TypeError(f"{what}: compute() must return a non-empty mapping of names to tensors")
    out = {}
    for name, t in tensors.items():
        if not isinstance(name, str) or not isinstance(t, Tensor):
            raise TypeError(f"{what}: compute() returned {name!r}: {type(t).__name__}")
        t = t.detach().cpu().contiguous()
        if t.untyped_storage().nbytes() != t.numel() * t.element_size():
            t = t.clone()  # a view of a larger buffer would store (and keep) all of it
        out[name] = t
    return out


def _write(path: Path, text: str, tensors: dict[str, Tensor]) -> None:
    entries = {
        name: {"shape": list(t.shape), "dtype": str(t.dtype), "sha256": tensor_sha256(t)}
        for name, t in tensors.items()
    }
    record = {"version": CACHE_VERSION, "key": text, "entries": entries, "tensors": tensors}
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


def _read(path: Path, text: str) -> tuple[dict[str, Tensor] | None, str]:
    """(the tensors, "") when `path` holds the key `text` and intact tensors, else (None,
    what is wrong)."""
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to read means: do not use it
        first = (str(exc).splitlines() or [""])[0][:200]
        return None, f"unreadable ({type(exc).__name__}: {first})"
    if not isinstance(record, dict) or record.get("version") != CACHE_VERSION:
        return None, "not a feature cache file of this version"
    if record.get("key") != text:
        return None, "holds another key"
    entries, tensors = record.get("entries"), record.get("tensors")
    if (
        not isinstance(entries, dict)
        or not isinstance(tensors, dict)
        or set(entries) != set(tensors)
    ):
        return None, "its list of tensors does not match the tensors it holds"
    for name, t in tensors.items():
        entry = entries[name]
        if not isinstance(t, Tensor) or list(t.shape) != entry.get("shape"):
            return None, f"tensor {name!r} does not have its recorded shape {entry.get('shape')}"
        if str(t.dtype) != entry.get("dtype"):
            return None, f"tensor {name!r} is {t.dtype}, recorded {entry.get('dtype')}"
        if tensor_sha256(t) != entry.get("sha256"):
            return None, f"tensor {name!r} does not have its recorded sha256 (corrupted)"
    return tensors, ""


def _json_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    to_config = getattr(value, "to_config", None)
    if callable(to_config):
        return to_config()
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"feature cache key: {value!r} ({type(value).__name__}) has no JSON form")


def _since(start: float) -> float:
    return time.perf_counter() - start
