#!/usr/bin/env bash
# Breach to Slack: syncwatch and Prometheus + Alertmanager (Debian packages) in the same run.
# Usage: bench/notify.sh [BREACHES] [follow]   (default 100, about 2 minutes; needs prometheus
# and prometheus-alertmanager for the comparison, otherwise measures syncwatch only; `follow`
# sends breaches in pairs half a second apart in the same channel)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench notify -- "${1:-100}" ${2:-} 2>/dev/null
