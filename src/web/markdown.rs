//! Markdown to HTML that is safe to embed: CommonMark with tables (pulldown-cmark), then
//! sanitised by ammonia's allow-list (no script, no event handlers, no `javascript:` links;
//! links get `rel="noopener noreferrer"`).

use pulldown_cmark::{Options, Parser, html};

/// The HTML of `markdown`, sanitised.
pub fn to_safe_html(markdown: &str) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    );
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, parser);
    ammonia::clean(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_script_does_not() {
        let html = to_safe_html(
            "## Fix\n1. Run `syncwatch check`.\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)> [ok](https://example.com)",
        );
        assert!(html.contains("<h2>Fix</h2>"), "{html}");
        assert!(html.contains("<code>syncwatch check</code>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
    }
}
