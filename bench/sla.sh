#!/usr/bin/env bash
# SLOs at scale: 10,000 connection-level SLO groups over 30 days of history. Prints the history
# on disk (SQLite and PostgreSQL), the CPU cost of recording a minute, and GET /api/v1/sla p50 /
# p99 from the release binary (targets in BENCHMARKS.md).
# Usage: bench/sla.sh [CONNECTIONS] [DAYS] [REQUESTS]   (defaults 10000, 30, 400)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo bench --bench sla -- "${1:-10000}" "${2:-30}" "${3:-400}" 2>/dev/null
