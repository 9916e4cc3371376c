#!/usr/bin/env bash
# Rules benchmark: 1,000 alerting rules over 10,000 series, evaluated by syncwatch and by
# Prometheus (Debian package) in the same run, plus syncwatch's breach-to-transition latency.
# Usage: bench/rules.sh   (needs: python3, prometheus; about 4 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
python3 bench/rules_fixtures.py "$work"
target_port=19999
prom_port=19090

# Prometheus scrapes the 10,000 series every 5 s and evaluates the same rules every 5 s.
(cd "$work/target" && exec python3 -m http.server "$target_port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files: [rules.yml]
scrape_configs:
  - job_name: bench
    static_configs: [{targets: ['127.0.0.1:$target_port']}]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
prom=$!
trap 'kill $server $prom 2>/dev/null || true; rm -rf "$work"' EXIT

echo "building the benchmark…"
cargo bench --bench rules --no-run >/dev/null 2>&1

echo "letting Prometheus scrape 2 minutes of data…"
sleep 125
up=$(curl -s "http://127.0.0.1:$prom_port/api/v1/query?query=up" | grep -o '"value":\[[^]]*\]' | head -1)
samples=$(curl -s "http://127.0.0.1:$prom_port/metrics" | awk '/^prometheus_tsdb_head_series /{print $2}')
# Last evaluation time of each group, summed: the time to evaluate all 1,000 rules once. Averaged
# over 6 readings, 5 s apart.
prom_sum=0
for _ in 1 2 3 4 5 6; do
  v=$(curl -s "http://127.0.0.1:$prom_port/metrics" | awk '/^prometheus_rule_group_last_duration_seconds/ {s+=$2} END {printf "%.6f", s}')
  prom_sum=$(python3 -c "print($prom_sum + $v)")
  sleep 5
done
prom_eval=$(python3 -c "print(round($prom_sum / 6, 6))")

echo "running syncwatch…"
out=$(cargo bench --bench rules -- "$work" 2>/dev/null)
echo "$out"
sw_eval=$(echo "$out" | awk '/^syncwatch_eval_seconds_p50/ {print $2}')
echo
echo "prometheus: up $up, head series $samples"
echo "prometheus_eval_seconds (sum of prometheus_rule_group_last_duration_seconds) $prom_eval"
echo "syncwatch_eval_seconds_p50 $sw_eval"
python3 -c "print('ratio syncwatch/prometheus %.3f' % ($sw_eval / $prom_eval))"
