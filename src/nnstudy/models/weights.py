"""A backbone's weights: a state dict file, an nnstudy run, or torchvision's ImageNet AlexNet.

`model.features.weights` (docs/transfer.md) is one of:

- `PATH`: a state dict (a mapping of names to tensors), read with
  `torch.load(PATH, map_location="cpu", weights_only=True)`: nothing but tensors and plain
  containers is unpickled;
- `run:DIR`: `DIR/model.pt` of an nnstudy run. `DIR/config.yaml` must describe the same
  backbone (what differs is named), and `DIR/summary.json` gives the input shape and the
  number of classes it was trained for, so that the backbone is built exactly as trained;
- `imagenet`: torchvision's published AlexNet weights (IMAGENET_URL), downloaded once into
  `<cache>/weights/` by the data downloader and checked against IMAGENET_SHA256; where there
  is no network, one line says so and how to give the file instead.

`load_checked` puts a state dict into a module and names, in one error, every key that is
missing, unexpected, or of another shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor, nn

from nnstudy.config.datasets import RemoteFile
from nnstudy.config.model import IMAGENET, FeaturesSpec, ModelSpec, parse_model_spec
from nnstudy.errors import ConfigError, DataError, NNStudyError

#: torchvision's AlexNet_Weights.IMAGENET1K_V1 file.
IMAGENET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
#: Its sha256 (244,408,911 bytes). torchvision names a file after the first 8 hex digits of
#: its sha256 ("7be5be79"); the full digest is the one independent projects pin.
IMAGENET_SHA256 = "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02"


@dataclass(frozen=True)
class RunInfo:
    """What a backbone takes from an nnstudy run directory."""

    directory: Path
    model: ModelSpec
    input_shape: tuple[int, ...]
    num_classes: int


@dataclass(frozen=True)
class WeightsSource:
    """Where a backbone's weights come from: `path` to a state dict (None: random weights),
    and for `run:DIR` what the run says about itself."""

    text: str | None
    path: Path | None = None
    run: RunInfo | None = None

    def describe(self, seed: int | None = None) -> str:
        """`random (seed 3)`, `imagenet (<path>)`, `run runs/lenet`, `file w.pt`."""
        if self.path is None:
            return f"random (seed {seed})" if seed is not None else "random"
        if self.run is not None:
            return f"run {self.run.directory}"
        if self.text == IMAGENET:
            return f"imagenet ({self.path})"
        return f"file {self.path}"


def locate_weights(features: FeaturesSpec, where: str = "model.features.weights",
                   progress: bool = True) -> WeightsSource:
    """The source of `features.weights`, checked: the file exists; a run's model is the
    backbone; the ImageNet file is downloaded (or its absence explained)."""
    text = features.weights
    if text is None:
        return WeightsSource(None)
    if text == IMAGENET:
        return WeightsSource(text, imagenet_file(where, progress))
    if features.run_dir is not None:
        run = read_run(Path(features.run_dir).expanduser(), where)
        check_same_backbone(features.backbone, run, where.rsplit(".", 1)[0] + ".backbone")
        return WeightsSource(text, run.directory / "model.pt", run)
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(f"{where}: {text}: no such file (a state dict file, run:DIR or "
                          "imagenet)")
    return WeightsSource(text, path)


def imagenet_file(where: str = "model.features.weights", progress: bool = True) -> Path:
    """The ImageNet AlexNet file in `<cache>/weights/`, downloaded and checked if not there."""
    from nnstudy.data.cache import cache_dir
    from nnstudy.data.download import fetch

    file = RemoteFile(IMAGENET_URL.rsplit("/", 1)[-1], IMAGENET_SHA256)
    directory = cache_dir() / "weights"
    try:
        return fetch(file, (IMAGENET_URL,), directory, progress=progress)
    except DataError as exc:
        reason = str(exc).split(f"{IMAGENET_URL}: ", 1)[-1]
        raise DataError(
            f"{where}: imagenet: cannot download {IMAGENET_URL} ({reason}); download it "
            f"where there is a network and give weights: PATH, or put it in {directory}/"
        ) from None


def read_run(directory: Path, where: str) -> RunInfo:
    """The model, input shape and classes of the nnstudy run in `directory`."""
    files = {name: directory / name for name in ("model.pt", "config.yaml", "summary.json")}
    absent = [name for name, path in files.items() if not path.is_file()]
    if absent:
        raise ConfigError(f"{where}: run:{directory}: no {', '.join(absent)} there (an "
                          "nnstudy run directory holds model.pt, config.yaml, summary.json)")
    try:
        config = yaml.safe_load(files["config.yaml"].read_text())
        summary = json.loads(files["summary.json"].read_text())
        model = parse_model_spec(config["model"], f"{directory}/config.yaml: model")
        input_shape = tuple(int(n) for n in summary["input_shape"])
        num_classes = int(summary["data"]["classes"])
    except NNStudyError:
        raise
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where}: run:{directory}: not readable as an nnstudy run "
                          f"({type(exc).__name__}: {exc})") from None
    return RunInfo(directory, model, input_shape, num_classes)


def check_same_backbone(backbone: ModelSpec, run: RunInfo, where: str) -> None:
    """A ConfigError naming every key where `backbone` and the run's model differ."""
    mine, theirs = _flat(backbone.to_config()), _flat(run.model.to_config())
    keys = sorted(set(mine) | set(theirs))
    diffs = [f"{k or 'model'}: {_show(mine, k)} here, {_show(theirs, k)} in the run"
             for k in keys if mine.get(k, _ABSENT) != theirs.get(k, _ABSENT)]
    if diffs:
        raise ConfigError(f"{where}: not the model of run {run.directory} "
                          f"({run.directory / 'config.yaml'}): " + "; ".join(diffs))


_ABSENT = object()


def _show(flat: dict[str, Any], key: str) -> str:
    value = flat.get(key, _ABSENT)
    return "absent" if value is _ABSENT else repr(value)


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A config as {dotted key: leaf}: `cnn.channels[1]: 16`."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(_flat(v, f"{prefix}[{i}]"))
        return out or {prefix: []}
    return {prefix: value}


def read_state_dict(path: Path, where: str = "model.features.weights") -> dict[str, Tensor]:
    """The state dict in `path` (`torch.load(..., weights_only=True)`), checked to be a
    mapping of names to tensors. Treat it as read-only: it is kept for the next call while
    the file is unchanged (each model of a group loads the same file)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"{where}: {path}: cannot read ({exc.strerror})") from None
    return _read(str(path.resolve()), stat.st_mtime_ns, stat.st_size, where)


@lru_cache(maxsize=2)
def _read(path: str, mtime_ns: int, size: int, where: str) -> dict[str, Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to unpickle safely: not a usable weights file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ConfigError(f"{where}: {path}: not a state dict torch.load can read with "
                          f"weights_only=True ({type(exc).__name__}: {first})") from None
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        hint = ""
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            hint = "; it holds one under 'state_dict': save that mapping alone"
        raise ConfigError(f"{where}: {path}: not a state dict (a mapping of names to "
                          f"tensors), got {type(state).__name__}{hint}")
    return state


def load_checked(module: nn.Module, state: dict[str, Tensor], where: str, source: str,
                 ignored: set[str] = frozenset()) -> None:
    """Copy `state` into `module`, or raise one ConfigError that names every missing,
    unexpected and misshapen key (all of them, in the module's order).

    `ignored`: keys that may be in the file without being used (those of a backbone's
    modules after the layer the features are taken at, which are not part of `module`).
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected and k not in ignored]
    misshapen = [f"{k} (file {list(state[k].shape)}, backbone {list(expected[k].shape)})"
                 for k in expected if k in state and state[k].shape != expected[k].shape]
    problems = [f"{label}: {', '.join(keys)}" for label, keys in (
        ("missing keys", missing), ("unexpected keys", unexpected),
        ("misshapen keys", misshapen)) if keys]
    if problems:
        raise ConfigError(f"{where}: {source} does not fit the backbone; " + "; ".join(problems))
    if any(t.is_meta for t in expected.values()):
        return  # built on the meta device to count its parameters: no storage to fill
    module.load_state_dict({k: state[k] for k in expected}, strict=True)
