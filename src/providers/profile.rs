//! Provider profiles (`providers/*.toml`): how to talk to one provider's API — auth, request
//! timeout, rate limit, retries, circuit breaker, pagination, and the streams to sync with their
//! paths, record locations and incremental cursors. A declarative connector: a new REST API is a
//! new profile, not new code.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::alerting::config::Secret;
use crate::config::{Env, Problem, Problems, interpolate, line_of};
use crate::domain::backoff::Backoff;
use crate::domain::duration::parse_duration;

#[derive(Debug, Clone, PartialEq)]
pub enum KeyIn {
    Header(String),
    Query(String),
}

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(Secret),
    ApiKey {
        r#in: KeyIn,
        value: Secret,
    },
    Basic {
        username: String,
        password: Secret,
    },
    /// OAuth2 client credentials: the token is fetched from `token_url`, cached until shortly
    /// before it expires, and fetched again once when the API answers 401.
    OAuth2 {
        /// Absolute, or relative to the provider's base URL.
        token_url: String,
        client_id: String,
        client_secret: Secret,
        scope: Option<String>,
    },
}

/// Where the next page is.
#[derive(Debug, Clone, PartialEq)]
pub enum PageKind {
    /// One request per sync.
    None,
    /// `?page=N`: the next number from `next_page` (a JSON pointer) when given, otherwise the
    /// next page follows while pages come back full.
    PageNumber {
        page_param: String,
        start: u64,
        next_page: Option<String>,
    },
    /// `?offset=N`: the next offset is this one plus the records received; a short page ends.
    Offset { offset_param: String },
    /// `?cursor=…` from `next_cursor` (a JSON pointer); null, empty or absent ends.
    Cursor {
        cursor_param: String,
        next_cursor: String,
    },
    /// RFC 8288 `Link: <…>; rel="next"`; no such link ends.
    LinkHeader,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pagination {
    pub kind: PageKind,
    /// The page-size parameter, if the API takes one.
    pub size_param: Option<String>,
    pub page_size: usize,
    pub max_pages: usize,
}

/// Incremental sync: only records changed since the saved cursor are asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Incremental {
    /// JSON pointer to the cursor field in each record (`/updated_at`).
    pub cursor_field: String,
    /// Query parameter that sends the saved cursor (`updated_since`).
    pub param: String,
    /// Cursor of the first sync, when the API needs one.
    pub start: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Stream {
    pub name: String,
    /// Path below the provider's base URL; `{connection}` is replaced.
    pub path: String,
    /// JSON pointer to the array of records ("" when the body is the array).
    pub records: String,
    /// Extra query parameters sent with every request of the stream.
    pub params: BTreeMap<String, String>,
    pub pagination: Pagination,
    pub incremental: Option<Incremental>,
}

/// Requests per second (token bucket) and how many connections sync at once.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub requests_per_second: f64,
    pub burst: u32,
    pub max_concurrent_syncs: usize,
}

/// Retries of one request: capped exponential backoff with full jitter, bounded by attempts and
/// by the total time spent on the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub backoff: Backoff,
    pub max_elapsed: Duration,
}

/// Consecutive failed requests open the circuit; after `open_for` one probe is let through.
#[derive(Debug, Clone, PartialEq)]
pub struct Breaker {
    pub failure_threshold: u32,
    pub open_for: Duration,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub auth: Auth,
    pub timeout: Duration,
    pub rate_limit: RateLimit,
    pub retry: Retry,
    pub breaker: Breaker,
    pub streams: Vec<Stream>,
}

impl Profile {
    /// The page size of the first stream (for capacity planning).
    pub fn page_size(&self) -> usize {
        self.streams.first().map_or(50, |s| s.pagination.page_size)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    auth: toml::Spanned<RawAuth>,
    #[serde(default)]
    request: RawRequest,
    #[serde(default)]
    rate_limit: RawRateLimit,
    #[serde(default)]
    retry: RawRetry,
    #[serde(default)]
    circuit_breaker: RawBreaker,
    pagination: Option<toml::Spanned<RawPagination>>,
    streams: Vec<toml::Spanned<RawStream>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "snake_case")]
enum RawAuth {
    None,
    Bearer {
        token: String,
    },
    ApiKey {
        header: Option<String>,
        query: Option<String>,
        value: String,
    },
    Basic {
        username: String,
        password: String,
    },
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
        scope: Option<String>,
    },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    timeout: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    requests_per_second: Option<f64>,
    burst: Option<u32>,
    max_concurrent_syncs: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    max_attempts: Option<u32>,
    max_elapsed: Option<String>,
    base: Option<String>,
    max: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    failure_threshold: Option<u32>,
    open_for: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "snake_case")]
enum RawPagination {
    None,
    PageNumber {
        page_param: String,
        size_param: Option<String>,
        page_size: Option<usize>,
        next_page: Option<String>,
        start: Option<u64>,
        max_pages: Option<usize>,
    },
    Offset {
        offset_param: String,
        size_param: Option<String>,
        page_size: Option<usize>,
        max_pages: Option<usize>,
    },
    Cursor {
        cursor_param: String,
        next_cursor: String,
        size_param: Option<String>,
        page_size: Option<usize>,
        max_pages: Option<usize>,
    },
    LinkHeader {
        size_param: Option<String>,
        page_size: Option<usize>,
        max_pages: Option<usize>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStream {
    name: String,
    path: String,
    records: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    pagination: Option<RawPagination>,
    incremental: Option<RawIncremental>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncremental {
    cursor_field: String,
    param: String,
    start: Option<String>,
}

pub fn load_profile(path: &Path, env: Env<'_>) -> Result<Profile, Problems> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(path, None, format!("cannot read provider profile: {e}")))?;
    parse_profile(path, &text, env)
}

/// Collects problems while a profile is validated.
struct Check<'a> {
    path: &'a Path,
    text: &'a str,
    env: Env<'a>,
    problems: Vec<Problem>,
}

impl Check<'_> {
    fn line(&self, needle: &str) -> Option<usize> {
        crate::config::find_line(self.text, needle, 1)
    }

    fn problem(&mut self, line: Option<usize>, msg: impl Into<String>) {
        self.problems.push(Problem::new(self.path, line, msg));
    }

    fn secret(&mut self, key: &str, v: &str) -> Secret {
        Secret::new(self.value(key, v))
    }

    fn value(&mut self, key: &str, v: &str) -> String {
        match interpolate(v, self.env) {
            Ok(s) => s,
            Err(e) => {
                let line = self.line(key);
                self.problem(line, format!("auth.{key}: {e}"));
                String::new()
            }
        }
    }

    fn duration(&mut self, key: &str, v: Option<&str>, default: Duration) -> Duration {
        match v.map(parse_duration) {
            None => default,
            Some(Ok(d)) if !d.is_zero() => d,
            Some(Ok(_)) => {
                let line = self.line(key.rsplit('.').next().unwrap_or(key));
                self.problem(line, format!("{key}: must be greater than 0"));
                default
            }
            Some(Err(e)) => {
                let line = self.line(key.rsplit('.').next().unwrap_or(key));
                self.problem(line, format!("{key}: {e}"));
                default
            }
        }
    }

    fn pointer(&mut self, line: Option<usize>, key: &str, v: &str) {
        if !v.starts_with('/') {
            self.problem(
                line,
                format!("{key}: must be a JSON pointer such as \"/data\""),
            );
        }
    }

    fn auth(&mut self, raw: &RawAuth, line: Option<usize>) -> Auth {
        match raw {
            RawAuth::None => Auth::None,
            RawAuth::Bearer { token } => Auth::Bearer(self.secret("token", token)),
            RawAuth::ApiKey {
                header,
                query,
                value,
            } => {
                let r#in = match (header, query) {
                    (Some(h), None) => KeyIn::Header(h.clone()),
                    (None, Some(q)) => KeyIn::Query(q.clone()),
                    _ => {
                        self.problem(line, "auth: api_key needs exactly one of header or query");
                        KeyIn::Header(String::new())
                    }
                };
                Auth::ApiKey {
                    r#in,
                    value: self.secret("value", value),
                }
            }
            RawAuth::Basic { username, password } => Auth::Basic {
                username: self.value("username", username),
                password: self.secret("password", password),
            },
            RawAuth::OAuth2 {
                token_url,
                client_id,
                client_secret,
                scope,
            } => Auth::OAuth2 {
                token_url: self.value("token_url", token_url),
                client_id: self.value("client_id", client_id),
                client_secret: self.secret("client_secret", client_secret),
                scope: scope.clone(),
            },
        }
    }

    fn pagination(&mut self, raw: &RawPagination, line: Option<usize>, at: &str) -> Pagination {
        let (kind, size_param, page_size, max_pages) = match raw.clone() {
            RawPagination::None => (PageKind::None, None, None, None),
            RawPagination::PageNumber {
                page_param,
                size_param,
                page_size,
                next_page,
                start,
                max_pages,
            } => {
                if let Some(p) = &next_page {
                    self.pointer(line, &format!("{at}.next_page"), p);
                }
                (
                    PageKind::PageNumber {
                        page_param,
                        start: start.unwrap_or(1),
                        next_page,
                    },
                    size_param,
                    page_size,
                    max_pages,
                )
            }
            RawPagination::Offset {
                offset_param,
                size_param,
                page_size,
                max_pages,
            } => {
                if size_param.is_none() && page_size.is_none() {
                    self.problem(
                        line,
                        format!("{at}: offset pagination needs page_size (a short page ends it)"),
                    );
                }
                (
                    PageKind::Offset { offset_param },
                    size_param,
                    page_size,
                    max_pages,
                )
            }
            RawPagination::Cursor {
                cursor_param,
                next_cursor,
                size_param,
                page_size,
                max_pages,
            } => {
                self.pointer(line, &format!("{at}.next_cursor"), &next_cursor);
                (
                    PageKind::Cursor {
                        cursor_param,
                        next_cursor,
                    },
                    size_param,
                    page_size,
                    max_pages,
                )
            }
            RawPagination::LinkHeader {
                size_param,
                page_size,
                max_pages,
            } => (PageKind::LinkHeader, size_param, page_size, max_pages),
        };
        if page_size == Some(0) {
            self.problem(line, format!("{at}.page_size: must be at least 1"));
        }
        if matches!(
            kind,
            PageKind::PageNumber {
                next_page: None,
                ..
            }
        ) && page_size.is_none()
        {
            self.problem(
                line,
                format!("{at}: page_number pagination needs next_page or page_size"),
            );
        }
        Pagination {
            kind,
            size_param,
            page_size: page_size.unwrap_or(50).max(1),
            max_pages: max_pages.unwrap_or(10_000),
        }
    }
}

pub fn parse_profile(path: &Path, text: &str, env: Env<'_>) -> Result<Profile, Problems> {
    let raw: RawProfile = toml::from_str(text).map_err(|e| Problem::from_toml(path, text, &e))?;
    let mut c = Check {
        path,
        text,
        env,
        problems: Vec::new(),
    };
    let auth_line = Some(line_of(text, raw.auth.span().start));
    let auth = c.auth(raw.auth.get_ref(), auth_line);
    let timeout = c.duration(
        "request.timeout",
        raw.request.timeout.as_deref(),
        Duration::from_secs(10),
    );
    let rl = &raw.rate_limit;
    let rate_limit = RateLimit {
        requests_per_second: rl.requests_per_second.unwrap_or(10.0),
        burst: rl.burst.unwrap_or(10),
        max_concurrent_syncs: rl.max_concurrent_syncs.unwrap_or(8),
    };
    if !(rate_limit.requests_per_second > 0.0 && rate_limit.requests_per_second.is_finite()) {
        let line = c.line("requests_per_second");
        c.problem(
            line,
            "rate_limit.requests_per_second: must be greater than 0",
        );
    }
    if rate_limit.burst == 0 || rate_limit.max_concurrent_syncs == 0 {
        let line = c.line("[rate_limit]");
        c.problem(
            line,
            "rate_limit: burst and max_concurrent_syncs must be at least 1",
        );
    }
    // Airbyte's defaults: 5 attempts, 10 minutes in all.
    let retry = Retry {
        backoff: Backoff {
            base: c.duration(
                "retry.base",
                raw.retry.base.as_deref(),
                Duration::from_millis(500),
            ),
            max: c.duration(
                "retry.max",
                raw.retry.max.as_deref(),
                Duration::from_secs(60),
            ),
            max_attempts: raw.retry.max_attempts.unwrap_or(5).max(1),
        },
        max_elapsed: c.duration(
            "retry.max_elapsed",
            raw.retry.max_elapsed.as_deref(),
            Duration::from_secs(600),
        ),
    };
    let breaker = Breaker {
        failure_threshold: raw.circuit_breaker.failure_threshold.unwrap_or(5).max(1),
        open_for: c.duration(
            "circuit_breaker.open_for",
            raw.circuit_breaker.open_for.as_deref(),
            Duration::from_secs(30),
        ),
    };
    let default_pagination = match &raw.pagination {
        Some(p) => {
            let line = Some(line_of(text, p.span().start));
            Some(c.pagination(p.get_ref(), line, "pagination"))
        }
        None => None,
    };
    let mut streams = Vec::new();
    for (i, s) in raw.streams.iter().enumerate() {
        let r = s.get_ref();
        let at = Some(line_of(text, s.span().start));
        if !r.path.starts_with('/') {
            c.problem(at, format!("streams[{i}].path: must start with '/'"));
        }
        if !r.records.is_empty() {
            c.pointer(at, &format!("streams[{i}].records"), &r.records);
        }
        let pagination = match (&r.pagination, &default_pagination) {
            (Some(p), _) => c.pagination(p, at, &format!("streams[{i}].pagination")),
            (None, Some(p)) => p.clone(),
            (None, None) => Pagination {
                kind: PageKind::None,
                size_param: None,
                page_size: 50,
                max_pages: 1,
            },
        };
        let incremental = r.incremental.as_ref().map(|inc| {
            c.pointer(
                at,
                &format!("streams[{i}].incremental.cursor_field"),
                &inc.cursor_field,
            );
            Incremental {
                cursor_field: inc.cursor_field.clone(),
                param: inc.param.clone(),
                start: inc.start.clone(),
            }
        });
        if streams.iter().any(|s: &Stream| s.name == r.name) {
            c.problem(at, format!("streams[{i}].name: {:?} is used twice", r.name));
        }
        streams.push(Stream {
            name: r.name.clone(),
            path: r.path.clone(),
            records: r.records.clone(),
            params: r.params.clone(),
            pagination,
            incremental,
        });
    }
    if streams.is_empty() {
        c.problem(None, "streams: at least one [[streams]] entry is required");
    }
    if !c.problems.is_empty() {
        return Err(Problems(c.problems));
    }
    Ok(Profile {
        auth,
        timeout,
        rate_limit,
        retry,
        breaker,
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
        assert_eq!(p.streams[0].pagination.page_size, 50);
        assert_eq!(p.retry.backoff.max_attempts, 5);
        assert_eq!(p.retry.max_elapsed, Duration::from_secs(600));
        assert_eq!(p.breaker.failure_threshold, 5);
    }

    #[test]
    fn every_auth_and_pagination_kind_parses() {
        let text = r#"[auth]
type = "oauth2_client_credentials"
token_url = "/oauth/token"
client_id = "id"
client_secret = "${SECRET}"
scope = "read"

[rate_limit]
requests_per_second = 2.5
burst = 3
max_concurrent_syncs = 2

[[streams]]
name = "a"
path = "/a"
records = "/items"
pagination = { type = "offset", offset_param = "offset", size_param = "limit", page_size = 100 }
[streams.incremental]
cursor_field = "/updated_at"
param = "updated_since"

[[streams]]
name = "b"
path = "/b"
records = ""
params = { include = "all" }
pagination = { type = "cursor", cursor_param = "cursor", next_cursor = "/meta/next" }

[[streams]]
name = "c"
path = "/c"
records = "/data"
pagination = { type = "link_header", size_param = "per_page", page_size = 20 }

[[streams]]
name = "d"
path = "/d"
records = "/data"
"#;
        let env = |n: &str| (n == "SECRET").then(|| "s3".to_string());
        let p = parse_profile(Path::new("p.toml"), text, &env).unwrap();
        assert!(
            matches!(&p.auth, Auth::OAuth2 { token_url, client_secret, scope, .. } if token_url == "/oauth/token" && client_secret.expose() == "s3" && scope.as_deref() == Some("read"))
        );
        assert_eq!(p.rate_limit.max_concurrent_syncs, 2);
        let kinds: Vec<&PageKind> = p.streams.iter().map(|s| &s.pagination.kind).collect();
        assert!(matches!(kinds[0], PageKind::Offset { offset_param } if offset_param == "offset"));
        assert!(
            matches!(kinds[1], PageKind::Cursor { next_cursor, .. } if next_cursor == "/meta/next")
        );
        assert_eq!(kinds[2], &PageKind::LinkHeader);
        assert_eq!(kinds[3], &PageKind::None);
        assert_eq!(
            p.streams[0].incremental.as_ref().unwrap().param,
            "updated_since"
        );
        assert_eq!(p.streams[1].params["include"], "all");

        let basic = "[auth]\ntype = \"basic\"\nusername = \"u\"\npassword = \"p\"\n\n[[streams]]\nname = \"a\"\npath = \"/a\"\nrecords = \"\"\n";
        assert!(matches!(
            parse_profile(Path::new("p.toml"), basic, &|_| None)
                .unwrap()
                .auth,
            Auth::Basic { .. }
        ));
        let key = "[auth]\ntype = \"api_key\"\nquery = \"api_key\"\nvalue = \"k\"\n\n[[streams]]\nname = \"a\"\npath = \"/a\"\nrecords = \"\"\n";
        assert!(matches!(
            parse_profile(Path::new("p.toml"), key, &|_| None).unwrap().auth,
            Auth::ApiKey { r#in: KeyIn::Query(q), .. } if q == "api_key"
        ));
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
        let err = parse_profile(
            Path::new("p.toml"),
            &GOOD
                .replace("next_page = \"/next_page\"", "next_page = \"next_page\"")
                .replace(
                    "token = \"${TOKEN:-demo}\"",
                    "header = \"X\"\nquery = \"k\"\nvalue = \"v\"",
                )
                .replace("type = \"bearer\"", "type = \"api_key\""),
            &|_| None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("p.toml:1: auth: api_key needs exactly one of header or query"),
            "{err}"
        );
        assert!(
            err.contains("p.toml:10: pagination.next_page: must be a JSON pointer"),
            "{err}"
        );
    }
}
