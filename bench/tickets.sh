#!/usr/bin/env bash
# Tickets at a support desk's scale: 1,000,000 tickets and 10,000,000 events in SQLite; prints
# list p99, PATCH p99, 30-day stats and feed throughput (targets in BENCHMARKS.md).
# Usage: bench/tickets.sh [TICKETS] [EVENTS_PER_TICKET]   (defaults 1000000 and 10)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench tickets -- "${1:-1000000}" "${2:-10}" 2>/dev/null
