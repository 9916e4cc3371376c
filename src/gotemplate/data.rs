//! Alertmanager's notification template data (`template.Data` and its `Alert`, `Alerts`, `KV`,
//! `Pairs`), with the methods templates call: `.Alerts.Firing`, `.Alerts.Resolved`,
//! `.CommonLabels.SortedPairs` (alertname first, then by name), `.Names`, `.Values`,
//! `.Remove`, and times as `time.Time`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::ExecError;
use super::time::Time;
use super::value::{Object, Value, format_list, format_map};

/// The data a notification template sees, with the field names of Alertmanager's webhook JSON
/// (which is also what `amtool template render --template.data` reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Data {
    pub receiver: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub alerts: Vec<AlertData>,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    #[serde(default)]
    pub group_key: String,
}

/// One alert of [`Data`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertData {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: jiff::Timestamp,
    /// Go's zero time when unknown.
    #[serde(default = "zero_ts")]
    pub ends_at: jiff::Timestamp,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

fn zero_ts() -> jiff::Timestamp {
    Time::zero().ts
}

impl Data {
    /// The template value (`.`): its fields built once, shared by every access.
    pub fn value(&self) -> Value {
        let alerts = Alerts(self.alerts.iter().map(AlertData::value).collect());
        Fields::value(
            "*template.Data",
            vec![
                ("Receiver", Value::str(self.receiver.as_str()), true),
                ("Status", Value::str(self.status.as_str()), true),
                ("Alerts", Value::Object(Arc::new(alerts)), true),
                ("GroupLabels", kv(&self.group_labels), true),
                ("CommonLabels", kv(&self.common_labels), true),
                ("CommonAnnotations", kv(&self.common_annotations), true),
                ("ExternalURL", Value::str(self.external_url.as_str()), true),
                // syncwatch's addition: not a field of Alertmanager 0.25's struct, so not printed.
                ("GroupKey", Value::str(self.group_key.as_str()), false),
            ],
        )
    }
}

impl AlertData {
    /// The template value of one alert (`template.Alert`).
    pub fn value(&self) -> Value {
        Fields::value(
            "template.Alert",
            vec![
                ("Status", Value::str(self.status.as_str()), true),
                ("Labels", kv(&self.labels), true),
                ("Annotations", kv(&self.annotations), true),
                ("StartsAt", Time::utc(self.starts_at).value(), true),
                ("EndsAt", Time::utc(self.ends_at).value(), true),
                (
                    "GeneratorURL",
                    Value::str(self.generator_url.as_str()),
                    true,
                ),
                ("Fingerprint", Value::str(self.fingerprint.as_str()), true),
            ],
        )
    }
}

fn no_args(name: &str, args: &[Value], v: Value) -> Option<Result<Value, ExecError>> {
    Some(if args.is_empty() {
        Ok(v)
    } else {
        Err(ExecError::Message(format!(
            "{name} is not a method but has arguments"
        )))
    })
}

/// A Go struct: named fields, printed by `%v` as `{v1 v2 …}` in declaration order.
#[derive(Debug)]
struct Fields {
    type_name: &'static str,
    /// Name, value, and whether `%v` prints it.
    fields: Vec<(&'static str, Value, bool)>,
}

/// A Go struct value with these fields, in declaration order (`%v` prints those marked `true`),
/// for data shaped like a Go struct literal (Prometheus' alert template data).
pub fn go_struct(type_name: &'static str, fields: Vec<(&'static str, Value, bool)>) -> Value {
    Fields::value(type_name, fields)
}

impl Fields {
    fn value(type_name: &'static str, fields: Vec<(&'static str, Value, bool)>) -> Value {
        Value::Object(Arc::new(Fields { type_name, fields }))
    }
}

impl Object for Fields {
    fn type_name(&self) -> &'static str {
        self.type_name
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>> {
        let (_, v, _) = self.fields.iter().find(|(n, ..)| *n == name)?;
        no_args(name, args, v.clone())
    }

    fn format_v(&self, out: &mut String) {
        out.push('{');
        for (i, (_, v, _)) in self.fields.iter().filter(|f| f.2).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            v.format_v(out);
        }
        out.push('}');
    }
}

/// `template.Alerts`: a slice of alerts with `Firing` and `Resolved`.
#[derive(Debug, Clone)]
struct Alerts(Arc<[Value]>);

impl Alerts {
    fn with_status(&self, status: &str) -> Value {
        let kept: Vec<Value> = self
            .0
            .iter()
            .filter(|a| match a {
                Value::Object(o) => {
                    matches!(o.get("Status", &[]), Some(Ok(Value::String(s))) if s.as_ref() == status)
                }
                _ => false,
            })
            .cloned()
            .collect();
        Value::Object(Arc::new(Alerts(kept.into())))
    }
}

impl Object for Alerts {
    fn type_name(&self) -> &'static str {
        "template.Alerts"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>> {
        let v = match name {
            "Firing" => self.with_status("firing"),
            "Resolved" => self.with_status("resolved"),
            _ => return None,
        };
        no_args(name, args, v)
    }

    fn as_list(&self) -> Option<Arc<[Value]>> {
        Some(self.0.clone())
    }

    fn format_v(&self, out: &mut String) {
        format_list(&self.0, out);
    }
}

/// `template.KV`: a label or annotation set, a `map[string]string` with methods.
#[derive(Debug, Clone)]
pub struct Kv(Arc<BTreeMap<String, Value>>);

/// A `KV` value from a string map.
pub fn kv(m: &BTreeMap<String, String>) -> Value {
    Value::Object(Arc::new(Kv(Arc::new(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::str(v.as_str())))
            .collect(),
    ))))
}

impl Kv {
    /// Alertmanager's order: `alertname` first, then the others by name.
    fn sorted_pairs(&self) -> Vec<(String, Value)> {
        let mut pairs: Vec<(String, Value)> = Vec::with_capacity(self.0.len());
        if let Some(v) = self.0.get("alertname") {
            pairs.push(("alertname".into(), v.clone()));
        }
        pairs.extend(
            self.0
                .iter()
                .filter(|(k, _)| k.as_str() != "alertname")
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        pairs
    }
}

impl Object for Kv {
    fn type_name(&self) -> &'static str {
        "template.KV"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>> {
        let pairs = || Pairs(self.sorted_pairs());
        match name {
            "SortedPairs" => no_args(name, args, Value::Object(Arc::new(pairs()))),
            "Names" => no_args(name, args, pairs().names()),
            "Values" => no_args(name, args, pairs().values()),
            "Remove" => Some(match args {
                [keys] => match keys.as_list() {
                    Some(keys) => {
                        let mut m = (*self.0).clone();
                        for k in keys.iter() {
                            if let Value::String(k) = k {
                                m.remove(k.as_ref());
                            }
                        }
                        Ok(Value::Object(Arc::new(Kv(Arc::new(m)))))
                    }
                    None => Err(ExecError::Message(format!(
                        "wrong type for value; expected []string; got {}",
                        keys.type_name()
                    ))),
                },
                _ => Err(ExecError::Message(format!(
                    "wrong number of args for Remove: want 1 got {}",
                    args.len()
                ))),
            }),
            // A map key: `.Labels.severity`.
            key => no_args(
                name,
                args,
                self.0.get(key).cloned().unwrap_or_else(|| Value::str("")),
            ),
        }
    }

    fn as_map(&self) -> Option<Arc<BTreeMap<String, Value>>> {
        Some(self.0.clone())
    }

    fn format_v(&self, out: &mut String) {
        format_map(&self.0, out);
    }
}

/// `template.Pairs`, with `Names` and `Values`.
#[derive(Debug, Clone)]
struct Pairs(Vec<(String, Value)>);

impl Pairs {
    fn names(&self) -> Value {
        Value::list(self.0.iter().map(|(k, _)| Value::str(k.as_str())))
    }

    fn values(&self) -> Value {
        Value::list(self.0.iter().map(|(_, v)| v.clone()))
    }

    fn items(&self) -> Arc<[Value]> {
        self.0
            .iter()
            .map(|(k, v)| Value::Object(Arc::new(Pair(k.clone(), v.clone()))))
            .collect::<Vec<_>>()
            .into()
    }
}

impl Object for Pairs {
    fn type_name(&self) -> &'static str {
        "template.Pairs"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>> {
        match name {
            "Names" => no_args(name, args, self.names()),
            "Values" => no_args(name, args, self.values()),
            _ => None,
        }
    }

    fn as_list(&self) -> Option<Arc<[Value]>> {
        Some(self.items())
    }

    fn format_v(&self, out: &mut String) {
        format_list(&self.items(), out);
    }
}

/// `template.Pair`: `.Name` and `.Value`.
#[derive(Debug, Clone)]
struct Pair(String, Value);

impl Object for Pair {
    fn type_name(&self) -> &'static str {
        "template.Pair"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>> {
        let v = match name {
            "Name" => Value::str(self.0.as_str()),
            "Value" => self.1.clone(),
            _ => return None,
        };
        no_args(name, args, v)
    }

    fn format_v(&self, out: &mut String) {
        out.push('{');
        out.push_str(&self.0);
        out.push(' ');
        self.1.format_v(out);
        out.push('}');
    }
}
