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
    Printf(String),
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
                let args = args.trim();
                let fmt_end = args[1..]
                    .find('"')
                    .map(|i| i + 1)
                    .ok_or("printf needs a quoted format")?;
                let fmt = args[1..fmt_end].to_string();
                (
                    parse_operand(&args[fmt_end + 1..])?,
                    vec![Func::Printf(fmt)],
                )
            } else {
                (parse_operand(first)?, vec![])
            };
            for f in stages {
                funcs.push(match f {
                    "humanize" => Func::Humanize,
                    "humanizeDuration" => Func::HumanizeDuration,
                    "humanizePercentage" => Func::HumanizePercentage,
                    other => return Err(format!("unsupported template function {other:?}")),
                });
            }
            if let Some(Func::Printf(fmt)) = funcs.first() {
                validate_printf(fmt)?;
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
                        Operand::Value => (format_value(value), Some(value)),
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
                            Func::HumanizePercentage => humanize(n * 100.0) + "%",
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

fn validate_printf(fmt: &str) -> Result<(), String> {
    let specs = fmt.matches('%').count() - fmt.matches("%%").count() * 2;
    if specs != 1
        || !(fmt.contains('f') || fmt.contains('d') || fmt.contains('g') || fmt.contains('v'))
    {
        return Err(format!(
            "unsupported printf format {fmt:?}: one %f, %d, %g or %v"
        ));
    }
    Ok(())
}

fn printf(fmt: &str, n: f64) -> String {
    let start = fmt.find('%').unwrap_or(0);
    let spec_end = fmt[start + 1..]
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| start + 1 + i)
        .unwrap_or(fmt.len() - 1);
    let spec = &fmt[start + 1..spec_end];
    let conv = &fmt[spec_end..=spec_end];
    let precision = spec.split('.').nth(1).and_then(|p| p.parse::<usize>().ok());
    let body = match (conv, precision) {
        ("d", _) => format!("{}", n.trunc() as i64),
        ("f", p) => format!("{:.*}", p.unwrap_or(6), n),
        _ => format_value(n),
    };
    format!("{}{}{}", &fmt[..start], body, &fmt[spec_end + 1..]).replace("%%", "%")
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)` style: shortest exact form.
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

fn trim_float(v: f64, precision: usize) -> String {
    let s = format!("{v:.precision$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Prometheus' `humanize`: SI prefixes, 4 significant digits.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return format_value(v);
    }
    let prefixes = [
        (1e24, "Y"),
        (1e21, "Z"),
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
    ];
    let a = v.abs();
    if a >= 1.0 {
        for (scale, p) in prefixes {
            if a >= scale {
                return format!("{}{}", sig4(v / scale), p);
            }
        }
        return sig4(v);
    }
    let small = [
        (1e-3, "m"),
        (1e-6, "µ"),
        (1e-9, "n"),
        (1e-12, "p"),
        (1e-15, "f"),
        (1e-18, "a"),
    ];
    for (scale, p) in small {
        if a >= scale {
            return format!("{}{}", sig4(v / scale), p);
        }
    }
    sig4(v)
}

fn sig4(v: f64) -> String {
    let digits = if v.abs() >= 1.0 {
        v.abs().log10().floor() as i32 + 1
    } else {
        1
    };
    trim_float(v, (4 - digits).max(0) as usize)
}

/// Prometheus' `humanizeDuration`: `1d 2h 3m 4s`, or ms/µs/ns below a second.
pub fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return format_value(v);
    }
    if v.abs() < 1.0 && v != 0.0 {
        let a = v.abs();
        let (scale, unit) = if a >= 1e-3 {
            (1e3, "ms")
        } else if a >= 1e-6 {
            (1e6, "us")
        } else {
            (1e9, "ns")
        };
        return format!("{}{}", sig4(v * scale), unit);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let total = v.abs();
    let secs = total % 60.0;
    let whole = total as u64;
    let (d, h, m) = (whole / 86400, (whole / 3600) % 24, (whole / 60) % 60);
    let mut out = String::from(sign);
    if d > 0 {
        out.push_str(&format!("{d}d "));
    }
    if h > 0 {
        out.push_str(&format!("{h}h "));
    }
    if m > 0 {
        out.push_str(&format!("{m}m "));
    }
    out.push_str(&format!("{}s", trim_float(secs, 4)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        [("provider", "cdk"), ("connection", "dealer-001")]
            .into_iter()
            .collect()
    }

    #[test]
    fn renders_labels_and_values() {
        let t = Template::parse("{{ $labels.provider }}/{{ .Labels.connection }} at {{ $value }}")
            .unwrap();
        assert_eq!(t.render(&labels(), 0.25), "cdk/dealer-001 at 0.25");
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
