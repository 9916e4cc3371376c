//! Go's `text/template` behaviour, case by case (the expected texts are what Go 1.19 prints;
//! `tests/api/template_parity.rs` checks the same engine against `amtool template render`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;

fn data() -> Value {
    let mut m = BTreeMap::new();
    m.insert("Name".to_string(), Value::str("db"));
    m.insert("Empty".to_string(), Value::str(""));
    m.insert(
        "List".to_string(),
        Value::list([Value::Int(1), Value::Int(2), Value::Int(3)]),
    );
    m.insert(
        "Labels".to_string(),
        Value::string_map([("b", "2"), ("a", "1")]),
    );
    m.insert("F".to_string(), Value::Float(1e6));
    Value::Map(Arc::new(m))
}

fn render(text: &str) -> String {
    Templates::alertmanager()
        .render("t", text, &data())
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn actions_follow_go_semantics() {
    let cases = [
        ("{{ .Name }}", "db"),
        ("{{ .Labels }}", "map[a:1 b:2]"),
        ("{{ .List }} {{ .F }}", "[1 2 3] 1e+06"),
        ("{{ .Missing }}|{{ .Labels.zzz }}|", "||"),
        (
            "{{ if .Empty }}x{{ else if .Name }}y{{ else }}z{{ end }}",
            "y",
        ),
        ("{{ with .Name }}<{{ . }}>{{ else }}none{{ end }}", "<db>"),
        ("{{ with .Empty }}x{{ else }}none{{ end }}", "none"),
        (
            "{{ range $i, $v := .List }}{{ $i }}={{ $v }};{{ end }}",
            "0=1;1=2;2=3;",
        ),
        ("{{ range .Labels }}{{ . }}{{ end }}", "12"),
        (
            "{{ range $k, $v := .Labels }}{{ $k }}{{ $v }}{{ end }}",
            "a1b2",
        ),
        (
            "{{ range slice .List 0 0 }}x{{ else }}empty{{ end }}",
            "empty",
        ),
        (
            "{{ range .List }}{{ if eq . 2 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "1",
        ),
        (
            "{{ range .List }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ . }}{{ end }}",
            "13",
        ),
        ("a  {{- .Name -}}  b", "adbb"),
        ("a {{/* note */}} b", "a  b"),
        ("a {{- /* note */ -}} b", "ab"),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            "2",
        ),
        ("{{ $x := .Name }}{{ $x | printf \"%q\" }}", "\"db\""),
        (
            "{{ define \"T\" }}[{{ . }}]{{ end }}{{ template \"T\" .Name }}",
            "[db]",
        ),
        ("{{ block \"B\" .List }}{{ len . }}{{ end }}", "3"),
        (
            "{{ len .Name }} {{ index .List 1 }} {{ index .Labels \"a\" }}",
            "2 2 1",
        ),
        ("{{ slice .Name 1 }} {{ slice .List 1 2 }}", "b [2]"),
        (
            "{{ and 1 0 }} {{ or 0 \"\" }} {{ or 0 3 }} {{ not 0 }}",
            "0  3 true",
        ),
        ("{{ and false (index .List 10) }}", "false"),
        (
            "{{ print 1 2 \"a\" 3 }}|{{ println \"a\" 1 }}",
            "1 2a3|a 1\n",
        ),
        (
            "{{ printf \"%5.2f|%-4s|%03d\" 3.14159 \"ab\" 7 }}",
            " 3.14|ab  |007",
        ),
        (
            "{{ 1.5 }} {{ 1e3 }} {{ 0x10 }} {{ 'a' }} {{ -2 }}",
            "1.5 1000 16 97 -2",
        ),
        (
            "{{ html \"<a href='x'>&\\\"\" }}",
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;",
        ),
        (
            "{{ urlquery \"a b&c\" }} {{ js \"it's <b>\" }}",
            "a+b%26c it\\'s \\u003Cb\\u003E",
        ),
        (
            "{{ lt 1 2 }} {{ ge \"b\" \"a\" }} {{ ne .Name \"db\" }} {{ eq .Name \"x\" \"db\" }}",
            "true true false true",
        ),
        (
            "{{ .Name | toUpper }} {{ \"HeLLo wORLD\" | toLower | title }}",
            "DB Hello World",
        ),
        ("{{ join \", \" (stringSlice \"a\" \"b\") }}", "a, b"),
        (
            "{{ reReplaceAll \"(a)(b)\" \"$2$1\" \"xaby\" }} {{ match \"^d\" .Name }}",
            "xbay true",
        ),
        (
            "{{ \"  x  \" | trimSpace }}|{{ safeHtml \"<b>\" }}",
            "x|<b>",
        ),
        (
            "{{ humanize 1234567 }} {{ humanizePercentage 0.5 }} {{ humanizeDuration 3661 }}",
            "1.235M 50% 1h 1m 1s",
        ),
        ("{{ (index .List 0) }}{{ (.Labels).a }}", "11"),
    ];
    for (text, want) in cases {
        assert_eq!(render(text), want, "{text}");
    }
}

#[test]
fn what_go_refuses_to_parse_is_refused_with_its_line() {
    let t = Templates::alertmanager();
    let cases = [
        ("{{ nosuch .X }}", 1, "function \"nosuch\" not defined"),
        ("a\n\n{{ $y }}", 3, "undefined variable \"$y\""),
        ("{{ if .X }}", 1, "unexpected EOF"),
        ("x\n{{ end }}", 2, "unexpected {{end}}"),
        ("{{ break }}", 1, "outside {{range}}"),
        ("{{ .X", 1, "unclosed action"),
        ("{{ \"a }}", 1, "unterminated quoted string"),
        (
            "{{ .X | 3 }}",
            1,
            "non executable command in pipeline stage 2",
        ),
        ("{{ (.X }}", 1, "unclosed left paren"),
    ];
    for (text, line, msg) in cases {
        let e = t.check("f.tmpl", text).expect_err(text);
        assert_eq!(e.line, line, "{text}: {e}");
        assert!(e.message.contains(msg), "{text}: {e}");
        assert!(e.to_string().starts_with("template: f.tmpl:"), "{e}");
    }
}

#[test]
fn what_go_refuses_while_running_is_an_error_naming_the_template() {
    let t = Templates::alertmanager();
    for text in [
        "{{ .Name.Foo }}",
        "{{ index .List 5 }}",
        "{{ eq 1 1.0 }}",
        "{{ template \"nope\" }}",
        "{{ toUpper 3 }}",
        "{{ len 3 }}",
        "{{ .Name 1 }}",
    ] {
        let e = t.render("t", text, &data()).expect_err(text);
        assert!(e.to_string().starts_with("template: t:1:"), "{text}: {e}");
    }
}

#[test]
fn later_definitions_replace_earlier_ones_unless_they_are_empty() {
    let mut t = Templates::alertmanager();
    t.add("a.tmpl", "{{ define \"x\" }}one{{ end }}").unwrap();
    t.add("b.tmpl", "{{ define \"x\" }}two{{ end }}").unwrap();
    t.add("c.tmpl", "{{ define \"x\" }}  {{ end }}").unwrap();
    assert_eq!(t.execute("x", &Value::Nil).unwrap(), "two");
    assert_eq!(
        t.render("f", "<{{ template \"x\" }}>", &Value::Nil)
            .unwrap(),
        "<two>"
    );
}

#[test]
fn alertmanager_data_answers_its_methods() {
    let json = r#"{"receiver":"team","status":"firing","externalURL":"http://am",
      "groupLabels":{"alertname":"Disk"},
      "commonLabels":{"alertname":"Disk","zone":"a","env":"prod"},
      "commonAnnotations":{},
      "alerts":[
        {"status":"firing","labels":{"alertname":"Disk","zone":"a"},"annotations":{"summary":"full"},
         "startsAt":"2023-11-14T22:13:20Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"abc"},
        {"status":"resolved","labels":{"alertname":"Disk","zone":"b"},"annotations":{},
         "startsAt":"2023-11-14T22:00:00Z","endsAt":"2023-11-14T22:10:00Z","fingerprint":"def"}]}"#;
    let d: data::Data = serde_json::from_str(json).unwrap();
    let v = d.value();
    let t = Templates::alertmanager();
    let r = |text: &str| {
        t.render("t", text, &v)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    };
    assert_eq!(
        r("{{ len .Alerts.Firing }}/{{ len .Alerts.Resolved }}/{{ len .Alerts }}"),
        "1/1/2"
    );
    assert_eq!(
        r("{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}"),
        "alertname=Disk env=prod zone=a "
    );
    assert_eq!(
        r("{{ .CommonLabels.SortedPairs }}"),
        "[{alertname Disk} {env prod} {zone a}]"
    );
    assert_eq!(
        r("{{ .CommonLabels.Names }} {{ .CommonLabels.Values | join \",\" }}"),
        "[alertname env zone] Disk,prod,a"
    );
    assert_eq!(
        r("{{ .CommonLabels.Remove .GroupLabels.Names }}"),
        "map[env:prod zone:a]"
    );
    assert_eq!(
        r("{{ (index .Alerts 0).StartsAt }}"),
        "2023-11-14 22:13:20 +0000 UTC"
    );
    assert_eq!(
        r("{{ (index .Alerts 1).EndsAt.Format \"15:04\" }}"),
        "22:10"
    );
    assert_eq!(
        r("{{ range .Alerts.Firing }}{{ .Annotations.summary }}{{ .Labels.zone }}{{ end }}"),
        "fulla"
    );
    assert_eq!(
        r("{{ (index .Alerts 0).EndsAt }}"),
        "0001-01-01 00:00:00 +0000 UTC"
    );
    assert_eq!(
        r("{{ date \"2006-01-02\" (index .Alerts 0).StartsAt }}"),
        "2023-11-14"
    );
    assert_eq!(
        r("{{ (index .Alerts 0).StartsAt | tz \"Asia/Tokyo\" }}"),
        "2023-11-15 07:13:20 +0900 JST"
    );
}

#[test]
fn deep_nesting_and_endless_recursion_are_errors_not_crashes() {
    // On a test thread's 2 MB stack, as on a server's worker threads.
    let deep_parens = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    let deep_ifs = format!(
        "{}x{}",
        "{{ if true }}".repeat(5000),
        "{{ end }}".repeat(5000)
    );
    let t = Templates::alertmanager();
    for text in [&deep_parens, &deep_ifs] {
        let e = t.check("t", text).unwrap_err();
        assert!(e.message.contains("nested deeper than"), "{e}");
    }
    let ok = format!("{{{{ {}1{} }}}}", "(".repeat(40), ")".repeat(40));
    assert_eq!(t.render("t", &ok, &Value::Nil).unwrap(), "1");
    let mut set = Templates::alertmanager();
    set.add(
        "loop.tmpl",
        "{{ define \"a\" }}x{{ template \"a\" . }}{{ end }}",
    )
    .unwrap();
    let e = set
        .render("t", "{{ template \"a\" . }}", &Value::Nil)
        .unwrap_err();
    assert!(
        e.to_string().contains("exceeded maximum template depth"),
        "{e}"
    );
    // A recursion through nested control structures counts every level.
    let mut set = Templates::alertmanager();
    let body = format!(
        "{}{{{{ template \"b\" . }}}}{}",
        "{{ if true }}".repeat(40),
        "{{ end }}".repeat(40)
    );
    set.add(
        "b.tmpl",
        &format!("{{{{ define \"b\" }}}}{body}{{{{ end }}}}"),
    )
    .unwrap();
    let e = set
        .render("t", "{{ template \"b\" . }}", &Value::Nil)
        .unwrap_err();
    assert!(
        e.to_string().contains("exceeded maximum template depth"),
        "{e}"
    );
}

#[test]
fn odd_text_never_panics() {
    let t = Templates::alertmanager();
    for text in [
        "{{",
        "}}",
        "{{-",
        "{{- -}}",
        "{{'",
        "{{'\\'}}",
        "{{'é'}}",
        "{{\"é\\",
        "{{ .é }}",
        "{{ $é := 1 }}{{ $é }}",
        "{{ 1é }}",
        "{{ -é }}",
        "{{/*",
        "{{/* */ x}}",
        "{{ ) }}",
        "{{ ( }}",
        "{{ | }}",
        "{{ := }}",
        "{{ end }}{{ end }}",
        "{{ else }}",
        "{{ range $a, $b, $c := . }}{{ end }}",
        "é{{ 'ab' }}é",
        "{{ printf \"%é\" 1 }}",
        "{{ printf \"%[\" 1 }}",
        "{{ printf \"%.*é\" 1 }}",
        "{{ slice \"é\" 1 }}",
        "{{ index \"é\" 1 }}",
        "{{ 0x }}",
        "{{ 1e }}",
        "{{ 0b2 }}",
    ] {
        let _ = t.render("t", text, &data());
        let _ = t.render_html("t", text, &data());
    }
}
