#!/usr/bin/env bash
# Sets everything up (first run builds llama.cpp) and starts Folio.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh
exec .venv/bin/folio chat "$@"
