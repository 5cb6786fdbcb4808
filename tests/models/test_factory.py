"""`load_model` of a `package.module:factory`, of a run config, and of a model too large to
build: every failure is one ConfigError naming the argument; a run config's model is built
for its data."""

from __future__ import annotations

import textwrap

import pytest
import torch
import yaml

from nnstudy.data.memory import available_memory
from nnstudy.errors import ConfigError
from nnstudy.models import load_model

FACTORIES = """
import torch

def raises():
    raise RuntimeError("no weights file")

def needs_width(width):
    return torch.nn.Linear(width, 2)

def linear():
    return torch.nn.Linear(4, 2)

def not_a_module():
    return 42
"""


@pytest.fixture
def factories(tmp_path, monkeypatch):
    """A module of factories, and two modules that cannot be imported, on sys.path."""
    (tmp_path / "nnstudy_test_factories.py").write_text(FACTORIES)
    (tmp_path / "nnstudy_test_raising.py").write_text('raise RuntimeError("needs a GPU")\n')
    (tmp_path / "nnstudy_test_syntax.py").write_text("def f(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "nnstudy_test_factories"
    for name in ("nnstudy_test_factories", "nnstudy_test_raising", "nnstudy_test_syntax"):
        monkeypatch.delitem(__import__("sys").modules, name, raising=False)


@pytest.mark.parametrize(
    ("arg", "text"),
    [
        # Before: each of these was a traceback (RuntimeError, SyntaxError, TypeError)
        ("nnstudy_test_raising:make",
         "nnstudy_test_raising:make: cannot import module 'nnstudy_test_raising' "
         "(RuntimeError: needs a GPU)"),
        ("nnstudy_test_syntax:make",
         "nnstudy_test_syntax:make: cannot import module 'nnstudy_test_syntax' (SyntaxError: "),
        ("nnstudy_test_factories:raises",
         "nnstudy_test_factories:raises: the factory raised RuntimeError: no weights file"),
        ("nnstudy_test_factories:needs_width",
         "nnstudy_test_factories:needs_width: a factory is called with no arguments, but "
         "missing a required argument: 'width'"),
        ("nnstudy_test_factories:not_a_module",
         "nnstudy_test_factories:not_a_module: returned int, not a torch.nn.Module"),
        (":make", ":make: cannot import module ''"),
    ],
)
def test_a_factory_that_fails_is_one_error_naming_it(factories, arg, text):
    with pytest.raises(ConfigError) as info:
        load_model(arg, input_shape=(4,))
    assert str(info.value).startswith(text)
    assert "\n" not in str(info.value)


def test_a_working_factory_is_called_once_with_no_arguments(factories):
    net, shape = load_model(f"{factories}:linear", input_shape=(4,))
    assert isinstance(net, torch.nn.Linear) and shape == (4,)


def write(tmp_path, config) -> str:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_a_run_config_is_built_for_its_data(tmp_path):
    # Before: digits' 8x8 images were ignored: 1x28x28 and 3,190 parameters; training
    # builds 1x8x8 and 8*8*4 + 4 + 4*10 + 10 = 310.
    path = write(tmp_path, {"data": {"name": "digits"}, "model": {"mlp": {"hidden": [4]}},
                            "train": {"epochs": 1}})
    net, shape = load_model(path)
    assert shape == (1, 8, 8)
    assert sum(p.numel() for p in net.parameters()) == 8 * 8 * 4 + 4 + 4 * 10 + 10


def test_a_run_config_takes_its_class_count_and_transforms_from_the_data(tmp_path):
    path = write(tmp_path, {"data": {"name": "digits", "classes": [3, 5, 8],
                                     "transforms": [{"pad": 2}, "flatten"]},
                            "model": {"mlp": {"hidden": [4]}}})
    net, shape = load_model(path)
    assert shape == (144,)  # (8 + 2 + 2)^2, flattened
    assert net(torch.zeros(1, 144)).shape == (1, 3)


def test_a_run_config_without_a_data_block_is_built_for_the_default_data(tmp_path):
    path = write(tmp_path, {"model": {"mlp": {"hidden": [4]}}, "train": {"epochs": 1}})
    assert load_model(path)[1] == (1, 8, 8)  # digits, as `nnstudy train` would use


def test_a_given_input_shape_and_class_count_win_over_the_data(tmp_path):
    path = write(tmp_path, {"data": {"name": "digits"}, "model": {"mlp": {"hidden": [4]}}})
    net, shape = load_model(path, input_shape=(1, 28, 28), num_classes=3)
    assert shape == (1, 28, 28) and net(torch.zeros(1, 1, 28, 28)).shape == (1, 3)


def test_a_model_spec_with_its_input_is_still_a_model_spec(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent("""
        input: [3]
        model: [{linear: 2}]
    """))
    net, shape = load_model(str(path))
    assert shape == (3,) and sum(p.numel() for p in net.parameters()) == 8


def test_a_model_whose_parameters_cannot_fit_in_memory_is_refused_before_it_is_built():
    # Before: torch's allocator failed with a RuntimeError traceback (256 GB asked for).
    have = available_memory().bytes
    if have is None:
        pytest.skip("this machine does not say how much memory is available")
    # A thousand times the memory there is: an allocation that fails at once (never one
    # that the kernel grants and then kills for), should the check ever let it through.
    hidden = 1000 * have // (4 * 784)
    with pytest.raises(ConfigError, match=r"^model: its [\d,]+ parameters \(float32\) need at "
                                          r"least .* but .* is available"):
        load_model("mlp", (1, 28, 28), overrides=[f"model.mlp.hidden=[{hidden}]"])
