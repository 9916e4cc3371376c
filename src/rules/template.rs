//! Annotation and label templates in Prometheus' syntax, the part rule files use in practice:
//! `{{ $labels.name }}`, `{{ $value }}`, `{{ .Labels.name }}`, `{{ .Value }}`, pipes into
//! `humanize`, `humanizeDuration`, `humanizePercentage`, and `printf "%.2f"`.
//! Templates are parsed at load, so an unsupported one is refused with its rule's line.

use crate::domain::Labels;

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Value,
    Label(String),
    ExternalLabel(String),
    ExternalUrl,
    Literal(String),
}

/// What templates see besides the alert: `$externalLabels` and `$externalURL`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateEnv {
    pub external_labels: Labels,
    pub external_url: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Func {
    Humanize,
    HumanizeDuration,
    HumanizePercentage,
    Printf(PrintfFormat),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Action(Operand, Vec<Func>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Part>);

fn parse_operand(s: &str) -> Result<Operand, String> {
    let s = s.trim();
    if s == "$value" || s == ".Value" {
        Ok(Operand::Value)
    } else if let Some(n) = s
        .strip_prefix("$labels.")
        .or_else(|| s.strip_prefix(".Labels."))
    {
        Ok(Operand::Label(n.to_string()))
    } else if let Some(n) = s
        .strip_prefix("$externalLabels.")
        .or_else(|| s.strip_prefix(".ExternalLabels."))
    {
        Ok(Operand::ExternalLabel(n.to_string()))
    } else if s == "$externalURL" || s == ".ExternalURL" {
        Ok(Operand::ExternalUrl)
    } else if let Some(lit) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Ok(Operand::Literal(lit.to_string()))
    } else {
        Err(format!("unsupported template operand {s:?}"))
    }
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed {{{{ in template {text:?}"))?;
            let action = after[..end]
                .trim()
                .trim_start_matches('-')
                .trim_end_matches('-')
                .trim();
            let mut stages = action.split('|').map(str::trim);
            let first = stages.next().unwrap_or_default();
            let (operand, mut funcs) = if let Some(args) = first.strip_prefix("printf ") {
                let quoted = args
                    .trim()
                    .strip_prefix('"')
                    .ok_or("printf needs a quoted format")?;
                let fmt_end = quoted.find('"').ok_or("printf needs a quoted format")?;
                (
                    parse_operand(&quoted[fmt_end + 1..])?,
                    vec![Func::Printf(parse_printf(&quoted[..fmt_end])?)],
                )
            } else {
                (parse_operand(first)?, vec![])
            };
            for f in stages {
                funcs.push(match f {
                    "humanize" => Func::Humanize,
                    "humanizeDuration" => Func::HumanizeDuration,
                    "humanizePercentage" => Func::HumanizePercentage,
                    // `x | printf "%.1f"`: the piped value is printf's last argument.
                    other => match other.strip_prefix("printf ").map(str::trim) {
                        Some(quoted)
                            if quoted.len() >= 2
                                && quoted.starts_with('"')
                                && quoted.ends_with('"') =>
                        {
                            Func::Printf(parse_printf(&quoted[1..quoted.len() - 1])?)
                        }
                        _ => return Err(format!("unsupported template function {other:?}")),
                    },
                });
            }
            parts.push(Part::Action(operand, funcs));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template(parts))
    }

    pub fn render(&self, labels: &Labels, value: f64) -> String {
        self.render_with(labels, value, &TemplateEnv::default())
    }

    pub fn render_with(&self, labels: &Labels, value: f64, env: &TemplateEnv) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Action(op, funcs) => {
                    let (mut text, num) = match op {
                        Operand::Value => (format_go_v(value), Some(value)),
                        Operand::Label(n) => {
                            let v = labels.value(n).to_string();
                            let num = v.parse::<f64>().ok();
                            (v, num)
                        }
                        Operand::ExternalLabel(n) => {
                            (env.external_labels.value(n).to_string(), None)
                        }
                        Operand::ExternalUrl => (env.external_url.clone(), None),
                        Operand::Literal(l) => (l.clone(), l.parse::<f64>().ok()),
                    };
                    for f in funcs {
                        let Some(n) = num else { continue };
                        text = match f {
                            Func::Humanize => humanize(n),
                            Func::HumanizeDuration => humanize_duration(n),
                            Func::HumanizePercentage => {
                                crate::gotemplate::funcs::humanize_percentage(n)
                            }
                            Func::Printf(fmt) => printf(fmt, n),
                        };
                    }
                    out.push_str(&text);
                }
            }
        }
        out
    }
}

/// The largest printf precision taken (Go has no limit; a huge one only makes huge text).
const MAX_PRINTF_PRECISION: usize = 100;

/// A printf format with exactly one verb: `prefix %[flags][width][.precision]verb suffix`, with
/// `%%` a literal `%` anywhere. Verbs: `f`, `d`, `g`, `v` (Go's, applied to the value).
#[derive(Debug, Clone, PartialEq)]
struct PrintfFormat {
    prefix: String,
    precision: Option<usize>,
    verb: char,
    suffix: String,
}

/// Parses a printf format at load, so rendering cannot fail.
fn parse_printf(fmt: &str) -> Result<PrintfFormat, String> {
    let unsupported = || format!("unsupported printf format {fmt:?}: one %f, %d, %g or %v");
    let (mut prefix, mut suffix) = (String::new(), String::new());
    let mut verb: Option<(Option<usize>, char)> = None;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        let out = if verb.is_some() {
            &mut suffix
        } else {
            &mut prefix
        };
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        if verb.is_some() {
            return Err(unsupported());
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if !(d.is_ascii_digit() || matches!(d, '.' | '-' | '+' | ' ' | '#')) {
                break;
            }
            spec.push(d);
            chars.next();
        }
        let v = chars.next().ok_or_else(unsupported)?;
        if !matches!(v, 'f' | 'd' | 'g' | 'v') {
            return Err(unsupported());
        }
        // Go reads `%.f` as precision 0.
        let precision = match spec.split_once('.') {
            None => None,
            Some((_, "")) => Some(0),
            Some((_, p)) => Some(p.parse::<usize>().map_err(|_| unsupported())?),
        };
        if precision.is_some_and(|p| p > MAX_PRINTF_PRECISION) {
            return Err(format!(
                "printf format {fmt:?}: precision above {MAX_PRINTF_PRECISION}"
            ));
        }
        verb = Some((precision, v));
    }
    let (precision, verb) = verb.ok_or_else(unsupported)?;
    Ok(PrintfFormat {
        prefix,
        precision,
        verb,
        suffix,
    })
}

fn printf(fmt: &PrintfFormat, n: f64) -> String {
    let body = match fmt.verb {
        'd' => format!("{}", n.trunc() as i64),
        'f' => format!("{:.*}", fmt.precision.unwrap_or(6), n),
        _ => format_go_v(n),
    };
    format!("{}{body}{}", fmt.prefix, fmt.suffix)
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

/// Go's `%g` with shortest precision (`%v` of a float64): `1e+06`, `0.0001`, `123456`.
pub fn format_go_v(v: f64) -> String {
    crate::gotemplate::fmt::format_float(v, 'g', None, false)
}

/// Go's `%.4g`.
pub fn format_g4(v: f64) -> String {
    crate::gotemplate::fmt::sprintf("%.4g", &[crate::gotemplate::Value::Float(v)])
}

pub use crate::gotemplate::funcs::{humanize, humanize_duration};

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        [("provider", "cdk"), ("connection", "dealer-001")]
            .into_iter()
            .collect()
    }

    #[test]
    fn printf_formats_are_checked_at_load_and_render_whatever_the_value() {
        // Found by the `template` fuzz target: a trailing `%` used to panic at render time.
        assert!(Template::parse(r#"{{ printf ".1f%" $value }}"#).is_err());
        assert!(Template::parse(r#"{{ printf }}"#).is_err());
        assert!(Template::parse(r#"{{ printf "é" $value }}"#).is_err());
        assert!(Template::parse(r#"{{ printf "%.1000f" $value }}"#).is_err());
        assert!(Template::parse(r#"{{ printf "%f %f" $value }}"#).is_err());
        let labels = Labels::new();
        let t = Template::parse(r#"{{ printf "%%%.f%%" $value }}"#).unwrap();
        assert_eq!(t.render(&labels, 41.6), "%42%");
        let t = Template::parse(r#"{{ $value | printf "took %d s" }}"#).unwrap();
        assert_eq!(t.render(&labels, 7.9), "took 7 s");
        for v in [f64::NAN, f64::INFINITY, -1e308, 5e-324] {
            let _ = t.render(&labels, v);
        }
    }

    #[test]
    fn renders_labels_and_values() {
        let t = Template::parse("{{ $labels.provider }}/{{ .Labels.connection }} at {{ $value }}")
            .unwrap();
        assert_eq!(t.render(&labels(), 0.25), "cdk/dealer-001 at 0.25");
    }

    #[test]
    fn go_number_formats() {
        assert_eq!(format_go_v(1_000_000.0), "1e+06");
        assert_eq!(format_go_v(123_456.0), "123456");
        assert_eq!(format_go_v(0.0001), "0.0001");
        assert_eq!(format_go_v(0.00001), "1e-05");
        assert_eq!(format_go_v(-2.5), "-2.5");
        assert_eq!(format_g4(12_345.0), "1.234e+04");
        assert_eq!(format_g4(0.5), "0.5");
        assert_eq!(format_g4(18.3673), "18.37");
        assert_eq!(format_g4(0.001234), "0.001234");
        assert_eq!(humanize_duration(86_460.0), "1d 0h 1m 0s");
        assert_eq!(humanize_duration(30.5), "30.5s");
        assert_eq!(humanize(0.0012), "1.2m");
        assert_eq!(humanize(0.000_002), "2u");
    }

    #[test]
    fn humanize_functions_match_prometheus() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.0012), "1.2m");
        assert_eq!(humanize(12.0), "12");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(0.25), "250ms");
        let t = Template::parse("{{ $value | humanizePercentage }}").unwrap();
        assert_eq!(t.render(&labels(), 0.1234), "12.34%");
        let t = Template::parse(r#"{{ $value | printf "%.2f" }}"#).unwrap();
        assert_eq!(t.render(&labels(), 0.5), "0.50");
        let t = Template::parse(r#"{{ printf "%.1f" $value }} s"#).unwrap();
        assert_eq!(t.render(&labels(), 12.345), "12.3 s");
    }

    #[test]
    fn unsupported_templates_are_refused() {
        assert!(
            Template::parse("{{ range .Alerts }}")
                .unwrap_err()
                .contains("unsupported template operand")
        );
        assert!(
            Template::parse("{{ $value | toUpper }}")
                .unwrap_err()
                .contains("toUpper")
        );
        assert!(
            Template::parse("{{ $value ")
                .unwrap_err()
                .contains("unclosed")
        );
    }
}
