#!/usr/bin/env bash
# Scale: 10,000 connections across the five providers, one sync a minute each, against the
# simulator; prints syncwatch's peak RSS, the schedule lag and starved connections.
# Usage: bench/scale.sh [CONNECTIONS] [SECONDS] [WARMUP]   (defaults 10000, 480, 240; ~9 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench scale -- "${1:-10000}" "${2:-480}" "${3:-240}" 2>/dev/null
