#!/usr/bin/env bash
# README's first command: set up and run weiwang on the embedded default (SpatiaLite file
# data/weiwang.sqlite, filled from data/boundaries/ on first start) at http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system.sh --runtime
bash scripts/venv.sh
exec .venv/bin/weiwang serve --host 127.0.0.1 --port "${PORT:-8000}" "$@"
