//! Label matchers in Alertmanager's syntax (`severity="critical"`, `provider=~"cdk|tekion"`):
//! the one matcher type used by routes, inhibitions, silences and the API.

use regex::Regex;

use super::labels::Labels;

/// The four matching operators.
#[derive(Debug, Clone)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex(Regex),
    NotRegex(Regex),
}

/// One parsed `name op "value"` matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    #[error(
        "invalid matcher {0:?}: expected name=\"value\", name!=\"value\", name=~\"regex\" or name!~\"regex\""
    )]
    Syntax(String),
    #[error("invalid matcher {0:?}: bad label name")]
    Name(String),
    #[error("invalid matcher {input:?}: bad regex: {reason}")]
    Regex { input: String, reason: String },
}

impl Matcher {
    /// Parses one matcher. The value may be double-quoted (with `\"` escapes) or bare.
    pub fn parse(input: &str) -> Result<Self, MatcherError> {
        let s = input.trim();
        let pos = s
            .find(['=', '!'])
            .ok_or_else(|| MatcherError::Syntax(input.to_string()))?;
        let name = s[..pos].trim();
        let rest = &s[pos..];
        let (op_str, value_raw) = ["=~", "!~", "!=", "="]
            .iter()
            .find_map(|op| rest.strip_prefix(op).map(|v| (*op, v.trim())))
            .ok_or_else(|| MatcherError::Syntax(input.to_string()))?;
        let value = if let Some(inner) = value_raw.strip_prefix('"') {
            let inner = inner
                .strip_suffix('"')
                .ok_or_else(|| MatcherError::Syntax(input.to_string()))?;
            inner.replace("\\\"", "\"").replace("\\\\", "\\")
        } else {
            value_raw.to_string()
        };
        Self::new(name, op_str, value, input)
    }

    /// A matcher from its parts, as Alertmanager's older `match` (`=`) and `match_re` (`=~`)
    /// maps give them: the name must be a label name, a regex is anchored at both ends. `input`
    /// is what errors quote.
    pub fn new(name: &str, op_str: &str, value: String, input: &str) -> Result<Self, MatcherError> {
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(MatcherError::Name(input.to_string()));
        }
        let op = match op_str {
            "=" => MatchOp::Equal,
            "!=" => MatchOp::NotEqual,
            "=~" | "!~" => {
                let re =
                    Regex::new(&format!("^(?:{value})$")).map_err(|e| MatcherError::Regex {
                        input: input.to_string(),
                        reason: e.to_string(),
                    })?;
                if op_str == "=~" {
                    MatchOp::Regex(re)
                } else {
                    MatchOp::NotRegex(re)
                }
            }
            _ => return Err(MatcherError::Syntax(input.to_string())),
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value,
        })
    }

    /// Whether a label set satisfies this matcher (an absent label has the value `""`).
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.value(&self.name);
        match &self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::Regex(re) => re.is_match(v),
            MatchOp::NotRegex(re) => !re.is_match(v),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex(_) => "=~",
            MatchOp::NotRegex(_) => "!~",
        };
        write!(f, "{}{}{:?}", self.name, op, self.value)
    }
}

/// The matcher `name="value"` selecting exactly this label, as text [`Matcher::parse`] reads
/// back (a `\` or `"` in the value escaped): what silence forms are prefilled with.
pub fn equality_text(name: &str, value: &str) -> String {
    let v = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{name}=\"{v}\"")
}

/// Whether every matcher matches.
pub fn all_match(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        [("severity", "critical"), ("provider", "cdk")]
            .into_iter()
            .collect()
    }

    #[test]
    fn parses_all_four_operators() {
        assert!(
            Matcher::parse(r#"severity="critical""#)
                .unwrap()
                .matches(&labels())
        );
        assert!(
            Matcher::parse(r#"severity!="warning""#)
                .unwrap()
                .matches(&labels())
        );
        assert!(
            Matcher::parse(r#"provider=~"cdk|tekion""#)
                .unwrap()
                .matches(&labels())
        );
        assert!(
            !Matcher::parse(r#"provider!~"cd.*""#)
                .unwrap()
                .matches(&labels())
        );
        assert!(
            Matcher::parse("severity=critical")
                .unwrap()
                .matches(&labels())
        );
    }

    #[test]
    fn regex_is_anchored_and_absent_label_is_empty() {
        assert!(
            !Matcher::parse(r#"provider=~"c""#)
                .unwrap()
                .matches(&labels())
        );
        assert!(Matcher::parse(r#"team="""#).unwrap().matches(&labels()));
    }

    #[test]
    fn refuses_bad_input() {
        assert!(matches!(
            Matcher::parse("severity"),
            Err(MatcherError::Syntax(_))
        ));
        assert!(matches!(
            Matcher::parse(r#"se-v="x""#),
            Err(MatcherError::Name(_))
        ));
        assert!(matches!(
            Matcher::parse(r#"a=~"(""#),
            Err(MatcherError::Regex { .. })
        ));
        assert!(matches!(
            Matcher::parse(r#"a="x"#),
            Err(MatcherError::Syntax(_))
        ));
    }
}
