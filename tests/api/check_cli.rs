//! `syncwatch check` and the shipped rule files.

use std::process::Command;

use super::helpers::{promtool, repo, tool};

fn syncwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_syncwatch"))
}

/// Runs `syncwatch check` in `dir`, asserts exit code 1, returns what it printed.
fn check_fails_in(dir: &std::path::Path) -> String {
    let out = syncwatch()
        .current_dir(dir)
        .args(["check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    stdout
}

#[test]
fn check_passes_on_the_shipped_config() {
    let out = syncwatch()
        .current_dir(repo())
        .args(["check", "--config", "syncwatch.toml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ok ("), "{stdout}");
}

#[test]
fn check_names_file_and_line_of_every_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo();
    let copy = |name: &str| std::fs::copy(root.join(name), dir.path().join(name)).unwrap();
    for d in ["rules", "providers", "runbooks", "examples/scenarios"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    for f in ["alerting.yml", "examples/scenarios/demo.toml"] {
        copy(f);
    }
    for d in ["rules", "providers", "runbooks"] {
        for e in std::fs::read_dir(root.join(d)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), dir.path().join(d).join(e.file_name())).unwrap();
            }
        }
    }
    // A typo'd key in the config.
    let config = std::fs::read_to_string(root.join("syncwatch.toml"))
        .unwrap()
        .replace(
            "evaluation_interval = \"1s\"",
            "evaluation_interval = \"1 second\"",
        );
    std::fs::write(dir.path().join("syncwatch.toml"), config).unwrap();
    let stdout = check_fails_in(dir.path());
    assert!(
        stdout.contains("syncwatch.toml:15: rules.evaluation_interval: invalid duration"),
        "{stdout}"
    );

    // A fixed config, but a broken rule and a broken runbook: both reported.
    std::fs::copy(
        root.join("syncwatch.toml"),
        dir.path().join("syncwatch.toml"),
    )
    .unwrap();
    let rules_text = std::fs::read_to_string(root.join("rules/syncs.yml")).unwrap();
    let rules = std::fs::read_to_string(root.join("rules/syncs.yml"))
        .unwrap()
        .replace("for: 10s", "for: ten seconds");
    std::fs::write(dir.path().join("rules/syncs.yml"), rules).unwrap();
    let rb = std::fs::read_to_string(root.join("runbooks/provider-rate-limited.md"))
        .unwrap()
        .replace("## Fix", "## Remedy");
    std::fs::write(dir.path().join("runbooks/provider-rate-limited.md"), rb).unwrap();
    let stdout = check_fails_in(dir.path());
    // The line of the field at fault: the `for:` of that rule.
    let rule_at = rules_text
        .lines()
        .position(|l| l.contains("- alert: ProviderAuthFailing"))
        .expect("the rule exists");
    let rule_line = rule_at
        + rules_text
            .lines()
            .skip(rule_at)
            .position(|l| l.trim_start().starts_with("for: 10s"))
            .expect("the rule has `for: 10s`")
        + 1;
    let expected = format!(
        "rules/syncs.yml:{rule_line}: group \"syncs\", alert \"ProviderAuthFailing\": for: invalid duration"
    );
    assert!(stdout.contains(&expected), "{expected}\n{stdout}");
    assert!(
        stdout.contains("runbooks/provider-rate-limited.md:")
            && stdout.contains("missing section '## Fix'"),
        "{stdout}"
    );
}

#[test]
fn promtool_accepts_the_shipped_rule_files() {
    let files: Vec<_> = std::fs::read_dir(repo().join("rules"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    assert!(!files.is_empty());
    let mut args: Vec<&std::ffi::OsStr> = vec!["check".as_ref(), "rules".as_ref()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    promtool(&args, None);
}

/// Alertmanager's own fields only: syncwatch and amtool both accept the file.
const PLAIN_ALERTMANAGER_CONFIG: &str = r#"global:
  resolve_timeout: 5m
  smtp_smarthost: 'smtp.example.com:587'
  smtp_from: 'syncwatch@example.com'
  slack_api_url: 'https://hooks.slack.com/services/T000/B000/XXXX'
route:
  receiver: oncall
  group_by: [alertname, provider]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
  routes:
    - matchers: ['severity="warning"', 'provider=~"cdk|xtime"']
      receiver: oncall
      active_time_intervals: [business-hours]
      continue: true
    - matchers: ['provider!~"tekion"']
      group_by: ['...']
      receiver: support
      mute_time_intervals: [maintenance]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [provider]
time_intervals:
  - name: business-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '17:00'}]
  - name: maintenance
    time_intervals:
      - weekdays: [sunday]
        days_of_month: ['-7:-1']
        months: ['january:march']
        years: ['2026:2027']
receivers:
  - name: oncall
    slack_configs:
      - channel: '#oncall'
        send_resolved: true
    email_configs:
      - to: 'oncall@example.com'
  - name: support
    webhook_configs:
      - url: 'https://support.example.com/hooks/syncwatch'
        max_alerts: 10
"#;

#[test]
fn a_plain_alertmanager_config_passes_both_syncwatch_and_amtool() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(&path, PLAIN_ALERTMANAGER_CONFIG).unwrap();
    let no_env = |_: &str| None;
    let parsed = syncwatch::alerting::config::load(&path, &no_env);
    assert!(parsed.is_ok(), "{}", parsed.unwrap_err());
    let parsed = parsed.unwrap();
    assert_eq!(parsed.route.routes.len(), 2);
    assert_eq!(parsed.time_intervals.len(), 2);
    tool(
        "amtool",
        "prometheus-alertmanager",
        &["check-config".as_ref(), path.as_os_str()],
        None,
    );
}
