#!/usr/bin/env bash
# Events: stage observations per second through POST /api/v1/events, batches of 1,000, with the
# shipped rules live. Usage: bench/events.sh [SECONDS] [CLIENTS]   (defaults 20, 2)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench events -- "${1:-20}" "${2:-2}" 2>/dev/null
