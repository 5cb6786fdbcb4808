"""The config room is the ground floor: no module of it imports `nnstudy.models`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nnstudy.config

CONFIG = Path(nnstudy.config.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` names anywhere in the file (also
    inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_config_module_imports_models_even_inside_a_function():
    offenders = {
        path.name: sorted(n for n in _imported_modules(path) if n.startswith("nnstudy.models"))
        for path in sorted(CONFIG.glob("*.py"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_parsing_every_kind_of_model_spec_loads_no_model_code():
    code = (
        "import sys\n"
        "from nnstudy.config.model import parse_model_spec\n"
        "for raw in ['lenet5', {'cifar_net': {'activation': 'swish'}}, {'mlp': {}},\n"
        "            [{'conv': {'out': 2, 'kernel': 3}}, 'silu', 'flatten', {'linear': 3}]]:\n"
        "    parse_model_spec(raw)\n"
        "print(sorted(m for m in sys.modules if m.startswith('nnstudy.models')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
