#!/usr/bin/env bash
# Pipeline: records per second through validate → transform → store (SQLite) → export (file://).
# Usage: bench/pipeline.sh [RECORDS] [SENDERS]   (defaults 600000, 8)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench pipeline -- "${1:-600000}" "${2:-8}" 2>/dev/null
