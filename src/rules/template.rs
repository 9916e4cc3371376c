//! Alerting rules' label and annotation templates, run as Prometheus 2.42 runs them
//! (`rules/alerting.go`, `template/template.go`): Go's `text/template` ([`crate::gotemplate`])
//! over the data `{Labels, ExternalLabels, ExternalURL, Value}`, with `$labels`,
//! `$externalLabels`, `$externalURL` and `$value` defined before the text, Prometheus' template
//! functions ([`crate::gotemplate::prometheus`]), and `query` answered by the series store at
//! the rule's evaluation time. `$labels` holds the result's labels as the expression gave
//! them, `__name__` included (the alert's own labels drop it).
//!
//! Templates are parsed at load, so one Go would refuse is refused with its rule's line. A
//! template that fails while running renders as Prometheus renders it:
//! `<error expanding template: error executing template __alert_<name>: …>`.

use std::sync::{Arc, OnceLock};

use crate::domain::Labels;
use crate::gotemplate::prometheus::QueryResult;
use crate::gotemplate::{Extra, FuncError, ParseError, Templates, Value};

/// What templates see besides the alert: `$externalLabels` and `$externalURL`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateEnv {
    pub external_labels: Labels,
    pub external_url: String,
}

/// Answers `query "…"`: an instant query at the evaluation time, each series' labels and
/// value; `Err` with the reason when the query does not parse or evaluate, or returns neither
/// a vector nor a scalar (a scalar answers as one sample without labels, as Prometheus'
/// `EngineQueryFunc` does).
pub type QueryFn<'a> = &'a dyn Fn(&str) -> Result<Vec<(Labels, f64)>, String>;

/// The variables Prometheus defines before every alert template (`rules/alerting.go`).
const DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}\
{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// The Go type of the data, as `%T` and error messages name it.
const DATA_TYPE: &str = "struct { Labels map[string]string; ExternalLabels map[string]string; \
ExternalURL string; Value float64 }";

fn base_set() -> &'static Templates {
    static SET: OnceLock<Templates> = OnceLock::new();
    SET.get_or_init(|| Templates::new(crate::gotemplate::prometheus::funcs()))
}

/// A parsed label or annotation template of one alerting rule.
#[derive(Debug, Clone)]
pub struct Template {
    /// `__alert_<rule name>`, as Prometheus names the template in its errors.
    name: Arc<str>,
    text: Arc<str>,
    /// `None` when the text has no action: it renders as it is.
    set: Option<Templates>,
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.text == other.text
    }
}

impl Template {
    /// Parses `text` as alerting rule `rule`'s template. `Err`: Go's parse error, naming the
    /// template and line (`template: __alert_X:1: function "tmpl" not defined`).
    pub fn parse(rule: &str, text: &str) -> Result<Self, ParseError> {
        let name: Arc<str> = format!("__alert_{rule}").into();
        let set = if text.contains("{{") {
            let mut set = base_set().clone();
            set.add(&name, &format!("{DEFS}{text}"))?;
            Some(set)
        } else {
            None
        };
        Ok(Self {
            name,
            text: text.into(),
            set,
        })
    }

    /// Text that is never expanded (a recording rule's label).
    pub fn literal(text: &str) -> Self {
        Self {
            name: Arc::from(""),
            text: text.into(),
            set: None,
        }
    }

    /// The template as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the text may call `query` (the word appears outside a field or variable name),
    /// so its output may change while the alert's value does not.
    pub fn uses_query(&self) -> bool {
        self.set.is_some()
            && self.text.match_indices("query").any(|(i, _)| {
                let before = self.text[..i].chars().next_back();
                let after = self.text[i + 5..].chars().next();
                !before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '$'))
                    && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
    }

    /// Renders for one element of the rule's result: its labels (with `__name__` when the
    /// expression kept it) and value. `query` answers `query "…"`; without it, calls fail as
    /// template errors.
    pub fn render(
        &self,
        labels: &Labels,
        value: f64,
        env: &TemplateEnv,
        query: Option<QueryFn<'_>>,
    ) -> String {
        self.render_for(&TemplateData::new(labels, value, env), query)
    }

    /// [`Template::render`] with data shared by all the templates of one element.
    pub fn render_for(&self, data: &TemplateData<'_>, query: Option<QueryFn<'_>>) -> String {
        let Some(set) = &self.set else {
            return self.text.to_string();
        };
        let funcs = RuleFuncs {
            query,
            external_url: &data.env.external_url,
        };
        match set.execute_with(&self.name, data.value(), &funcs) {
            Ok(s) => s,
            Err(e) => format!(
                "<error expanding template: error executing template {}: {e}>",
                self.name
            ),
        }
    }
}

/// What one element of a rule's result shows its templates (`.Labels`, `.Value`, …), built
/// once, on first use, for all of them.
pub struct TemplateData<'a> {
    labels: &'a Labels,
    value: f64,
    env: &'a TemplateEnv,
    built: std::cell::OnceCell<Value>,
}

impl<'a> TemplateData<'a> {
    /// For the element with these labels (`__name__` included when kept) and value.
    pub fn new(labels: &'a Labels, value: f64, env: &'a TemplateEnv) -> Self {
        Self {
            labels,
            value,
            env,
            built: std::cell::OnceCell::new(),
        }
    }

    fn value(&self) -> &Value {
        self.built.get_or_init(|| {
            let map = |l: &Labels| Value::string_map(l.iter());
            crate::gotemplate::data::go_struct(
                DATA_TYPE,
                vec![
                    ("Labels", map(self.labels), true),
                    ("ExternalLabels", map(&self.env.external_labels), true),
                    (
                        "ExternalURL",
                        Value::str(self.env.external_url.as_str()),
                        true,
                    ),
                    ("Value", Value::Float(self.value), true),
                ],
            )
        })
    }
}

/// The functions that read the evaluation: `query`, `externalURL`, `pathPrefix`.
struct RuleFuncs<'a> {
    query: Option<QueryFn<'a>>,
    external_url: &'a str,
}

impl Extra for RuleFuncs<'_> {
    fn call(&self, _: &Templates, name: &str, args: &[Value]) -> Option<Result<Value, FuncError>> {
        let fail = |m: String| Some(Err(FuncError(m)));
        match name {
            "query" => {
                let q = match args {
                    [Value::String(q)] => q,
                    [other] => {
                        return fail(format!(
                            "wrong type for value; expected string; got {}",
                            other.type_name()
                        ));
                    }
                    _ => {
                        return fail(format!(
                            "wrong number of args for query: want 1 got {}",
                            args.len()
                        ));
                    }
                };
                let query = self.query?;
                Some(query(q).map(QueryResult::value).map_err(FuncError))
            }
            "externalURL" => Some(Ok(Value::str(self.external_url))),
            "pathPrefix" => Some(Ok(Value::str(url_path(self.external_url)))),
            _ => None,
        }
    }
}

/// The path of a URL as Go's `url.URL.Path` gives it (`""` for `http://host`).
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    rest.find('/').map_or("", |i| &rest[i..])
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest exact decimal, never an exponent
/// (count_values labels use it).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        [
            ("__name__", "sync_failures"),
            ("provider", "cdk"),
            ("connection", "dealer-001"),
        ]
        .into_iter()
        .collect()
    }

    fn render(text: &str, value: f64) -> String {
        let env = TemplateEnv {
            external_labels: [("cluster", "eu")].into_iter().collect(),
            external_url: "http://example.com:9090/prom".into(),
        };
        Template::parse("A", text)
            .unwrap()
            .render(&labels(), value, &env, None)
    }

    #[test]
    fn labels_print_as_a_go_map_and_the_data_as_a_go_struct() {
        assert_eq!(
            render("{{ $labels }}", 1.0),
            "map[__name__:sync_failures connection:dealer-001 provider:cdk]"
        );
        assert_eq!(
            render("{{ . }}", 0.0),
            "{map[__name__:sync_failures connection:dealer-001 provider:cdk] map[cluster:eu] \
             http://example.com:9090/prom 0}"
        );
        assert_eq!(
            render(
                "{{ $labels.provider }}/{{ .Labels.connection }} at {{ $value }}",
                0.25
            ),
            "cdk/dealer-001 at 0.25"
        );
        assert_eq!(render("{{ $labels.missing }}.", 1.0), ".");
        assert_eq!(
            render(
                "{{ externalURL }} {{ pathPrefix }} {{ $externalLabels.cluster }}",
                1.0
            ),
            "http://example.com:9090/prom /prom eu"
        );
    }

    #[test]
    fn actions_variables_and_prometheus_functions_run() {
        assert_eq!(
            render(
                r#"{{ if gt $value 10.0 }}high{{ else }}low{{ end }} {{ $x := humanize $value }}{{ $x }}"#,
                1234.0
            ),
            "high 1.234k"
        );
        assert_eq!(
            render(
                r#"{{ with $labels.provider }}{{ . | toUpper }}{{ end }}"#,
                1.0
            ),
            "CDK"
        );
        assert_eq!(
            render(
                r#"{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}"#,
                1.0
            ),
            "__name__=sync_failures;connection=dealer-001;provider=cdk;"
        );
        assert_eq!(
            render(
                r#"{{ "1.5" | humanizeDuration }} {{ parseDuration "1h30m" }}"#,
                1.0
            ),
            "1.5s 5400"
        );
        assert_eq!(render(r#"{{ printf "%.2f" $value }}"#, 0.5), "0.50");
        assert_eq!(
            render("{{ $value | humanizePercentage }}", 0.1234),
            "12.34%"
        );
        assert_eq!(
            render(
                r#"{{ graphLink "up == 0" }} {{ "a.b:80" | stripDomain }}"#,
                1.0
            ),
            "/graph?g0.expr=up+%3D%3D+0&g0.tab=0 a:80"
        );
        assert_eq!(render("no action", f64::NAN), "no action");
        let t = |text: &str| Template::parse("A", text).unwrap().uses_query();
        assert!(t(r#"{{ query "up" | first | value }}"#) && t(r#"{{ with query "x" }}{{ end }}"#));
        assert!(!t("{{ $labels.query_type }} {{ .Labels.query }}") && !t("query"));
    }

    #[test]
    fn query_reads_through_the_callers_store() {
        let store = |q: &str| -> Result<Vec<(Labels, f64)>, String> {
            match q {
                "up" => Ok(vec![
                    ([("instance", "b")].into_iter().collect(), 1.0),
                    ([("instance", "a")].into_iter().collect(), 0.0),
                ]),
                "none" => Ok(vec![]),
                _ => Err(format!("cannot parse {q:?}")),
            }
        };
        let t = |text: &str| {
            Template::parse("A", text).unwrap().render(
                &labels(),
                1.0,
                &TemplateEnv::default(),
                Some(&store),
            )
        };
        assert_eq!(t(r#"{{ query "up" | first | value }}"#), "1");
        assert_eq!(
            t(r#"{{ range query "up" | sortByLabel "instance" }}{{ .Labels.instance }}{{ end }}"#),
            "ab"
        );
        assert_eq!(
            t(r#"{{ with query "none" }}{{ . | first | value }}{{ else }}none{{ end }}"#),
            "none"
        );
        // promtool 2.42's text for the same template: the column counts Prometheus' prefix of
        // variable definitions (112 bytes) on line 1.
        assert_eq!(
            t(r#"{{ query "none" | first | value }}"#),
            "<error expanding template: error executing template __alert_A: template: \
             __alert_A:1:130: executing \"__alert_A\" at <first>: error calling first: \
             first() called on vector with no elements>"
        );
        assert!(t(r#"{{ query "(" }}"#).contains("cannot parse"));
    }

    #[test]
    fn templates_go_would_refuse_are_refused_at_load() {
        for bad in [
            "{{ $value ",
            "{{ tmpl \"x\" . }}",
            "{{ nosuchfunc $value }}",
            "{{ if }}",
            "{{ end }}",
        ] {
            let e = Template::parse("A", bad).unwrap_err().to_string();
            assert!(e.starts_with("template: __alert_A:1:"), "{bad}: {e}");
        }
    }

    #[test]
    fn format_value_never_writes_an_exponent() {
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(0.1), "0.1");
    }
}
