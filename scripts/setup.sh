#!/usr/bin/env bash
# Sets nnstudy up in ./.venv: the CPU build of PyTorch where no GPU is present, then the
# package with its dev extras. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    pip install "torch>=2.3"
  else
    # A bare `torch` pulls a CUDA build of several GB; take the CPU build instead: from a
    # local wheel where the machine keeps one, else from PyTorch's CPU index.
    pip install --no-index --no-deps "torch==2.13.0+cpu" 2>/dev/null \
      || pip install "torch>=2.3" --index-url https://download.pytorch.org/whl/cpu
  fi
fi
pip install -e ".[dev]"
