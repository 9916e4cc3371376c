//! Runbook files: `---` YAML front matter (`id`, `title`, `providers`, `alerts`, `error_classes`,
//! `tags`, `symptoms`, `aliases`), then markdown with the sections Symptoms, Diagnosis, Fix and Escalate when.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{Problem, Problems};
use crate::domain::ErrorClass;

/// Sections every runbook has, in this order.
pub const SECTIONS: [&str; 4] = ["Symptoms", "Diagnosis", "Fix", "Escalate when"];

/// A validated runbook.
#[derive(Debug, Clone, PartialEq)]
pub struct Runbook {
    pub id: String,
    pub title: String,
    pub providers: Vec<String>,
    pub alerts: Vec<String>,
    pub error_classes: Vec<ErrorClass>,
    pub tags: Vec<String>,
    /// The problem in the words of on-call and customers ("dealer data is hours old").
    pub symptoms: Vec<String>,
    /// Other names for it: partial alert names, metric names, error strings, jargon.
    pub aliases: Vec<String>,
    /// The markdown after the front matter.
    pub body: String,
    pub path: PathBuf,
}

impl Runbook {
    /// The text of one `## Section`, without its heading.
    pub fn section(&self, name: &str) -> Option<&str> {
        let heading = format!("## {name}");
        let start = self.body.find(&heading)? + heading.len();
        let rest = &self.body[start..];
        let end = rest.find("\n## ").unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: String,
    title: String,
    #[serde(default)]
    providers: Vec<String>,
    #[serde(default)]
    alerts: Vec<String>,
    #[serde(default)]
    error_classes: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    symptoms: Vec<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

/// Parses one runbook file's text.
pub fn parse_runbook(path: &Path, text: &str) -> Result<Runbook, Problems> {
    let p = |line: Option<usize>, m: String| Problems::from(Problem::new(path, line, m));
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| {
            p(
                Some(1),
                "runbook must start with a '---' front matter block".into(),
            )
        })?;
    let end = rest
        .find("\n---")
        .ok_or_else(|| p(Some(1), "front matter is not closed by a '---' line".into()))?;
    let yaml = &rest[..end + 1];
    let body = rest[end + 4..].trim_start_matches(['\r', '\n']).to_string();
    let fm: FrontMatter = serde_norway::from_str(yaml).map_err(|e| {
        // The front matter starts on the file's second line.
        let mut problem = Problem::from_yaml(path, yaml, &e, 1);
        problem.message = format!("front matter: {}", problem.message);
        Problems::from(problem)
    })?;
    let mut problems = Vec::new();
    if fm.id.is_empty()
        || !fm
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        problems.push(Problem::new(
            path,
            Some(2),
            format!("id {:?}: use lowercase letters, digits and '-'", fm.id),
        ));
    }
    if fm.title.trim().is_empty() {
        problems.push(Problem::new(path, Some(2), "title must not be empty"));
    }
    let mut error_classes = Vec::new();
    for c in &fm.error_classes {
        match ErrorClass::parse(c) {
            Some(ec) => error_classes.push(ec),
            None => problems.push(Problem::new(
                path,
                None,
                format!(
                    "error_classes: unknown class {c:?} (known: {})",
                    ErrorClass::ALL.map(ErrorClass::as_str).join(", ")
                ),
            )),
        }
    }
    let body_line = text[..text.len() - body.len()].lines().count() + 1;
    for s in SECTIONS {
        if !body.contains(&format!("## {s}")) {
            problems.push(Problem::new(
                path,
                Some(body_line),
                format!("missing section '## {s}'"),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    Ok(Runbook {
        id: fm.id,
        title: fm.title,
        providers: fm.providers,
        alerts: fm.alerts,
        error_classes,
        tags: fm.tags,
        symptoms: fm.symptoms,
        aliases: fm.aliases,
        body,
        path: path.to_path_buf(),
    })
}

/// Loads every `*.md` under `dir` (recursively). Ids must be unique.
pub fn load_runbooks(dir: &Path) -> Result<Vec<Runbook>, Problems> {
    let pattern = format!("{}/**/*.md", dir.display());
    let mut paths: Vec<PathBuf> = glob::glob(&pattern)
        .map_err(|e| Problem::new(dir, None, format!("bad runbook directory: {e}")))?
        .filter_map(Result::ok)
        .collect();
    paths.sort();
    if !dir.is_dir() {
        return Err(Problem::new(dir, None, "runbook directory does not exist").into());
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut ids = HashSet::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => match parse_runbook(&path, &text) {
                Ok(rb) => {
                    if !ids.insert(rb.id.clone()) {
                        problems.push(Problem::new(
                            &path,
                            Some(2),
                            format!("duplicate runbook id {:?}", rb.id),
                        ));
                    }
                    out.push(rb);
                }
                Err(p) => problems.extend(p.0),
            },
            Err(e) => problems.push(Problem::new(
                &path,
                None,
                format!("cannot read runbook: {e}"),
            )),
        }
    }
    Problems::or_ok(problems, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = "---\nid: provider-auth\ntitle: Provider rejects credentials\nproviders: [tekion]\nalerts: [ProviderAuthFailing]\nerror_classes: [auth]\ntags: [token]\n---\n# Provider rejects credentials\n\n## Symptoms\n401 responses.\n\n## Diagnosis\nCheck the token.\n\n## Fix\nRotate it.\n\n## Escalate when\nStill failing.\n";

    #[test]
    fn parses_front_matter_and_sections() {
        let rb = parse_runbook(Path::new("rb.md"), SAMPLE).unwrap();
        assert_eq!(rb.id, "provider-auth");
        assert_eq!(rb.error_classes, vec![ErrorClass::Auth]);
        assert_eq!(rb.section("Diagnosis"), Some("Check the token."));
        assert_eq!(rb.section("Escalate when"), Some("Still failing."));
    }

    #[test]
    fn reports_missing_sections_and_unknown_classes() {
        let bad = SAMPLE.replace("[auth]", "[authz]").replace("## Fix\n", "");
        let err = parse_runbook(Path::new("rb.md"), &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown class \"authz\""), "{err}");
        assert!(err.contains("rb.md:9: missing section '## Fix'"), "{err}");
    }

    #[test]
    fn front_matter_errors_point_at_the_line() {
        let bad = SAMPLE.replace("tags: [token]", "tagz: [token]");
        let err = parse_runbook(Path::new("rb.md"), &bad).unwrap_err();
        assert_eq!(err.0[0].line, Some(7), "{err}");
    }
}
