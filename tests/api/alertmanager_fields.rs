//! Configs written to cover every field syncwatch reads from `alertmanager.yml`: `syncwatch
//! check` accepts exactly the ones `amtool check-config` (Alertmanager 0.25) accepts, and
//! refuses the ones it refuses, except the documented extensions listed with each case.

use std::process::Command;

use syncwatch::config::loader::Mode;

use super::helpers::skip_or_fail;

/// A receiver's integrations (indented under `receivers: - name: r`), or a whole extra part.
struct Case {
    what: &'static str,
    yaml: &'static str,
    /// syncwatch's answer differs from amtool's on purpose (README, "Coming from Alertmanager").
    extension: bool,
}

const CASES: &[Case] = &[
    Case {
        what: "slack: every message field",
        extension: false,
        yaml: "    slack_configs:
      - api_url: https://hooks.slack.com/services/T/B/X
        channel: '#a'
        username: '{{ .Receiver }}'
        color: good
        title: '{{ .Status }}'
        title_link: https://x.example
        pretext: p
        text: '{{ range .Alerts }}{{ .Labels.alertname }}{{ end }}'
        fallback: f
        callback_id: c
        footer: ft
        icon_emoji: ':fire:'
        image_url: https://x.example/i.png
        thumb_url: https://x.example/t.png
        short_fields: true
        link_names: true
        mrkdwn_in: [text, pretext]
        fields:
          - {title: a, value: b, short: false}
        actions:
          - type: button
            text: Open
            url: https://x.example
            style: primary
            confirm: {text: 'sure?', title: t, ok_text: 'yes', dismiss_text: 'no'}
        send_resolved: false
",
    },
    Case {
        what: "slack: icon_url",
        extension: false,
        yaml: "    slack_configs:
      - api_url: https://hooks.slack.com/services/T/B/X
        icon_url: https://x.example/icon.png
",
    },
    Case {
        what: "slack: an unknown field",
        extension: false,
        yaml: "    slack_configs:
      - api_url: https://hooks.slack.com/services/T/B/X
        titel: typo
",
    },
    Case {
        what: "slack: a bad api_url",
        extension: false,
        yaml: "    slack_configs:
      - api_url: not a url
",
    },
    Case {
        what: "email: html, text and headers",
        extension: false,
        yaml: "    email_configs:
      - to: a@example.com
        from: b@example.com
        smarthost: smtp.example:587
        html: '<b>{{ .Status }}</b>'
        text: '{{ .Status }}'
        headers: {Subject: 'x {{ .Status }}', Reply-To: c@example.com}
        require_tls: true
        tls_config: {insecure_skip_verify: true, server_name: smtp.example}
",
    },
    Case {
        what: "email: missing smarthost",
        extension: false,
        yaml: "    email_configs:
      - to: a@example.com
        from: b@example.com
",
    },
    Case {
        what: "webhook: url, max_alerts, http_config",
        extension: false,
        yaml: "    webhook_configs:
      - url: https://hooks.example/x
        max_alerts: 10
        send_resolved: true
        http_config:
          authorization: {type: Bearer, credentials: t0k}
          follow_redirects: false
          proxy_url: http://proxy.example:3128
",
    },
    Case {
        what: "webhook: basic_auth with password_file and tls_config",
        extension: false,
        yaml: "    webhook_configs:
      - url: https://hooks.example/x
        http_config:
          basic_auth: {username: u, password: p}
          tls_config: {insecure_skip_verify: true, server_name: hooks.example, min_version: TLS12}
          enable_http2: true
",
    },
    Case {
        what: "webhook: older bearer_token",
        extension: false,
        yaml: "    webhook_configs:
      - url: https://hooks.example/x
        http_config:
          bearer_token: t0k
",
    },
    Case {
        what: "http_config: two kinds of authentication",
        extension: false,
        yaml: "    webhook_configs:
      - url: https://hooks.example/x
        http_config:
          basic_auth: {username: u, password: p}
          bearer_token: t0k
",
    },
    Case {
        what: "http_config: Basic as an authorization type",
        extension: false,
        yaml: "    webhook_configs:
      - url: https://hooks.example/x
        http_config:
          authorization: {type: Basic, credentials: x}
",
    },
    Case {
        what: "http_config: credentials and credentials_file",
        extension: false,
        yaml: "    webhook_configs:
      - url: https://hooks.example/x
        http_config:
          authorization: {credentials: x, credentials_file: /etc/x}
",
    },
    Case {
        what: "http_config: an unknown field",
        extension: false,
        yaml: "    webhook_configs:
      - url: https://hooks.example/x
        http_config:
          proxy_from_environment: true
",
    },
    Case {
        what: "webhook: no url",
        extension: false,
        yaml: "    webhook_configs:
      - send_resolved: true
",
    },
    Case {
        what: "pagerduty: every field (Events v2)",
        extension: false,
        yaml: "    pagerduty_configs:
      - routing_key: R
        url: https://events.pagerduty.com/v2/enqueue
        client: c
        client_url: https://x.example
        description: '{{ .Status }}'
        severity: critical
        class: cl
        component: co
        group: g
        details: {a: b}
        images: [{src: https://x.example/i.png, alt: a, href: https://x.example}]
        links: [{href: https://x.example, text: t}]
        send_resolved: true
        http_config: {proxy_url: 'http://proxy.example:3128'}
",
    },
    Case {
        what: "pagerduty: a service key (Events v1)",
        extension: false,
        yaml: "    pagerduty_configs:
      - service_key: S
",
    },
    Case {
        what: "pagerduty: no key",
        extension: false,
        yaml: "    pagerduty_configs:
      - severity: critical
",
    },
    Case {
        what: "pagerduty: routing_key and routing_key_file",
        extension: false,
        yaml: "    pagerduty_configs:
      - routing_key: R
        routing_key_file: /etc/pd
",
    },
    Case {
        what: "opsgenie (not delivered by syncwatch)",
        extension: true,
        yaml: "    opsgenie_configs:
      - api_key: k
",
    },
    Case {
        what: "msteams (Alertmanager 0.26)",
        extension: true,
        yaml: "    msteams_configs:
      - webhook_url: https://outlook.example/webhook
        title: t
",
    },
    Case {
        what: "an unknown receiver field",
        extension: false,
        yaml: "    sms_configs:
      - to: '+1'
",
    },
];

const TEMPLATES_CASE: &str = "templates: ['/nonexistent/dir/*.tmpl']\n";

fn amtool_accepts(path: &std::path::Path) -> bool {
    Command::new("amtool")
        .arg("check-config")
        .arg(path)
        .output()
        .expect("amtool runs")
        .status
        .success()
}

#[test]
fn check_accepts_exactly_what_amtool_accepts_field_by_field() {
    if Command::new("amtool").arg("--version").output().is_err() {
        return skip_or_fail("amtool (Debian's prometheus-alertmanager) is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let no_env = |_: &str| None;
    let mut wrong = Vec::new();
    let mut compared = 0;
    for (i, case) in CASES.iter().enumerate() {
        let extra = if i == 0 { TEMPLATES_CASE } else { "" };
        let text = format!(
            "{extra}route:\n  receiver: r\nreceivers:\n  - name: r\n{}",
            case.yaml
        );
        let path = dir.path().join(format!("case{i}.yml"));
        std::fs::write(&path, &text).unwrap();
        let theirs = amtool_accepts(&path);
        let ours = syncwatch::alerting::config::load_with(&path, &no_env, Mode::Check);
        let agree = theirs == ours.is_ok();
        if agree == case.extension {
            wrong.push(format!(
                "{}: amtool {}, syncwatch {}{}",
                case.what,
                if theirs { "accepts" } else { "refuses" },
                match &ours {
                    Ok(_) => "accepts".to_string(),
                    Err(p) => format!("refuses:\n{p}"),
                },
                if case.extension {
                    " (listed as an extension: they should differ)"
                } else {
                    ""
                }
            ));
        }
        compared += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(compared, CASES.len());
}
