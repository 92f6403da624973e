#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (real-model tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh
exec .venv/bin/python -m pytest "$@"
