"""Writes the fixtures of bench/rules.sh into DIR: rules.yml (1,000 alerting rules in 10 groups)
and target/metrics (10,000 series in Prometheus text format). Both engines read the same files."""
import os
import sys

out = sys.argv[1]
os.makedirs(os.path.join(out, "target"), exist_ok=True)

lines = []
for s in range(50):
    for i in range(100):
        lines.append(f'bench_requests_total{{service="s{s}",instance="i{i}"}} {1000 + s * 100 + i}')
for s in range(25):
    for i in range(100):
        lines.append(f'bench_latency_seconds{{service="s{s}",instance="i{i}"}} {((s * 7 + i) % 100) / 100}')
        lines.append(f'bench_errors_total{{service="s{s}",instance="i{i}"}} {s + i}')
assert len(lines) == 10_000
exposition = ["# TYPE bench_requests_total counter", "# TYPE bench_latency_seconds gauge", "# TYPE bench_errors_total counter"]
with open(os.path.join(out, "target", "metrics"), "w") as f:
    f.write("\n".join(exposition + lines) + "\n")

rules = ["groups:"]
n = 0
for g in range(10):
    rules += [f"  - name: bench{g}", "    rules:"]
    for r in range(100):
        kind = n % 5
        if kind in (0, 1):
            expr = f'sum by (service) (rate(bench_requests_total{{service="s{n % 50}"}}[5m])) > 100'
        elif kind == 2:
            expr = f'max by (instance) (bench_latency_seconds{{service="s{n % 25}"}}) > 0.999'
        elif kind == 3:
            expr = f'avg(bench_latency_seconds{{service="s{n % 25}"}}) > 0.9'
        else:
            expr = f'sum(increase(bench_errors_total{{service="s{n % 25}"}}[5m])) > 1000'
        rules += [f"      - alert: Bench{n}", f"        expr: '{expr}'", "        for: 1m", "        labels:", "          severity: warning"]
        n += 1
with open(os.path.join(out, "rules.yml"), "w") as f:
    f.write("\n".join(rules) + "\n")
print(f"fixtures: {n} rules, {len(lines)} series in {out}")
