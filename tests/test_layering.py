"""The rooms of the package import downwards only (DESIGN.md): walked over every module's
imports, top-level and inside functions alike."""

import ast
from pathlib import Path

import pytest

import nnstudy

PACKAGE = Path(nnstudy.__file__).parent

# room -> the rooms it may import (besides itself, errors and the standard library)
ALLOWED = {
    "config": {"config"},
    "reference": {"reference"},
    "data": {"config", "data"},
    # data sits below models (it imports config alone): a run config's model is built for
    # the shape and classes of its loaded data, and a model's size is checked against memory
    "models": {"config", "data", "models", "reference"},
    "analysis": {"config", "models", "analysis"},
    "gradients": {"config", "models", "analysis", "reference", "data", "gradients"},
    "training": {"config", "models", "analysis", "data", "reference", "training"},
    "study": {"config", "models", "analysis", "data", "training", "study"},
    "report": {"config", "models", "analysis", "data", "training", "study", "report"},
}
# The one exception: config validation asks each optimizer class for its hyperparameters
# (their only home). The optimizers package imports nothing of nnstudy but errors, so it is
# ground-floor code that happens to live beside the trainer that uses it.
LEAF_PACKAGES = {"config": ("nnstudy.training.optimizers",)}


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "nnstudy" or len(parts) < 2:
        return None
    return parts[1].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {m for m in out if m.startswith("nnstudy.")}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) > 1 and rel.parts[0] in ALLOWED:  # cli, the top room, may import all
            yield rel.parts[0], path


@pytest.mark.parametrize(("room", "path"), list(_modules()),
                         ids=lambda v: str(v.relative_to(PACKAGE)) if isinstance(v, Path) else v)
def test_a_room_imports_only_the_rooms_below_it(room, path):
    bad = sorted(m for m in _imports(path)
                 if _room(m) not in ALLOWED[room] | {"errors", None}
                 and not m.startswith(LEAF_PACKAGES.get(room, ())))
    assert not bad, f"{path.relative_to(PACKAGE)} ({room}) imports {bad}"


def test_the_optimizers_package_is_a_leaf():
    for path in (PACKAGE / "training" / "optimizers").rglob("*.py"):
        bad = [m for m in _imports(path)
               if not m.startswith(("nnstudy.training.optimizers", "nnstudy.errors"))]
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_config_imports_no_model_code_and_study_no_report():
    for path in (PACKAGE / "config").rglob("*.py"):
        assert not any(m.startswith(("nnstudy.models", "nnstudy.training.stacked"))
                       for m in _imports(path)), path
    for path in (PACKAGE / "study").rglob("*.py"):
        assert not any(m.startswith("nnstudy.report") for m in _imports(path)), path
