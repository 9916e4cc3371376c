#!/usr/bin/env bash
# Alert storms at Alertmanager's scale: POST /api/v2/alerts in batches of 100 new alerts against
# syncwatch and Alertmanager 0.25 (Debian's prometheus-alertmanager) in the same run: alerts/s
# and request p99 over a 20 s storm, memory with 1,000,000 alerts held, idle CPU.
# Usage: bench/ingest.sh [ALERTS [STORM_SECONDS]]   (default 1000000 20; a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench ingest -- "${1:-1000000}" "${2:-20}" 2>/dev/null
