#!/usr/bin/env bash
# Sets everything up (first run builds llama.cpp) and opens the Folio window.
# Arguments are passed on: scripts/run.sh contract.pdf, or scripts/run.sh chat for the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh
exec .venv/bin/folio "$@"
