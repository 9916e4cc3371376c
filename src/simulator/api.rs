//! Each simulated provider's API style, as pure functions: how it authenticates, how it pages,
//! which parameter filters by change time, and the shape of its answer.
//!
//! | provider | auth | pagination | incremental | body |
//! |---|---|---|---|---|
//! | tekion | OAuth2 client credentials (`POST /tekion/oauth/token`) | `page`, `page_size`, `next_page` | `updated_since` | `{"data", "page", "next_page"}` |
//! | cdk | `X-Api-Key` header | `offset`, `limit` | `modified_since` | `{"items", "total"}` |
//! | xtime | HTTP Basic | `cursor`, `limit`, `next_cursor` | `changed_after` | `{"results", "next_cursor"}` |
//! | mykaarma | `api_key` query parameter | `Link: rel="next"` (`page`, `per_page`) | `since` | a bare array |
//! | dealerfx | bearer token | `pageNumber`, `pageSize` (a short page is the last) | `updatedAfter` | `{"data"}` |

use std::collections::HashMap;

use serde_json::{Value, json};

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AuthStyle {
    OAuth2,
    ApiKeyHeader,
    Basic,
    ApiKeyQuery,
    Bearer,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PageStyle {
    /// `page`/`page_size`, body says `next_page`.
    PageNumberNext,
    /// `offset`/`limit`, body says `total`.
    Offset,
    /// `cursor`/`limit`, body says `next_cursor`.
    Cursor,
    /// `page`/`per_page`, `Link` header.
    Link,
    /// `pageNumber`/`pageSize`, nothing says more: a short page is the last.
    PageNumberShort,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub auth: AuthStyle,
    pub page: PageStyle,
    pub since_param: &'static str,
}

pub fn style(provider: &str) -> Option<Style> {
    let (auth, page, since_param) = match provider {
        "tekion" => (
            AuthStyle::OAuth2,
            PageStyle::PageNumberNext,
            "updated_since",
        ),
        "cdk" => (AuthStyle::ApiKeyHeader, PageStyle::Offset, "modified_since"),
        "xtime" => (AuthStyle::Basic, PageStyle::Cursor, "changed_after"),
        "mykaarma" => (AuthStyle::ApiKeyQuery, PageStyle::Link, "since"),
        "dealerfx" => (
            AuthStyle::Bearer,
            PageStyle::PageNumberShort,
            "updatedAfter",
        ),
        _ => return None,
    };
    Some(Style {
        auth,
        page,
        since_param,
    })
}

/// What a request presented.
#[derive(Debug, Default)]
pub struct Credentials {
    pub authorization: Option<String>,
    pub api_key_header: Option<String>,
    pub api_key_query: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenState {
    Valid,
    Expired,
    Unknown,
}

/// `Err(body)`: answer 401 with it.
pub fn check_auth(
    style: &Style,
    c: &Credentials,
    token: impl Fn(&str) -> TokenState,
) -> Result<(), &'static str> {
    let bearer = c
        .authorization
        .as_deref()
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty());
    let ok = match style.auth {
        AuthStyle::Bearer => bearer.is_some(),
        AuthStyle::OAuth2 => match bearer.map(token) {
            Some(TokenState::Valid) => true,
            Some(TokenState::Expired) => {
                return Err(r#"{"error":"token_expired","message":"The access token expired"}"#);
            }
            _ => false,
        },
        AuthStyle::ApiKeyHeader => c.api_key_header.as_deref().is_some_and(|k| !k.is_empty()),
        AuthStyle::ApiKeyQuery => c.api_key_query.as_deref().is_some_and(|k| !k.is_empty()),
        AuthStyle::Basic => c
            .authorization
            .as_deref()
            .and_then(|v| v.strip_prefix("Basic "))
            .is_some_and(|v| !v.is_empty()),
    };
    if ok {
        Ok(())
    } else {
        Err(r#"{"error":"invalid_token","message":"Missing or invalid credentials"}"#)
    }
}

/// The answer of the token endpoint to a client-credentials form.
pub fn token_answer(
    form: &HashMap<String, String>,
    issue: impl FnOnce() -> String,
) -> Result<Value, (u16, Value)> {
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Err((400, json!({"error": "unsupported_grant_type"})));
    }
    let present = |k: &str| form.get(k).is_some_and(|v| !v.is_empty());
    if !present("client_id") || !present("client_secret") {
        return Err((401, json!({"error": "invalid_client"})));
    }
    Ok(json!({
        "access_token": issue(),
        "token_type": "Bearer",
        "expires_in": super::TOKEN_LIFETIME_SECS,
    }))
}

/// One page of `all`, with what the body or headers say about the next one.
#[derive(Debug, PartialEq)]
pub struct Page {
    pub records: Vec<Value>,
    pub total: usize,
    /// Page number (1-based) or offset of this page.
    pub at: usize,
    pub next_page: Option<usize>,
    pub next_cursor: Option<String>,
    pub link: Option<String>,
}

fn number(q: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, String> {
    q.get(key).map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| format!("{key}: expected a number, got {v:?}"))
    })
}

/// Cuts the page the query asks for out of `all`.
pub fn paginate(
    style: &Style,
    q: &HashMap<String, String>,
    all: &mut Vec<Value>,
    path: &str,
) -> Result<Page, String> {
    let total = all.len();
    let size_key = match style.page {
        PageStyle::PageNumberNext => "page_size",
        PageStyle::Offset | PageStyle::Cursor => "limit",
        PageStyle::Link => "per_page",
        PageStyle::PageNumberShort => "pageSize",
    };
    let size = number(q, size_key, DEFAULT_PAGE_SIZE)?.clamp(1, MAX_PAGE_SIZE);
    let start = match style.page {
        PageStyle::PageNumberNext | PageStyle::Link => (number(q, "page", 1)?.max(1) - 1) * size,
        PageStyle::PageNumberShort => (number(q, "pageNumber", 1)?.max(1) - 1) * size,
        PageStyle::Offset => number(q, "offset", 0)?,
        PageStyle::Cursor => match q.get("cursor") {
            None => 0,
            Some(c) => c
                .strip_prefix("c")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("cursor: {c:?} is not a cursor this API gave"))?,
        },
    };
    let end = (start + size).min(total);
    let records: Vec<Value> = if start < total {
        all.drain(start..end).collect()
    } else {
        Vec::new()
    };
    let more = end < total;
    let page_no = start / size + 1;
    let mut page = Page {
        records,
        total,
        at: if style.page == PageStyle::Offset {
            start
        } else {
            page_no
        },
        next_page: None,
        next_cursor: None,
        link: None,
    };
    match style.page {
        PageStyle::PageNumberNext => page.next_page = more.then_some(page_no + 1),
        PageStyle::Cursor => page.next_cursor = more.then(|| format!("c{end}")),
        PageStyle::Link if more => {
            let mut params: Vec<String> = q
                .iter()
                .filter(|(k, _)| k.as_str() != "page")
                .map(|(k, v)| format!("{k}={}", urlencoding(v)))
                .collect();
            params.sort();
            params.push(format!("page={}", page_no + 1));
            page.link = Some(format!("<{path}?{}>; rel=\"next\"", params.join("&")));
        }
        _ => {}
    }
    Ok(page)
}

/// Percent-encodes what a query value may not hold as is.
fn urlencoding(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The body of a page in the provider's shape.
pub fn body(style: &Style, records: Vec<Value>, page: &Page) -> Value {
    match style.page {
        PageStyle::PageNumberNext => {
            json!({"data": records, "page": page.at, "next_page": page.next_page})
        }
        PageStyle::Offset => json!({"items": records, "offset": page.at, "total": page.total}),
        PageStyle::Cursor => json!({"results": records, "next_cursor": page.next_cursor}),
        PageStyle::Link => Value::Array(records),
        PageStyle::PageNumberShort => json!({"data": records}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({"i": i})).collect()
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Walks a style's pages the way its documentation says, collecting every record.
    fn walk(provider: &str, size: &str) -> Vec<Value> {
        let s = style(provider).unwrap();
        let mut query = match s.page {
            PageStyle::PageNumberNext => q(&[("page_size", size)]),
            PageStyle::Offset | PageStyle::Cursor => q(&[("limit", size)]),
            PageStyle::Link => q(&[("per_page", size)]),
            PageStyle::PageNumberShort => q(&[("pageSize", size)]),
        };
        let mut out = Vec::new();
        for _ in 0..100 {
            let page = paginate(&s, &query, &mut all(120), "/x").unwrap();
            let n = page.records.len();
            out.extend(page.records.iter().cloned());
            let next: Option<(&str, String)> = match s.page {
                PageStyle::PageNumberNext => page.next_page.map(|p| ("page", p.to_string())),
                PageStyle::Offset => {
                    (page.at + n < page.total).then(|| ("offset", (page.at + n).to_string()))
                }
                PageStyle::Cursor => page.next_cursor.clone().map(|c| ("cursor", c)),
                PageStyle::Link => page.link.as_deref().map(|l| {
                    let target = l.split('>').next().unwrap();
                    let p = target.rsplit("page=").next().unwrap();
                    ("page", p.to_string())
                }),
                PageStyle::PageNumberShort => (n == size.parse::<usize>().unwrap())
                    .then(|| ("pageNumber", (page.at + 1).to_string())),
            };
            match next {
                Some((k, v)) => {
                    query.insert(k.to_string(), v);
                }
                None => return out,
            }
        }
        panic!("{provider}: pages never ended");
    }

    #[test]
    fn every_style_serves_each_record_once() {
        for provider in super::super::data::PROVIDERS {
            for size in ["50", "7", "120", "500"] {
                assert_eq!(
                    walk(provider, size),
                    all(120),
                    "{provider} page size {size}"
                );
            }
        }
    }

    #[test]
    fn link_headers_carry_the_other_parameters() {
        let s = style("mykaarma").unwrap();
        let page = paginate(
            &s,
            &q(&[
                ("per_page", "50"),
                ("since", "2026-11-01T00:00:00Z"),
                ("api_key", "k"),
            ]),
            &mut all(120),
            "/mykaarma/dealers/d/x",
        )
        .unwrap();
        assert_eq!(
            page.link.as_deref(),
            Some(
                "</mykaarma/dealers/d/x?api_key=k&per_page=50&since=2026-11-01T00%3A00%3A00Z&page=2>; rel=\"next\""
            )
        );
        assert!(paginate(&s, &q(&[("page", "x")]), &mut all(1), "/").is_err());
    }

    #[test]
    fn each_provider_checks_its_own_credentials() {
        let valid = |_: &str| TokenState::Valid;
        let none = Credentials::default();
        for p in super::super::data::PROVIDERS {
            assert!(check_auth(&style(p).unwrap(), &none, valid).is_err(), "{p}");
        }
        let bearer = Credentials {
            authorization: Some("Bearer t".into()),
            ..Credentials::default()
        };
        assert!(check_auth(&style("dealerfx").unwrap(), &bearer, valid).is_ok());
        assert!(check_auth(&style("cdk").unwrap(), &bearer, valid).is_err());
        let expired = check_auth(&style("tekion").unwrap(), &bearer, |_| TokenState::Expired);
        assert!(expired.unwrap_err().contains("token_expired"));
        let key = Credentials {
            api_key_header: Some("k".into()),
            ..Credentials::default()
        };
        assert!(check_auth(&style("cdk").unwrap(), &key, valid).is_ok());
        let basic = Credentials {
            authorization: Some("Basic dTpw".into()),
            ..Credentials::default()
        };
        assert!(check_auth(&style("xtime").unwrap(), &basic, valid).is_ok());
    }

    #[test]
    fn the_token_endpoint_wants_client_credentials() {
        let form = q(&[
            ("grant_type", "client_credentials"),
            ("client_id", "a"),
            ("client_secret", "b"),
        ]);
        let ok = token_answer(&form, || "tk".into()).unwrap();
        assert_eq!(ok["access_token"], "tk");
        assert_eq!(
            token_answer(&q(&[("grant_type", "password")]), || "tk".into())
                .unwrap_err()
                .0,
            400
        );
        assert_eq!(
            token_answer(&q(&[("grant_type", "client_credentials")]), || "tk".into())
                .unwrap_err()
                .0,
            401
        );
    }
}
