#!/usr/bin/env bash
# What CI runs (.ci/run): set up, ruff, then the test suite twice, at the newest versions
# pip resolves (.venv) and at the lowest versions pyproject.toml declares (.venv-lowest),
# so that a declared dependency range is a tested range.
#
#   bash scripts/test.sh                 both runs
#   TEST_LOWEST=0 bash scripts/test.sh   the newest versions only (quicker while you work)
#   bash scripts/test.sh tests/study     arguments go to pytest
#   PYTEST_WORKERS=0 bash scripts/test.sh   one test process (default: 2, pytest-xdist)
set -euo pipefail
cd "$(dirname "$0")/.."

# One intra-op thread per test process unless the caller says otherwise: tests then time
# and round the same whatever the machine's core count (a test that needs more sets it).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# Headless Chromium for the browser test of report.html (tests/report/test_browser.py):
# Debian's packages where missing and we may install them; otherwise that test skips and
# says why.
install_chromium() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null \
      || echo "== chromium could not be installed: the browser test will skip" >&2
  else
    echo "== no chromium and not root: the browser test will skip" >&2
  fi
}

# Two test processes (pytest-xdist) on CI's two cores; PYTEST_WORKERS=0 runs in one process.
# Tests that share the Ray cluster run on one worker (tests/conftest.py).
PARALLEL=()
if [ "${PYTEST_WORKERS:-2}" != "0" ]; then
  PARALLEL=(-n "${PYTEST_WORKERS:-2}" --dist loadgroup)
fi

bash scripts/setup.sh
install_chromium

# The lowest versions install (a large torch download) while the newest ones are tested.
if [ "${TEST_LOWEST:-1}" != "0" ]; then
  (bash scripts/setup.sh --lowest >.setup-lowest.log 2>&1; echo $? >.setup-lowest.rc) &
  LOWEST_SETUP=$!
fi

.venv/bin/ruff check src tests benchmarks
echo "== tests at the newest versions: $(.venv/bin/python scripts/versions.py)"
.venv/bin/python -m pytest -q "${PARALLEL[@]}" "$@"

if [ "${TEST_LOWEST:-1}" != "0" ]; then
  wait "$LOWEST_SETUP" || true
  if [ "$(cat .setup-lowest.rc 2>/dev/null)" != "0" ]; then
    cat .setup-lowest.log >&2
    echo "== setting up the lowest versions failed (above)" >&2
    exit 1
  fi
  echo "== tests at the lowest declared versions: $(.venv-lowest/bin/python scripts/versions.py)"
  .venv-lowest/bin/python -m pytest -q "${PARALLEL[@]}" "$@"
fi
