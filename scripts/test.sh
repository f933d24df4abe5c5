#!/usr/bin/env bash
# README's second command: install what the tests need (system packages, venv with test extras)
# and run lint, the import contract, the type check and the whole test suite (real SpatiaLite,
# PostGIS, Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system.sh
bash scripts/venv.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
.venv/bin/mypy  # [tool.mypy] in pyproject.toml: geo, dispatch, api/ops
if [ "$#" -gt 0 ]; then  # a chosen subset: as asked, in one process
  exec .venv/bin/python -m pytest "$@"
fi
# The whole suite in two phases: the tests in parallel (one pytest-xdist worker per CPU, each with
# its own PostGIS and Chromium), then the ones marked "serial" alone: they assert wall-clock bounds
# (a /health answer within 100 ms during an upload, a change seen within 2 s) that the parallel
# phase's load on a 2-core machine would break.
.venv/bin/python -m pytest -n "${WEIWANG_TEST_WORKERS:-logical}" --dist loadfile -m "not serial"
exec .venv/bin/python -m pytest -m serial
