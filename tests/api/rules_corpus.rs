//! The shared corpus of public rule files (`../shared/conformance/realworld/rules/`):
//! syncwatch loads every file `promtool check rules` (2.42) accepts, and renders every alerting
//! rule's labels and annotations as promtool renders them for the same alert.
//!
//! For the rendering, each file's alerting rules are rewritten to fire at once on a synthetic
//! series carrying every label their templates read (their expressions are not what is
//! compared here; the PromQL suite checks expressions). The metrics the file's expressions read
//! get one series each (value 0), so `query "…"` in a template finds data. promtool
//! runs the rules through `promtool test rules` and prints the alerts it got; syncwatch
//! evaluates the same rules on the same series in process. The texts must be equal, template
//! errors included (their place, `name:line:column`, and wording).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use syncwatch::domain::Labels;
use syncwatch::rules::file::{RuleKind, parse_rule_file};
use syncwatch::rules::series::SeriesStore;
use syncwatch::rules::state::{EvalContext, GroupState, evaluate_group};
use syncwatch::rules::template::TemplateEnv;

use super::helpers::{repo, skip_or_fail};

const SAMPLE_VALUE: f64 = 1234.5678;
const EXTERNAL_URL: &str = "http://prometheus.example.com:9090/prom";

fn corpus() -> Option<PathBuf> {
    let dir = repo().join("../shared/conformance/realworld/rules");
    dir.is_dir().then_some(dir)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    files
}

/// The files promtool accepted when the corpus was made (`results/promtool.tsv`, exit code 0).
fn promtool_accepted(dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join("../results/promtool.tsv"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let (name, rc) = (cols.next()?, cols.next()?);
            (rc == "0").then(|| name.to_string())
        })
        .collect()
}

#[test]
fn syncwatch_loads_every_public_rule_file_promtool_accepts() {
    let Some(dir) = corpus() else {
        return skip_or_fail("the shared conformance corpus is not beside the repository");
    };
    let accepted = promtool_accepted(&dir);
    let files = files(&dir);
    assert!(files.len() >= 40, "the corpus has {} files", files.len());
    let mut refused = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(f).unwrap();
        match (accepted.contains(&name), parse_rule_file(f, &text)) {
            (true, Err(p)) => refused.push(format!("{name}:\n{p}")),
            (false, Ok(_)) => {
                refused.push(format!("{name}: promtool refuses it, syncwatch loads it"))
            }
            _ => {}
        }
    }
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

/// An alerting rule of a corpus file, as written.
struct AlertRule {
    name: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn string_map(v: Option<&serde_norway::Value>) -> BTreeMap<String, String> {
    v.and_then(|v| v.as_mapping())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let v = match v {
                        serde_norway::Value::String(s) => s.clone(),
                        serde_norway::Value::Number(n) => n.to_string(),
                        serde_norway::Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    Some((k.as_str()?.to_string(), v))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The alerting rules, and the metric names every rule's expression reads.
fn read_rules(text: &str) -> (Vec<AlertRule>, BTreeSet<String>) {
    let doc: serde_norway::Value = serde_norway::from_str(text).unwrap();
    let mut alerts = Vec::new();
    let mut metrics = BTreeSet::new();
    let groups = doc["groups"].as_sequence().cloned().unwrap_or_default();
    for g in &groups {
        for r in g["rules"].as_sequence().cloned().unwrap_or_default() {
            if let Some(expr) = r["expr"].as_str()
                && let Ok(e) = syncwatch::rules::eval::parse_promql(expr)
            {
                for (name, _) in syncwatch::rules::eval::selector_windows(&e) {
                    metrics.extend(name);
                }
            }
            if let Some(name) = r["alert"].as_str() {
                alerts.push(AlertRule {
                    name: name.to_string(),
                    labels: string_map(r.get("labels")),
                    annotations: string_map(r.get("annotations")),
                });
            }
        }
    }
    (alerts, metrics)
}

/// The label names templates read as `$labels.x` or `.Labels.x`.
fn labels_read(rules: &[AlertRule]) -> BTreeSet<String> {
    let re = regex::Regex::new(r"(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*)").unwrap();
    rules
        .iter()
        .flat_map(|r| r.labels.values().chain(r.annotations.values()))
        .flat_map(|t| re.captures_iter(t).map(|c| c[1].to_string()))
        .collect()
}

/// A label set rendered as a PromQL series selector, for promtool's `input_series`.
fn series_text(name: &str, labels: &Labels) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap()))
        .collect();
    format!("{name}{{{}}}", inner.join(", "))
}

/// Reads one Go-quoted string (`strconv.Quote`) at the start of `s`: the text and the rest.
fn go_unquote(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    assert_eq!(chars.next().map(|c| c.1), Some('"'), "{s}");
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => {
                let (_, e) = chars.next().unwrap();
                let mut hex = |n: usize| {
                    let h: String = (0..n).map(|_| chars.next().unwrap().1).collect();
                    u32::from_str_radix(&h, 16).unwrap()
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    'x' => out.push(char::from_u32(hex(2)).unwrap()),
                    'u' => out.push(char::from_u32(hex(4)).unwrap()),
                    'U' => out.push(char::from_u32(hex(8)).unwrap()),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    panic!("unterminated quoted string: {s}")
}

/// Parses promtool's `{a="x", b="y"}`.
fn go_label_set(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim().strip_prefix('{').unwrap();
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if rest.starts_with('}') || rest.is_empty() {
            return out;
        }
        let eq = rest.find('=').unwrap();
        let key = rest[..eq].to_string();
        let (value, after) = go_unquote(&rest[eq + 1..]);
        out.insert(key, value);
        rest = after;
    }
}

type Rendered = BTreeMap<String, Vec<(BTreeMap<String, String>, BTreeMap<String, String>)>>;

/// The alerts promtool got, by alert name, from its failure output.
fn promtool_alerts(output: &str) -> Rendered {
    let mut out: Rendered = BTreeMap::new();
    let mut current = String::new();
    let mut labels = None;
    for line in output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("alertname: ") {
            current = rest.split(',').next().unwrap().to_string();
        } else if let Some(rest) = line.strip_prefix("Labels:") {
            labels = Some(go_label_set(rest));
        } else if let Some(rest) = line.strip_prefix("Annotations:") {
            out.entry(current.clone())
                .or_default()
                .push((labels.take().unwrap(), go_label_set(rest)));
        }
    }
    out
}

fn sorted(mut r: Rendered) -> Rendered {
    for alerts in r.values_mut() {
        alerts.sort();
    }
    r
}

/// What one file compared: alerting rules, and rendered texts that are template errors.
#[derive(Default)]
struct Compared {
    rules: usize,
    errors: usize,
}

/// Renders one corpus file's alerting rules through promtool and syncwatch. `Err`: what
/// differs.
fn compare_file(path: &Path, work: &Path) -> Result<Compared, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let (rules, metrics) = read_rules(&text);
    if rules.is_empty() {
        return Ok(Compared::default());
    }
    let mut base = Labels::new();
    for name in labels_read(&rules) {
        base.insert(&name, format!("{name}-1.example.com:9100"));
    }
    base.insert("instance", "node-1.example.com:9100");
    base.insert("job", "node");

    // The rules, firing at once on their own synthetic series.
    let mut yaml = String::from("groups:\n- name: corpus\n  rules:\n");
    let mut series = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let rule = serde_json::json!({
            "alert": r.name,
            "expr": format!("corpus_sample{{rule=\"{i}\"}}"),
            "labels": r.labels,
            "annotations": r.annotations,
        });
        let item = serde_norway::to_string(&vec![rule]).unwrap();
        for line in item.lines() {
            yaml.push_str("  ");
            yaml.push_str(line);
            yaml.push('\n');
        }
        let mut l = base.clone();
        l.insert("rule", i.to_string());
        series.push(("corpus_sample".to_string(), l, SAMPLE_VALUE));
    }
    // One series per metric: promtool creates input series in a random order (Go's map
    // iteration), so the order of two series in a query's answer, or in a join's error, would
    // change from run to run.
    for m in &metrics {
        series.push((m.clone(), base.clone(), 0.0));
    }
    let rule_file = work.join("rules.yml");
    std::fs::write(&rule_file, &yaml).unwrap();
    let names: BTreeSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    let test = serde_json::json!({
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "external_labels": {"cluster": "external"},
            "external_url": EXTERNAL_URL,
            "input_series": series.iter().map(|(n, l, v)| serde_json::json!({
                "series": series_text(n, l),
                "values": format!("{v} {v}"),
            })).collect::<Vec<_>>(),
            "alert_rule_test": names.iter().map(|n| serde_json::json!({
                "eval_time": "0m", "alertname": n, "exp_alerts": [],
            })).collect::<Vec<_>>(),
        }],
    });
    let test_file = work.join("test.yml");
    std::fs::write(&test_file, serde_norway::to_string(&test).unwrap()).unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules", "test.yml"])
        .current_dir(work)
        .output()
        .expect("promtool runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = sorted(promtool_alerts(&printed));
    if theirs.is_empty() {
        return Err(format!("promtool gave no alerts:\n{printed}"));
    }

    let groups = parse_rule_file(&rule_file, &yaml)
        .map_err(|p| format!("syncwatch refuses the rewritten rules:\n{p}"))?;
    let mut store = SeriesStore::new(i64::MAX / 4, 1);
    for (name, labels, v) in &series {
        store.push(name, labels, 0, *v);
    }
    let env = TemplateEnv {
        external_labels: [("cluster", "external")].into_iter().collect(),
        external_url: EXTERNAL_URL.into(),
    };
    let no_runbook = |_: &Labels| None;
    let ctx = EvalContext {
        now_ms: 0,
        step_ms: 60_000,
        template_env: &env,
        generator_url: "",
        runbook_url: &no_runbook,
    };
    let mut ours: Rendered = BTreeMap::new();
    for g in &groups {
        let mut state = GroupState::new(g);
        let outcome = evaluate_group(g, &mut state, &mut store, &ctx);
        assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
        for (rule, alerts) in g.rules.iter().zip(&state.alerts) {
            if !matches!(rule.kind, RuleKind::Alerting { .. }) {
                continue;
            }
            for a in alerts.values() {
                let labels = a
                    .labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                ours.entry(rule.name.clone())
                    .or_default()
                    .push((labels, a.annotations.clone()));
            }
        }
    }
    let ours = sorted(ours);
    let mut diffs = Vec::new();
    for name in &names {
        let (t, o) = (theirs.get(*name), ours.get(*name));
        if t == o {
            continue;
        }
        // Name the fields that differ, where both rendered the same alerts.
        let fields: Vec<String> = match (t, o) {
            (Some(t), Some(o)) if t.len() == o.len() => t
                .iter()
                .zip(o)
                .flat_map(|((tl, ta), (ol, oa))| {
                    let keys: BTreeSet<&String> = tl
                        .keys()
                        .chain(ta.keys())
                        .chain(ol.keys())
                        .chain(oa.keys())
                        .collect();
                    keys.into_iter()
                        .filter_map(|k| {
                            let tv = tl.get(k).or(ta.get(k));
                            let ov = ol.get(k).or(oa.get(k));
                            (tv != ov).then(|| {
                                format!("  {k}:\n    promtool:  {tv:?}\n    syncwatch: {ov:?}")
                            })
                        })
                        .collect::<Vec<_>>()
                })
                .collect(),
            _ => vec![format!("  promtool:  {t:?}\n  syncwatch: {o:?}")],
        };
        diffs.push(format!("alert {name}:\n{}", fields.join("\n")));
    }
    if diffs.is_empty() {
        let errors = ours
            .values()
            .flatten()
            .flat_map(|(l, a)| l.values().chain(a.values()))
            .filter(|v| v.contains("<error expanding template"))
            .count();
        Ok(Compared {
            rules: rules.len(),
            errors,
        })
    } else {
        Err(diffs.join("\n"))
    }
}

#[test]
fn public_rule_templates_render_what_promtool_renders() {
    let Some(dir) = corpus() else {
        return skip_or_fail("the shared conformance corpus is not beside the repository");
    };
    // The expected texts are promtool 2.42's (Debian 12's); another version words some errors
    // differently.
    match Command::new("promtool").arg("--version").output() {
        Err(_) => return skip_or_fail("promtool (Debian's prometheus) is not installed"),
        Ok(out) if !String::from_utf8_lossy(&out.stdout).contains("version 2.42.") => {
            return skip_or_fail("promtool is not version 2.42");
        }
        Ok(_) => {}
    }
    let mut wrong = Vec::new();
    let mut total = Compared::default();
    for f in files(&dir) {
        let work = tempfile::tempdir().unwrap();
        match compare_file(&f, work.path()) {
            Ok(c) => {
                total.rules += c.rules;
                total.errors += c.errors;
            }
            Err(d) => wrong.push(format!("{}:\n{d}", f.display())),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    assert!(
        total.rules > 500,
        "only {} alerting rules compared",
        total.rules
    );
    // Some templates fail on the synthetic data (`humanize` of a host name, `first` of an empty
    // answer): their error texts are compared too.
    assert!(total.errors > 0, "no template error was compared");
    eprintln!(
        "{} alerting rules render as promtool renders them ({} template errors among the texts)",
        total.rules, total.errors
    );
}
