//! A problem found in an input file, printed as `file:line: message`.

use std::path::{Path, PathBuf};

/// One thing wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based; `None` when the problem concerns the whole file (e.g. it cannot be read).
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(file: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// A YAML syntax or shape error; `line_offset` is added to its line (for YAML embedded in a
    /// larger file, such as front matter).
    /// A YAML syntax or shape error in `text`, which starts `line_offset` lines into `file`.
    pub fn from_yaml(file: &Path, text: &str, e: &serde_norway::Error, line_offset: usize) -> Self {
        let message = e.to_string();
        let message = message.split(" at line").next().unwrap_or_default();
        // Without a position (a document read through a `Value`, as merge keys need), an
        // unknown field is found by its key.
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .and_then(|key| crate::config::find_line(text, &format!("{key}:"), 1))
            .map(|l| l + line_offset);
        let line = e.location().map(|l| {
            // A duplicate key is reported at its mapping's start: point at the duplicate.
            let dup = message
                .strip_prefix("duplicate field `")
                .or_else(|| message.strip_prefix("duplicate entry with key \""))
                .and_then(|rest| rest.split(['`', '"']).next());
            let line = dup
                .and_then(|key| duplicate_line(text, l.line(), key))
                .unwrap_or(l.line());
            line + line_offset
        });
        Self::new(file, line.or(unknown), message)
    }

    /// A TOML syntax or shape error.
    pub fn from_toml(file: &Path, text: &str, e: &toml::de::Error) -> Self {
        let line = e.span().map(|s| line_of(text, s.start));
        Self::new(file, line, e.message().trim())
    }

    /// A problem at a byte offset of `text`.
    pub fn at_offset(file: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        Self::new(file, Some(line_of(text, offset)), message)
    }
}

/// The line of the second `key:` at the indentation of the first one found from line `from`.
fn duplicate_line(text: &str, from: usize, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let starts = |l: &str| {
        let t = l.trim_start().trim_start_matches("- ");
        t.strip_prefix(key).is_some_and(|r| r.starts_with(':'))
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let first = (from.saturating_sub(1)..lines.len()).find(|&i| starts(lines[i]))?;
    (first + 1..lines.len())
        .find(|&i| starts(lines[i]) && indent(lines[i]) == indent(lines[first]))
        .map(|i| i + 1)
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Several problems, as returned by loaders that report everything they find.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl Problems {
    /// `value` when no problem was found, else the problems.
    pub fn or_ok<T>(problems: Vec<Problem>, value: T) -> Result<T, Problems> {
        if problems.is_empty() {
            Ok(value)
        } else {
            Err(Problems(problems))
        }
    }
}

impl From<Problem> for Problems {
    fn from(p: Problem) -> Self {
        Problems(vec![p])
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The 1-based line of the first line of `text` whose trimmed content starts with `needle`,
/// searching from line `from` (1-based). Used to point at YAML items serde does not locate.
pub fn find_line(text: &str, needle: &str, from: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.trim_start().trim_start_matches("- ").starts_with(needle))
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines() {
        let text = "a\nbb\nccc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 6), 3);
        assert_eq!(line_of(text, 999), 3);
    }

    #[test]
    fn displays_file_and_line() {
        let p = Problem::new(Path::new("x.toml"), Some(3), "bad");
        assert_eq!(p.to_string(), "x.toml:3: bad");
        let p = Problem::new(Path::new("x.toml"), None, "missing");
        assert_eq!(p.to_string(), "x.toml: missing");
    }

    #[test]
    fn a_duplicate_key_is_reported_at_the_duplicate() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct F {
            route: Option<serde_norway::Value>,
            receivers: Option<serde_norway::Value>,
        }
        let text = "# comment\nroute:\n  receiver: a\nreceivers: []\nroute:\n  receiver: b\n";
        let e = serde_norway::from_str::<F>(text).unwrap_err();
        let p = Problem::from_yaml(Path::new("a.yml"), text, &e, 0);
        assert_eq!(p.to_string(), "a.yml:5: duplicate field `route`");
    }

    #[test]
    fn finds_yaml_item_lines() {
        let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n      - alert: B\n";
        assert_eq!(find_line(text, "alert: B", 1), Some(5));
        assert_eq!(find_line(text, "alert: A", 5), None);
    }
}
