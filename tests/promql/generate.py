"""Regenerates tests/promql/*_test.yml. Expected values come from `promtool test rules` (Prometheus 2.42),
the reference implementation; run: python3 tests/promql/generate.py tests/promql"""
import re, subprocess, sys, json
INPUT = '''      - series: 'http_requests_total{job="api", instance="a", code="200"}'
        values: '0+15x80'
      - series: 'http_requests_total{job="api", instance="b", code="200"}'
        values: '0+30x80'
      - series: 'http_requests_total{job="api", instance="a", code="500"}'
        values: '0+3.75x80'
      - series: 'http_requests_total{job="web", instance="c", code="200"}'
        values: '0+7.5x30 3.75+7.5x49'
      - series: 'temperature{room="kitchen"}'
        values: '20 21 19 25 22 18 30 24 20 21 23 22 19 20 26 25 22 21 20 19 18 22 24 23 21 20 22 23 25 24 22 21 20 19 21 22 23 24 25 26 27 26 25 24 23'
      - series: 'temperature{room="hall"}'
        values: '15+0.5x44'
      - series: 'request_duration_seconds_bucket{job="api", le="0.1"}'
        values: '0+5x80'
      - series: 'request_duration_seconds_bucket{job="api", le="0.5"}'
        values: '0+8x80'
      - series: 'request_duration_seconds_bucket{job="api", le="1"}'
        values: '0+9x80'
      - series: 'request_duration_seconds_bucket{job="api", le="+Inf"}'
        values: '0+10x80'
      - series: 'capacity{job="api"}'
        values: '128x80'
      - series: 'capacity{job="web"}'
        values: '64x80'
      - series: 'team_info{job="api", team="sre"}'
        values: '1x80'
      - series: 'team_info{job="web", team="frontend"}'
        values: '1x80'
      - series: 'gap_metric{kind="gap"}'
        values: '1 _x30 2'
      - series: 'stale_metric{kind="stale"}'
        values: '1 1 1 stale'
      - series: 'queue_depth{stage="store"}'
        values: '10+3x80'
      - series: 'label_src{src="dealer-001", region="eu"}'
        values: '7x80'
'''
T = {
 'selectors': [
  ('http_requests_total{job="api", code="200"}', '10m'),
  ('http_requests_total{code!="200"}', '10m'),
  ('http_requests_total{instance=~"a|c"}', '10m'),
  ('http_requests_total{instance!~"a.*"}', '10m'),
  ('http_requests_total{job="api", instance="a", code="200"} offset 5m', '10m'),
  ('{__name__=~"capacity|team_info", job="web"}', '10m'),
  ('gap_metric', '4m'),
  ('gap_metric', '6m'),
  ('gap_metric', '8m'),
  ('stale_metric', '30s'),
  ('stale_metric', '1m'),
  ('stale_metric', '3m'),
 ],
 'operators': [
  ('capacity + 1', '10m'), ('capacity - capacity', '10m'), ('capacity * 2', '10m'), ('capacity / 3', '10m'),
  ('capacity % 30', '10m'), ('capacity ^ 2', '10m'), ('2 * capacity', '10m'), ('-capacity', '10m'),
  ('capacity > 100', '10m'), ('capacity > bool 100', '10m'), ('100 < capacity', '10m'), ('capacity == 128', '10m'),
  ('capacity != 128', '10m'), ('capacity >= 64', '10m'), ('capacity <= 64', '10m'),
  ('sum by (job) (rate(http_requests_total[2m])) / on (job) capacity', '10m'),
  ('capacity / ignoring (team) team_info', '10m'),
  ('rate(http_requests_total[2m]) / ignoring (instance, code) group_left capacity', '10m'),
  ('rate(http_requests_total[2m]) * on (job) group_left (team) team_info', '10m'),
  ('capacity * on (job) group_right rate(http_requests_total[2m])', '10m'),
  ('http_requests_total and on (job) capacity > 100', '10m'),
  ('capacity or team_info', '10m'),
  ('http_requests_total unless on (instance) http_requests_total{code="500"}', '10m'),
  ('capacity > bool on (job) team_info', '10m'),
  ('1 + 2 * 3', '1m'), ('(1 + 2) * 3', '1m'), ('2 ^ 3 ^ 2', '1m'), ('10 % 3', '1m'),
 ],
 'aggregations': [
  ('sum(http_requests_total)', '10m'), ('sum by (job) (http_requests_total)', '10m'),
  ('sum without (instance, code) (http_requests_total)', '10m'), ('avg by (job) (http_requests_total)', '10m'),
  ('min by (job) (http_requests_total)', '10m'), ('max without (code) (http_requests_total)', '10m'),
  ('count by (job) (http_requests_total)', '10m'), ('group by (job) (http_requests_total)', '10m'),
  ('stddev(temperature)', '10m'), ('stdvar by (room) (temperature)', '10m'),
  ('topk(2, http_requests_total)', '10m'), ('bottomk by (job) (1, http_requests_total)', '10m'),
  ('quantile(0.5, http_requests_total)', '10m'), ('quantile by (job) (0.9, http_requests_total)', '10m'),
  ('count_values("value", capacity)', '10m'), ('count_values by (job) ("code", http_requests_total > 0)', '10m'),
 ],
 'functions': [
  ('rate(http_requests_total[1m])', '10m'), ('rate(http_requests_total[5m] offset 2m)', '10m'),
  ('irate(http_requests_total[1m])', '10m'), ('increase(http_requests_total[2m])', '10m'),
  ('increase(http_requests_total{job="web"}[2m])', '8m'),
  ('rate(http_requests_total{job="web"}[5m])', '9m'),
  ('delta(temperature[2m])', '10m'), ('idelta(temperature[2m])', '10m'),
  ('deriv(temperature[5m])', '10m'), ('predict_linear(queue_depth[5m], 600)', '10m'),
  ('predict_linear(temperature[3m], 3600)', '10m'),
  ('avg_over_time(temperature[2m])', '10m'), ('min_over_time(temperature[3m])', '10m'),
  ('max_over_time(temperature[3m])', '10m'), ('sum_over_time(temperature[1m])', '10m'),
  ('count_over_time(temperature[5m])', '10m'), ('quantile_over_time(0.75, temperature[5m])', '10m'),
  ('stddev_over_time(temperature[5m])', '10m'), ('stdvar_over_time(temperature[5m])', '10m'),
  ('last_over_time(temperature[5m])', '10m'), ('present_over_time(temperature[5m])', '10m'),
  ('absent_over_time(nonexistent{job="x"}[5m])', '10m'), ('absent_over_time(temperature[5m])', '10m'),
  ('absent(nonexistent{job="api", env=~"prod"})', '10m'), ('absent(capacity)', '10m'),
  ('changes(temperature[5m])', '10m'), ('resets(http_requests_total[10m])', '12m'),
  ('histogram_quantile(0.5, rate(request_duration_seconds_bucket[2m]))', '10m'),
  ('histogram_quantile(0.95, sum by (le) (rate(request_duration_seconds_bucket[2m])))', '10m'),
  ('histogram_quantile(0.99, rate(request_duration_seconds_bucket[2m]))', '10m'),
  ('abs(-capacity)', '10m'), ('ceil(temperature / 3)', '10m'), ('floor(temperature / 3)', '10m'),
  ('round(temperature / 3)', '10m'), ('round(temperature, 5)', '10m'),
  ('clamp(temperature, 20, 22)', '10m'), ('clamp_min(temperature, 22)', '10m'), ('clamp_max(temperature, 22)', '10m'),
  ('sqrt(capacity)', '10m'), ('exp(capacity / 64)', '10m'), ('ln(capacity)', '10m'), ('log2(capacity)', '10m'),
  ('log10(capacity)', '10m'), ('sgn(capacity - 100)', '10m'),
  ('time()', '10m'), ('timestamp(capacity)', '10m'), ('timestamp(gap_metric)', '4m'), ('vector(3)', '10m'),
  ('scalar(capacity{job="api"})', '10m'),
  ('capacity * scalar(capacity{job="web"})', '10m'),
  ('label_replace(label_src, "dealer", "$1", "src", "dealer-(.*)")', '10m'),
  ('label_replace(label_src, "dealer", "$1", "src", "nomatch-(.*)")', '10m'),
  ('label_join(label_src, "key", "/", "region", "src")', '10m'),
  ('sort(capacity)', '10m'), ('sort_desc(capacity)', '10m'),
 ],
 'subqueries': [
  ('max_over_time(rate(http_requests_total[1m])[5m:1m])', '10m'),
  ('avg_over_time(temperature[3m:30s])', '10m'),
  ('min_over_time((temperature > 20)[5m:])', '10m'),
  ('max_over_time(rate(http_requests_total[2m])[4m:2m])', '10m'),
  ('deriv(sum(http_requests_total)[5m:1m])', '10m'),
 ],
}

def yaml_q(s):
    return "'" + s.replace("'", "''") + "'"

def build(cases, expected):
    out = ["# Generated: expected values were computed by `promtool test rules` (Prometheus),",
           "# the reference implementation. `syncwatch rules test` must agree.",
           "rule_files: [empty_rules.yml]", "evaluation_interval: 15s", "tests:", "  - interval: 15s", "    input_series:"]
    out.append(INPUT.rstrip("\n"))
    out.append("    promql_expr_test:")
    for i, (expr, t) in enumerate(cases):
        out.append(f"      - expr: {yaml_q(expr)}")
        out.append(f"        eval_time: {t}")
        samples = expected.get(i) if expected is not None else None
        if samples:
            out.append("        exp_samples:")
            for labels, value in samples:
                out.append(f"          - labels: {yaml_q(labels)}")
                out.append(f"            value: {value}")
    return "\n".join(out) + "\n"

def parse_got(line):
    body = line.split("got:", 1)[1].strip()
    if body == "nil":
        return []
    res = []
    for m in re.finditer(r'(\S*\{[^}]*\}) (\S+?)(?:, |$)', body):
        v = m.group(2)
        v = {"NaN": ".nan", "+Inf": ".inf", "-Inf": "-.inf"}.get(v, v)
        res.append((m.group(1), v))
    return res

def main(dest):
    open(f"{dest}/empty_rules.yml", "w").write("groups: []\n")
    for name, cases in T.items():
        path = f"{dest}/{name}_test.yml"
        open(path, "w").write(build(cases, None))
        out = subprocess.run(["promtool", "test", "rules", path], capture_output=True, text=True); out = out.stdout + out.stderr
        expected = {}
        lines = out.splitlines()
        for k, line in enumerate(lines):
            m = re.match(r'\s+expr: "(.*)", time: (\S+),', line)
            if m:
                expr = m.group(1).encode().decode('unicode_escape')
                got = next(l for l in lines[k+1:k+4] if l.strip().startswith("got:"))
                idx = next(i for i, (e, t) in enumerate(cases) if e == expr and t == m.group(2) and i not in expected)
                expected[idx] = parse_got(got)
        open(path, "w").write(build(cases, expected))
        # promtool sums in map order; an expectation must hold on every run, not just one.
        for _ in range(10):
            check = subprocess.run(["promtool", "test", "rules", path], capture_output=True, text=True)
            if check.returncode != 0:
                break
        print(name, "promtool:", "SUCCESS x10" if check.returncode == 0 else "FAILED\n" + (check.stdout + check.stderr)[-3000:])

main(sys.argv[1])
