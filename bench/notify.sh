#!/usr/bin/env bash
# Breach to Slack: syncwatch and Prometheus + Alertmanager (Debian packages) in the same run.
# Usage: bench/notify.sh [BREACHES]   (default 100, about 2 minutes; needs prometheus and
# prometheus-alertmanager for the comparison, otherwise measures syncwatch only)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench notify -- "${1:-100}" 2>/dev/null
