"""YAML loading, `--set a.b=c` overrides, and validation errors that name the key path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nnstudy.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping with a key written twice (PyYAML keeps the
    last one silently, so `{epochs: 1, epochs: 2}` would train 2 epochs unnoticed)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:  # the keys as written (merged `<<` keys may be overridden)
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue  # constructing the mapping reports an unhashable key itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is written twice (first on line {seen[key] + 1})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def parse_yaml(text: str) -> Any:
    """`yaml.safe_load` of `text`, refusing keys written twice in one mapping."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: builds no objects


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file safely (no tags that build objects). A missing, unreadable,
    malformed or empty file, or one with a key written twice, is a ConfigError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file" + (" (a directory)" if path.is_dir() else ""))
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.__class__.__name__}: "
                          f"{getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty (or only `null`); expected a YAML "
                          "mapping such as `data: {name: digits}`")
    return data


def split_named(item: Any) -> tuple[str, Any] | None:
    """The name and arguments of an item written `name`, `{name: value}` or `{name: {args}}`
    (layers, transforms); None for any other form."""
    if isinstance(item, str):
        return item, None
    if isinstance(item, dict) and len(item) == 1:
        name, args = next(iter(item.items()))
        return (name, args) if isinstance(name, str) else None
    return None


def parse_override(text: str) -> tuple[str, Any]:
    """Split `a.b=value` into the dotted key and the value parsed as YAML (`0.1`, `[1,2]`)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. train.lr=0.01")
    try:
        value = parse_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def set_dotted(config: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Return a copy of `config` with the dotted `key` set to `value` (parents created)."""
    out = dict(config)
    head, _, rest = key.partition(".")
    if not rest:
        out[head] = value
        return out
    child = out.get(head)
    if child is None:
        child = {}
    elif not isinstance(child, Mapping):
        raise ConfigError(f"{key}: {head!r} holds {child!r}, not a mapping with keys")
    out[head] = set_dotted(dict(child), rest, value)
    return out


def apply_overrides(config: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `--set KEY=VALUE` strings in order to a plain config dict."""
    for text in overrides:
        key, value = parse_override(text)
        config = set_dotted(config, key, value)
    return config


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """The first error of a pydantic ValidationError as one line: `key.path: message`."""
    err = exc.errors(include_url=False)[0]
    path = prefix
    for p in err["loc"]:
        if isinstance(p, int):
            path += f"[{p}]"
        elif not str(p).startswith("function-"):
            path = f"{path}.{p}" if path else str(p)
    path = path or "config"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif err["type"] in {"model_type", "model_attributes_type", "dict_type"}:
        msg = "expected a mapping of keys to values (`{key: value, ...}` or indented `key: value` lines)"
    inp = err.get("input")
    if err["type"] in {"literal_error", "enum"}:
        expected = err.get("ctx", {}).get("expected", "")
        msg = f"{inp!r} is not one of {expected.replace(chr(39), '').replace(' or ', ', ')}"
    elif err["type"] not in {"extra_forbidden", "missing", "value_error"}:
        msg = f"{msg} (got {shown_value(inp)})"
    return f"{path}: {msg}"


def shown_value(value: Any) -> str:
    """A value as an error message shows it: YAML's `null`, `true` and `false`; NumPy and
    torch numbers and arrays as plain numbers (`0.9`, `[0.9, 0.1]`, never `tensor([0.9000],
    dtype=...)`), at the precision of their dtype; anything else as its repr."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if hasattr(value, "dtype") and hasattr(value, "reshape"):  # a NumPy array or scalar
        flat = [str(x) for x in value.reshape(-1)]  # str of a NumPy scalar: its shortest
        return flat[0] if value.ndim == 0 else f"[{', '.join(flat)}]"
    return repr(value)


def validate(model: type[M], data: Any, prefix: str = "") -> M:
    """Validate `data` as `model`; a failure is a ConfigError naming the key path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix)) from None
