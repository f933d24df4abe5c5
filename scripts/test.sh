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
exec .venv/bin/python -m pytest "$@"
