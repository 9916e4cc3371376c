#!/usr/bin/env bash
# The built-in pages at scale: 10,000 connections syncing, 1,000,000 tickets and 10,000 SLO
# groups with 30 days of history; prints each page's p50 / p99 / max server time and its size
# (targets in BENCHMARKS.md: p99 <= 50 ms, <= 150 KB).
# Usage: bench/pages.sh [CONNECTIONS] [TICKETS] [REQUESTS]   (defaults 10000, 1000000, 200)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo bench --bench pages -- "${1:-10000}" "${2:-1000000}" "${3:-200}" 2>/dev/null
