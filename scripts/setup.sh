#!/usr/bin/env bash
# Sets nnstudy up in a virtual environment, safe to run again (it installs what is missing).
#
#   bash scripts/setup.sh            .venv: the newest versions pip resolves; the CPU build
#                                    of PyTorch where no GPU is present
#   bash scripts/setup.sh --lowest   .venv-lowest: the lowest versions pyproject.toml declares
#                                    (ci/constraints-lowest.txt; Python 3.10 where present)
set -euo pipefail
cd "$(dirname "$0")/.."

# The oldest Python we declare (3.10) where this machine has one that runs: on PATH, or
# installed by pyenv but not selected (its shim then exits 127); else the default python3.
lowest_python() {
  local cand
  for cand in "$(command -v python3.10 || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
    if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c "" 2>/dev/null; then
      echo "$cand"; return
    fi
  done
  command -v python3
}

MODE=${1:-newest}
case "$MODE" in
  newest|--newest) VENV=.venv; PY=${PYTHON:-python3} ;;
  --lowest)
    VENV=.venv-lowest
    PY=${PYTHON_LOWEST:-$(lowest_python)} ;;
  *) echo "usage: bash scripts/setup.sh [--lowest]" >&2; exit 2 ;;
esac

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
has_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; }

if [ "$MODE" = "--lowest" ]; then
  # torch 2.3.0, the declared minimum, exists on PyPI only as its CUDA build (about 3 GB
  # with its libraries); it runs on a CPU as well.
  "$VENV/bin/python" -c "import torch" 2>/dev/null || pip install "torch==2.3.0" -c ci/constraints-lowest.txt
  pip install -c ci/constraints-lowest.txt -e ".[dev,ray]"
  exit 0
fi

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if has_gpu; then
    pip install "torch>=2.3"
  else
    # A bare `torch` pulls a CUDA build of several GB; take the CPU build instead: from a
    # local wheel where the machine keeps one, else from PyTorch's CPU index.
    pip install --no-index --no-deps "torch==2.13.0+cpu" 2>/dev/null \
      || pip install "torch>=2.3" --index-url https://download.pytorch.org/whl/cpu
  fi
fi
pip install -e ".[dev,ray]"
