//! Pagination as pure state: which query (or URL) asks for the next page, given the previous
//! response. One walker per stream and sync; the connector sends what it says.

use serde_json::Value;

use super::profile::{PageKind, Pagination};

/// Where the next page is.
#[derive(Debug, Clone, PartialEq)]
pub enum Position {
    /// The stream's path with these query parameters (page, offset or cursor).
    Query(Vec<(String, String)>),
    /// A full URL the API gave (`Link: rel="next"`), used as is.
    Url(String),
}

/// Walks the pages of one stream.
#[derive(Debug, Clone)]
pub struct Walker {
    pagination: Pagination,
    next: Option<Position>,
    /// The page, offset or cursor of the request in flight.
    current: Cursorish,
    pages: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Cursorish {
    Page(u64),
    Offset(u64),
    Cursor(Option<String>),
    Link,
    Single,
}

impl Walker {
    pub fn new(pagination: &Pagination) -> Self {
        let current = match &pagination.kind {
            PageKind::None => Cursorish::Single,
            PageKind::PageNumber { start, .. } => Cursorish::Page(*start),
            PageKind::Offset { .. } => Cursorish::Offset(0),
            PageKind::Cursor { .. } => Cursorish::Cursor(None),
            PageKind::LinkHeader => Cursorish::Link,
        };
        let mut w = Self {
            pagination: pagination.clone(),
            next: None,
            current,
            pages: 0,
        };
        w.next = Some(Position::Query(w.query()));
        w
    }

    /// Pages answered so far.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// The next request's position, `None` after the last page.
    pub fn next(&self) -> Option<&Position> {
        self.next.as_ref()
    }

    fn query(&self) -> Vec<(String, String)> {
        let p = &self.pagination;
        let mut q = Vec::new();
        match (&p.kind, &self.current) {
            (PageKind::PageNumber { page_param, .. }, Cursorish::Page(n)) => {
                q.push((page_param.clone(), n.to_string()));
            }
            (PageKind::Offset { offset_param }, Cursorish::Offset(n)) => {
                q.push((offset_param.clone(), n.to_string()));
            }
            (PageKind::Cursor { cursor_param, .. }, Cursorish::Cursor(Some(c))) => {
                q.push((cursor_param.clone(), c.clone()));
            }
            _ => {}
        }
        if let Some(size) = &p.size_param {
            q.push((size.clone(), p.page_size.to_string()));
        }
        q
    }

    /// Takes a page's answer: its JSON body, the number of records it held and its `Link`
    /// header. Sets what comes next.
    pub fn advance(&mut self, body: &Value, records: usize, link: Option<&str>) {
        self.pages += 1;
        let p = &self.pagination;
        let full = records >= p.page_size;
        self.current = match (&p.kind, &self.current) {
            (PageKind::None, _) => {
                self.next = None;
                return;
            }
            (PageKind::PageNumber { next_page, .. }, Cursorish::Page(n)) => {
                let next = match next_page {
                    Some(ptr) => body
                        .pointer(ptr)
                        .and_then(Value::as_u64)
                        .filter(|next| *next > *n),
                    None => (full && records > 0).then_some(n + 1),
                };
                match next {
                    Some(next) => Cursorish::Page(next),
                    None => {
                        self.next = None;
                        return;
                    }
                }
            }
            (PageKind::Offset { .. }, Cursorish::Offset(n)) => {
                if !full || records == 0 {
                    self.next = None;
                    return;
                }
                Cursorish::Offset(n + records as u64)
            }
            (PageKind::Cursor { next_cursor, .. }, Cursorish::Cursor(prev)) => {
                let next = match body.pointer(next_cursor) {
                    Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                // A cursor that does not move would loop forever.
                match next {
                    Some(c) if prev.as_ref() != Some(&c) => Cursorish::Cursor(Some(c)),
                    _ => {
                        self.next = None;
                        return;
                    }
                }
            }
            (PageKind::LinkHeader, _) => {
                self.next = link.and_then(next_link).map(Position::Url);
                return;
            }
            _ => {
                self.next = None;
                return;
            }
        };
        self.next = Some(Position::Query(self.query()));
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header value.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| target.to_string())
    })
}

/// The larger of two cursor values: numerically when both are numbers, otherwise as text (RFC
/// 3339 times in one format sort as text).
pub fn max_cursor(a: Option<String>, b: &Value) -> Option<String> {
    let b = match b {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return a,
    };
    match a {
        None => Some(b),
        Some(a) => {
            let bigger = match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => y > x,
                _ => b > a,
            };
            Some(if bigger { b } else { a })
        }
    }
}

/// The format of a cursor value: digits as `9`, letters as `a`, the rest as is; numbers
/// (JSON numbers or numeric text) as `number`. A value of another shape than the stream's
/// cursor is format drift (`2026-11-21T10:00:00Z` then `11/21/2026 10:00`).
pub fn shape(v: &str) -> String {
    if v.parse::<f64>().is_ok() {
        return "number".into();
    }
    v.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else if c.is_alphabetic() && !matches!(c, 'T' | 'Z') {
                'a'
            } else {
                c
            }
        })
        .collect()
}

/// The text of a cursor value (`None` for anything but text and numbers).
pub fn cursor_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pg(kind: PageKind, size_param: Option<&str>, page_size: usize) -> Pagination {
        Pagination {
            kind,
            size_param: size_param.map(str::to_string),
            page_size,
            max_pages: 100,
        }
    }

    fn q(pairs: &[(&str, &str)]) -> Option<Position> {
        Some(Position::Query(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }

    #[test]
    fn page_numbers_follow_next_page_or_full_pages() {
        let by_pointer = pg(
            PageKind::PageNumber {
                page_param: "page".into(),
                start: 1,
                next_page: Some("/next_page".into()),
            },
            Some("page_size"),
            50,
        );
        let mut w = Walker::new(&by_pointer);
        assert_eq!(w.next().cloned(), q(&[("page", "1"), ("page_size", "50")]));
        w.advance(&json!({"next_page": 2}), 50, None);
        assert_eq!(w.next().cloned(), q(&[("page", "2"), ("page_size", "50")]));
        // A next page that does not move ends the walk.
        w.advance(&json!({"next_page": 2}), 50, None);
        assert_eq!(w.next(), None);
        assert_eq!(w.pages(), 2);

        let by_size = pg(
            PageKind::PageNumber {
                page_param: "p".into(),
                start: 0,
                next_page: None,
            },
            None,
            10,
        );
        let mut w = Walker::new(&by_size);
        assert_eq!(w.next().cloned(), q(&[("p", "0")]));
        w.advance(&json!({}), 10, None);
        assert_eq!(w.next().cloned(), q(&[("p", "1")]));
        w.advance(&json!({}), 3, None);
        assert_eq!(w.next(), None, "a short page is the last");
    }

    #[test]
    fn offsets_add_the_records_received() {
        let mut w = Walker::new(&pg(
            PageKind::Offset {
                offset_param: "offset".into(),
            },
            Some("limit"),
            100,
        ));
        assert_eq!(w.next().cloned(), q(&[("offset", "0"), ("limit", "100")]));
        w.advance(&json!({}), 100, None);
        assert_eq!(w.next().cloned(), q(&[("offset", "100"), ("limit", "100")]));
        w.advance(&json!({}), 100, None);
        w.advance(&json!({}), 0, None);
        assert_eq!(w.next(), None);
    }

    #[test]
    fn cursors_come_from_the_body_until_null() {
        let mut w = Walker::new(&pg(
            PageKind::Cursor {
                cursor_param: "cursor".into(),
                next_cursor: "/meta/next".into(),
            },
            None,
            50,
        ));
        assert_eq!(w.next().cloned(), q(&[]));
        w.advance(&json!({"meta": {"next": "abc"}}), 50, None);
        assert_eq!(w.next().cloned(), q(&[("cursor", "abc")]));
        w.advance(&json!({"meta": {"next": "abc"}}), 50, None);
        assert_eq!(w.next(), None, "a cursor that does not move ends");
        let mut w = Walker::new(&pg(
            PageKind::Cursor {
                cursor_param: "c".into(),
                next_cursor: "/next".into(),
            },
            None,
            50,
        ));
        w.advance(&json!({"next": null}), 50, None);
        assert_eq!(w.next(), None);
    }

    #[test]
    fn link_headers_give_the_next_url() {
        let mut w = Walker::new(&pg(PageKind::LinkHeader, Some("per_page"), 20));
        assert_eq!(w.next().cloned(), q(&[("per_page", "20")]));
        w.advance(
            &json!([]),
            20,
            Some(r#"<https://api.example.com/x?page=1>; rel="prev", <https://api.example.com/x?page=3&per_page=20>; rel="next""#),
        );
        assert_eq!(
            w.next().cloned(),
            Some(Position::Url(
                "https://api.example.com/x?page=3&per_page=20".into()
            ))
        );
        w.advance(
            &json!([]),
            5,
            Some(r#"<https://api.example.com/x?page=1>; rel="first""#),
        );
        assert_eq!(w.next(), None);
        assert_eq!(next_link(r#"<a>; rel="next last""#), Some("a".into()));
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn a_single_request_stream_ends_after_one_page() {
        let mut w = Walker::new(&pg(PageKind::None, None, 50));
        assert_eq!(w.next().cloned(), q(&[]));
        w.advance(&json!([]), 500, None);
        assert_eq!(w.next(), None);
    }

    #[test]
    fn cursor_shapes_tell_format_drift() {
        assert_eq!(shape("2026-11-21T10:00:00Z"), shape("2026-01-02T23:59:59Z"));
        assert_ne!(shape("2026-11-21T10:00:00Z"), shape("11/21/2026 10:00"));
        assert_eq!(shape("1700000000"), "number");
        assert_eq!(shape("12.5"), shape("7"));
        assert_eq!(cursor_text(&json!(5)).as_deref(), Some("5"));
        assert_eq!(cursor_text(&json!(null)), None);
    }

    #[test]
    fn cursors_compare_as_numbers_or_text() {
        assert_eq!(
            max_cursor(None, &json!("2026-11-02T00:00:00Z")).as_deref(),
            Some("2026-11-02T00:00:00Z")
        );
        assert_eq!(
            max_cursor(
                Some("2026-11-02T00:00:00Z".into()),
                &json!("2026-11-01T00:00:00Z")
            )
            .as_deref(),
            Some("2026-11-02T00:00:00Z")
        );
        assert_eq!(
            max_cursor(Some("9".into()), &json!(10)).as_deref(),
            Some("10"),
            "not as text"
        );
        assert_eq!(
            max_cursor(Some("a".into()), &json!(null)).as_deref(),
            Some("a")
        );
    }
}
