"""Print the versions the test suite runs against, on one line (scripts/test.sh)."""

import platform
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("torch", "numpy", "pandas", "scipy", "pydantic", "typer", "rich", "scikit-learn",
            "matplotlib", "pillow", "pyyaml", "ray")


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


print(f"python {platform.python_version()}, " + ", ".join(
    f"{name} {v}" for name in PACKAGES if (v := _version(name)) is not None))
