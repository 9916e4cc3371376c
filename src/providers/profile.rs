//! Provider profiles (`providers/*.toml`): how to talk to one provider's API — auth, request
//! timeout, pagination, and the streams to sync with their paths and record locations.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::alerting::config::Secret;
use crate::config::{Env, Problem, Problems, interpolate, line_of};
use crate::domain::duration::parse_duration;

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(Secret),
    ApiKey { header: String, value: Secret },
}

#[derive(Debug, Clone)]
pub struct Pagination {
    pub page_param: String,
    pub size_param: String,
    pub page_size: usize,
    /// JSON pointer to the next page number; absent or null means the last page.
    pub next_page: String,
    pub max_pages: usize,
}

#[derive(Debug, Clone)]
pub struct Stream {
    pub name: String,
    /// Path below the provider's base URL; `{connection}` is replaced.
    pub path: String,
    /// JSON pointer to the array of records.
    pub records: String,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub auth: Auth,
    pub timeout: Duration,
    pub pagination: Pagination,
    pub streams: Vec<Stream>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    auth: RawAuth,
    #[serde(default)]
    request: RawRequest,
    pagination: RawPagination,
    streams: Vec<toml::Spanned<RawStream>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "snake_case")]
enum RawAuth {
    None,
    Bearer { token: String },
    ApiKey { header: String, value: String },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "snake_case")]
enum RawPagination {
    PageNumber {
        page_param: String,
        size_param: String,
        page_size: usize,
        next_page: String,
        #[serde(default)]
        max_pages: Option<usize>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStream {
    name: String,
    path: String,
    records: String,
}

pub fn load_profile(path: &Path, env: Env<'_>) -> Result<Profile, Problems> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(path, None, format!("cannot read provider profile: {e}")))?;
    parse_profile(path, &text, env)
}

pub fn parse_profile(path: &Path, text: &str, env: Env<'_>) -> Result<Profile, Problems> {
    let raw: RawProfile = toml::from_str(text).map_err(|e| Problem::from_toml(path, text, &e))?;
    let mut problems = Vec::new();
    let line_with = |needle: &str| crate::config::find_line(text, needle, 1);
    let mut secret = |key: &str, v: &str| match interpolate(v, env) {
        Ok(s) => Secret(s),
        Err(e) => {
            problems.push(Problem::new(
                path,
                line_with(key),
                format!("auth.{key}: {e}"),
            ));
            Secret(String::new())
        }
    };
    let auth = match raw.auth {
        RawAuth::None => Auth::None,
        RawAuth::Bearer { token } => Auth::Bearer(secret("token", &token)),
        RawAuth::ApiKey { header, value } => Auth::ApiKey {
            header,
            value: secret("value", &value),
        },
    };
    let timeout = match raw.request.timeout.as_deref().map(parse_duration) {
        None => Duration::from_secs(10),
        Some(Ok(d)) if !d.is_zero() => d,
        Some(Ok(_)) => {
            problems.push(Problem::new(
                path,
                line_with("timeout"),
                "request.timeout: must be greater than 0",
            ));
            Duration::from_secs(10)
        }
        Some(Err(e)) => {
            problems.push(Problem::new(
                path,
                line_with("timeout"),
                format!("request.timeout: {e}"),
            ));
            Duration::from_secs(10)
        }
    };
    let RawPagination::PageNumber {
        page_param,
        size_param,
        page_size,
        next_page,
        max_pages,
    } = raw.pagination;
    if page_size == 0 {
        problems.push(Problem::new(
            path,
            line_with("page_size"),
            "pagination.page_size: must be at least 1",
        ));
    }
    if !next_page.starts_with('/') {
        problems.push(Problem::new(
            path,
            line_with("next_page"),
            "pagination.next_page: must be a JSON pointer such as \"/next_page\"",
        ));
    }
    let mut streams = Vec::new();
    for (i, s) in raw.streams.iter().enumerate() {
        let r = s.get_ref();
        let at = Some(line_of(text, s.span().start));
        if !r.path.starts_with('/') {
            problems.push(Problem::new(
                path,
                at,
                format!("streams[{i}].path: must start with '/'"),
            ));
        }
        if !r.records.starts_with('/') && !r.records.is_empty() {
            problems.push(Problem::new(
                path,
                at,
                format!("streams[{i}].records: must be a JSON pointer such as \"/data\""),
            ));
        }
        streams.push(Stream {
            name: r.name.clone(),
            path: r.path.clone(),
            records: r.records.clone(),
        });
    }
    if streams.is_empty() {
        problems.push(Problem::new(
            path,
            None,
            "streams: at least one [[streams]] entry is required",
        ));
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    Ok(Profile {
        auth,
        timeout,
        pagination: Pagination {
            page_param,
            size_param,
            page_size,
            next_page,
            max_pages: max_pages.unwrap_or(10_000),
        },
        streams,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"[auth]
type = "bearer"
token = "${TOKEN:-demo}"

[request]
timeout = "5s"

[pagination]
type = "page_number"
page_param = "page"
size_param = "page_size"
page_size = 50
next_page = "/next_page"

[[streams]]
name = "repair_orders"
path = "/dealers/{connection}/repair_orders"
records = "/data"
"#;

    #[test]
    fn parses_a_profile_with_secret_defaults() {
        let p = parse_profile(Path::new("p.toml"), GOOD, &|_| None).unwrap();
        assert!(matches!(&p.auth, Auth::Bearer(s) if s.expose() == "demo"));
        assert_eq!(p.timeout, Duration::from_secs(5));
        assert_eq!(p.streams[0].name, "repair_orders");
        assert_eq!(p.pagination.page_size, 50);
    }

    #[test]
    fn problems_name_the_line() {
        let err = parse_profile(
            Path::new("p.toml"),
            &GOOD.replace("\"5s\"", "\"5 sec\""),
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "p.toml:6: request.timeout: invalid duration \"5 sec\": expected a number followed by a unit (ms, s, m, h, d, w, y), e.g. \"30s\" or \"1h30m\""
        );
        let err = parse_profile(
            Path::new("p.toml"),
            &GOOD.replace("type = \"bearer\"", "type = \"oauth9\""),
            &|_| None,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.toml:2: unknown variant `oauth9`"),
            "{err}"
        );
    }
}
