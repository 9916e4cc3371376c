//! Escaping as Go's `html/template` does it, for templates whose output is HTML (Alertmanager
//! renders an email's `html` with `html/template`): each action's text is escaped for where it
//! lands, known from the HTML written so far.
//!
//! The contexts followed are the ones an email template has: text between tags (`<`, `>`, `&`,
//! quotes and `+` as entities, Go's `htmlEscaper`), a quoted or unquoted attribute value (the
//! same, spaces too when unquoted), and a URL attribute (`href`, `src`, …): a URL at its start
//! whose scheme is not http, https or mailto becomes `#ZgotmplZ` (Go's `urlFilter`), then it is
//! percent-normalised (`urlNormalizer`), or, after a `?` or `#`, percent-escaped (`urlEscaper`).
//! Inside `<script>` and `<style>` the text is escaped as text (Go would escape it as JavaScript
//! or CSS; alert emails do not put data there). A `safeHtml` value is written as it is between
//! tags, as Go writes a `template.HTML`.

/// Where the next output lands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Text,
    /// Just after `<`.
    TagOpen,
    TagName(String),
    /// Inside a tag, between attributes.
    InTag,
    AttrName(String),
    /// After an attribute's name, before `=`.
    AfterName(String),
    /// After `=`, before the value.
    BeforeValue(String),
    /// In a value: the attribute's name, its quote (`None` unquoted), what of the value is
    /// written so far.
    Value {
        attr: String,
        quote: Option<char>,
        so_far: String,
    },
    /// `<!-- … -->`.
    Comment,
    /// The body of `<script>` or `<style>`, until its end tag.
    Raw(String),
}

/// Follows the HTML written so far.
#[derive(Debug, Clone)]
pub struct HtmlTracker {
    state: State,
    /// The last characters written, to find raw text's end tags.
    tail: String,
    /// Inside an HTML comment of the template, which Go's `html/template` leaves out of the
    /// output with whatever actions it holds.
    in_comment: bool,
}

impl Default for HtmlTracker {
    fn default() -> Self {
        Self {
            state: State::Text,
            tail: String::new(),
            in_comment: false,
        }
    }
}

/// Attributes whose values are URLs (Go's `attrTypeMap` entries of type URL).
const URL_ATTRS: &[&str] = &[
    "action",
    "archive",
    "background",
    "cite",
    "classid",
    "codebase",
    "data",
    "formaction",
    "href",
    "icon",
    "longdesc",
    "manifest",
    "poster",
    "profile",
    "src",
    "usemap",
    "xmlns",
];

impl HtmlTracker {
    /// The part of a template's text that is written: all of it but its HTML comments.
    pub fn text(&mut self, t: &str) -> String {
        let mut out = String::new();
        let mut rest = t;
        loop {
            if self.in_comment {
                match rest.find("-->") {
                    Some(i) => {
                        rest = &rest[i + 3..];
                        self.in_comment = false;
                    }
                    None => return out,
                }
            } else if self.state == State::Text
                && let Some(i) = rest.find("<!--")
            {
                self.feed(&rest[..i]);
                out.push_str(&rest[..i]);
                rest = &rest[i + 4..];
                self.in_comment = true;
            } else {
                self.feed(rest);
                out.push_str(rest);
                return out;
            }
        }
    }

    /// Follows `s`, written to the output.
    pub fn feed(&mut self, s: &str) {
        for c in s.chars() {
            self.tail.push(c);
            if self.tail.len() > 16 {
                let cut = self.tail.len() - 16;
                let cut = (cut..self.tail.len())
                    .find(|i| self.tail.is_char_boundary(*i))
                    .unwrap_or(cut);
                self.tail.drain(..cut);
            }
            self.state = match std::mem::replace(&mut self.state, State::Text) {
                State::Text => match c {
                    '<' => State::TagOpen,
                    _ => State::Text,
                },
                State::TagOpen => match c {
                    c if c.is_ascii_alphabetic() => {
                        State::TagName(c.to_ascii_lowercase().to_string())
                    }
                    '/' => State::TagName(String::new()),
                    '!' => State::TagOpen,
                    '-' if self.tail.ends_with("<!-") => State::TagOpen,
                    '-' if self.tail.ends_with("<!--") => State::Comment,
                    _ => State::Text,
                },
                State::TagName(mut name) => match c {
                    '>' => Self::after_tag(&name),
                    c if c.is_whitespace() => State::InTag,
                    c => {
                        name.push(c.to_ascii_lowercase());
                        State::TagName(name)
                    }
                },
                State::InTag => match c {
                    '>' => State::Text,
                    c if c.is_whitespace() || c == '/' => State::InTag,
                    c => State::AttrName(c.to_ascii_lowercase().to_string()),
                },
                State::AttrName(mut name) => match c {
                    '=' => State::BeforeValue(name),
                    '>' => State::Text,
                    c if c.is_whitespace() => State::AfterName(name),
                    c => {
                        name.push(c.to_ascii_lowercase());
                        State::AttrName(name)
                    }
                },
                State::AfterName(name) => match c {
                    '=' => State::BeforeValue(name),
                    '>' => State::Text,
                    c if c.is_whitespace() => State::AfterName(name),
                    c => State::AttrName(c.to_ascii_lowercase().to_string()),
                },
                State::BeforeValue(attr) => match c {
                    '"' | '\'' => State::Value {
                        attr,
                        quote: Some(c),
                        so_far: String::new(),
                    },
                    c if c.is_whitespace() => State::BeforeValue(attr),
                    '>' => State::Text,
                    c => State::Value {
                        attr,
                        quote: None,
                        so_far: c.to_string(),
                    },
                },
                State::Value {
                    attr,
                    quote,
                    mut so_far,
                } => match (quote, c) {
                    (Some(q), c) if c == q => State::InTag,
                    (None, '>') => State::Text,
                    (None, c) if c.is_whitespace() => State::InTag,
                    (_, c) => {
                        so_far.push(c);
                        State::Value {
                            attr,
                            quote,
                            so_far,
                        }
                    }
                },
                State::Comment => {
                    if self.tail.ends_with("-->") {
                        State::Text
                    } else {
                        State::Comment
                    }
                }
                State::Raw(tag) => {
                    if self
                        .tail
                        .to_ascii_lowercase()
                        .ends_with(&format!("</{tag}"))
                    {
                        State::TagName(String::new())
                    } else {
                        State::Raw(tag)
                    }
                }
            };
        }
    }

    fn after_tag(name: &str) -> State {
        match name {
            "script" | "style" | "textarea" | "title" => State::Raw(name.to_string()),
            _ => State::Text,
        }
    }

    /// `value` escaped for where it lands; `safe` is a `safeHtml` value.
    pub fn escape(&self, value: &str, safe: bool) -> String {
        if self.in_comment {
            return String::new();
        }
        match &self.state {
            State::Text | State::Raw(_) if safe => value.to_string(),
            State::Text | State::Raw(_) | State::Comment | State::TagOpen => html_escape(value),
            State::Value {
                attr,
                quote,
                so_far,
            } => {
                let v = if URL_ATTRS.contains(&attr.as_str()) {
                    if so_far.is_empty() {
                        url_normalize(&url_filter(value))
                    } else if so_far.contains(['?', '#']) {
                        url_escape(value)
                    } else {
                        url_normalize(value)
                    }
                } else {
                    value.to_string()
                };
                if quote.is_some() {
                    html_escape(&v)
                } else {
                    html_nospace_escape(&v)
                }
            }
            State::BeforeValue(_) => html_nospace_escape(value),
            // A name where an attribute or tag name goes: Go allows only safe names.
            State::TagName(_) | State::InTag | State::AttrName(_) | State::AfterName(_) => {
                if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric()) {
                    value.to_ascii_lowercase()
                } else {
                    "ZgotmplZ".into()
                }
            }
        }
    }
}

/// Go's `htmlEscaper`.
pub fn html_escape(s: &str) -> String {
    super::funcs::escape_html(s, true)
}

/// Go's `htmlNospaceEscaper` (unquoted attribute values).
fn html_nospace_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\u{b}' => out.push_str("&#11;"),
            '\u{c}' => out.push_str("&#12;"),
            '\r' => out.push_str("&#13;"),
            ' ' => out.push_str("&#32;"),
            '=' => out.push_str("&#61;"),
            '`' => out.push_str("&#96;"),
            c => out.push_str(&html_escape(&c.to_string())),
        }
    }
    out
}

/// Go's `urlFilter`: a URL with a scheme other than http, https or mailto is refused.
fn url_filter(s: &str) -> String {
    if let Some((scheme, _)) = s.split_once(':')
        && !scheme.contains('/')
        && !["http", "https", "mailto"].contains(&scheme.to_ascii_lowercase().as_str())
    {
        return "#ZgotmplZ".into();
    }
    s.to_string()
}

/// Go's `urlNormalizer`: percent-encodes what may not appear in a URL (quotes and parentheses
/// included), keeps RFC 3986's reserved and unreserved characters and valid `%xx` escapes.
fn url_normalize(s: &str) -> String {
    percent(s, true)
}

/// Go's `urlEscaper`: percent-encodes all but the unreserved characters.
fn url_escape(s: &str) -> String {
    percent(s, false)
}

fn percent(s: &str, norm: bool) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        let keep = match c {
            b'!' | b'#' | b'$' | b'&' | b'*' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?'
            | b'@' | b'[' | b']' => norm,
            b'-' | b'.' | b'_' | b'~' => true,
            b'%' => {
                norm && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
            }
            c => c.is_ascii_alphanumeric(),
        };
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(html: &str, value: &str) -> String {
        let mut t = HtmlTracker::default();
        t.feed(html);
        t.escape(value, false)
    }

    #[test]
    fn comments_are_left_out_with_their_actions() {
        let mut t = HtmlTracker::default();
        assert_eq!(t.text("<p>a<!-- b"), "<p>a");
        assert_eq!(t.escape("secret", false), "");
        assert_eq!(t.text(" c --> d"), " d");
        assert_eq!(t.escape("<x>", false), "&lt;x&gt;");
    }

    #[test]
    fn each_value_is_escaped_for_where_it_lands() {
        assert_eq!(
            at("<p>", "a < b & \"c\" +1"),
            "a &lt; b &amp; &#34;c&#34; &#43;1"
        );
        assert_eq!(at("<a title=\"", "x\"y"), "x&#34;y");
        assert_eq!(at("<a title=", "x y"), "x&#32;y");
        assert_eq!(at("<a href=\"", "javascript:alert(1)"), "#ZgotmplZ");
        assert_eq!(
            at("<a href=\"", "https://x.example/a b?q=1&r"),
            "https://x.example/a%20b?q=1&amp;r"
        );
        assert_eq!(at("<a href=\"https://x/?q=", "a b&c"), "a%20b%26c");
        assert_eq!(
            at("<a href=\"x\">", "<b>"),
            "&lt;b&gt;",
            "back in text after the tag"
        );
        let mut t = HtmlTracker::default();
        t.feed("<p>");
        assert_eq!(t.escape("<b>safe</b>", true), "<b>safe</b>");
    }
}
