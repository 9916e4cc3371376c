//! The runbook index: exact mappings (alert name, error class) and a tantivy BM25 index over
//! title, tags and text.

use std::collections::HashMap;

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, STORED, STRING, Schema, TEXT, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, TantivyDocument, doc};

use super::file::Runbook;
use crate::domain::Labels;

/// How a result matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    /// The alert name or error class maps to the runbook.
    Exact,
    /// BM25 over the runbook's words.
    Keyword,
}

impl MatchReason {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchReason::Exact => "exact",
            MatchReason::Keyword => "keyword",
        }
    }
}

/// One ranked result. `score` is in `(0, 1]`: exact matches score 1, keyword matches are BM25
/// scaled below that.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LookupResult {
    pub id: String,
    pub title: String,
    pub score: f32,
    pub match_reason: MatchReason,
    pub snippet: String,
}

#[derive(Debug, thiserror::Error)]
#[error("runbook index: {0}")]
pub struct IndexError(#[from] tantivy::TantivyError);

pub struct RunbookIndex {
    runbooks: Vec<Runbook>,
    by_id: HashMap<String, usize>,
    index: Index,
    reader: IndexReader,
    f_pos: Field,
    f_title: Field,
    f_body: Field,
    f_tags: Field,
}

impl std::fmt::Debug for RunbookIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunbookIndex")
            .field("runbooks", &self.runbooks.len())
            .finish()
    }
}

impl RunbookIndex {
    pub fn build(runbooks: Vec<Runbook>) -> Result<Self, IndexError> {
        let mut sb = Schema::builder();
        let f_pos = sb.add_text_field("pos", STRING | STORED);
        let f_title = sb.add_text_field("title", TEXT | STORED);
        let f_body = sb.add_text_field("body", TEXT | STORED);
        let f_tags = sb.add_text_field("tags", TEXT);
        let index = Index::create_in_ram(sb.build());
        // One indexing thread with the smallest budget tantivy accepts: the corpus is small.
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
        for (i, rb) in runbooks.iter().enumerate() {
            let tags = [
                rb.tags.join(" "),
                rb.alerts.join(" "),
                rb.providers.join(" "),
            ]
            .join(" ");
            writer.add_document(doc!(
                f_pos => i.to_string(),
                f_title => rb.title.clone(),
                f_body => rb.body.clone(),
                f_tags => tags,
            ))?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        let by_id = runbooks
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Ok(Self {
            runbooks,
            by_id,
            index,
            reader,
            f_pos,
            f_title,
            f_body,
            f_tags,
        })
    }

    pub fn runbooks(&self) -> &[Runbook] {
        &self.runbooks
    }

    pub fn get(&self, id: &str) -> Option<&Runbook> {
        self.by_id.get(id).map(|i| &self.runbooks[*i])
    }

    /// The runbook an alert maps to exactly: by alert name first, then by error class.
    pub fn exact(&self, labels: &Labels) -> Option<&Runbook> {
        let name = labels.value("alertname");
        let provider = labels.get("provider");
        let class = labels.get("error_class");
        /// Among candidates, the most specific runbook that names the provider, else the first.
        fn prefer_provider<'r>(
            rbs: Vec<&'r Runbook>,
            provider: Option<&str>,
        ) -> Option<&'r Runbook> {
            rbs.iter()
                .filter(|r| provider.is_some_and(|p| r.providers.iter().any(|x| x == p)))
                .min_by_key(|r| r.providers.len())
                .or_else(|| rbs.first())
                .copied()
        }
        let by_alert: Vec<&Runbook> = self
            .runbooks
            .iter()
            .filter(|r| !name.is_empty() && r.alerts.iter().any(|a| a == name))
            .collect();
        prefer_provider(by_alert, provider).or_else(|| {
            let by_class: Vec<&Runbook> = self
                .runbooks
                .iter()
                .filter(|r| class.is_some_and(|c| r.error_classes.iter().any(|e| e.as_str() == c)))
                .collect();
            prefer_provider(by_class, provider)
        })
    }

    /// Ranked runbooks for a free-text query and/or an alert's labels.
    pub fn lookup(
        &self,
        query: &str,
        labels: &Labels,
        limit: usize,
    ) -> Result<Vec<LookupResult>, IndexError> {
        let mut results: Vec<LookupResult> = Vec::new();
        if let Some(rb) = self.exact(labels) {
            results.push(LookupResult {
                id: rb.id.clone(),
                title: rb.title.clone(),
                score: 1.0,
                match_reason: MatchReason::Exact,
                snippet: first_line(rb.section("Symptoms").unwrap_or(&rb.body)),
            });
        }
        // Exact words from the query, or, without a query, from the labels.
        let mut text = query.to_string();
        if text.trim().is_empty() {
            text = labels.iter().map(|(_, v)| v).collect::<Vec<_>>().join(" ");
        }
        let text = sanitize(&text);
        if !text.trim().is_empty() {
            let searcher = self.reader.searcher();
            let parser =
                QueryParser::for_index(&self.index, vec![self.f_title, self.f_body, self.f_tags]);
            let (q, _ignored) = parser.parse_query_lenient(&text);
            let top =
                searcher.search(&q, &TopDocs::with_limit(limit.max(1) + 1).order_by_score())?;
            let best = top
                .first()
                .map(|(s, _)| *s)
                .unwrap_or(1.0)
                .max(f32::EPSILON);
            let snippets = SnippetGenerator::create(&searcher, &*q, self.f_body)?;
            for (score, addr) in top {
                let d: TantivyDocument = searcher.doc(addr)?;
                let Some(pos) = d
                    .get_first(self.f_pos)
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse::<usize>().ok())
                else {
                    continue;
                };
                let rb = &self.runbooks[pos];
                if results.iter().any(|r| r.id == rb.id) {
                    continue;
                }
                let snippet = snippets.snippet_from_doc(&d);
                results.push(LookupResult {
                    id: rb.id.clone(),
                    title: rb.title.clone(),
                    score: 0.9 * score / best,
                    match_reason: MatchReason::Keyword,
                    snippet: if snippet.fragment().is_empty() {
                        first_line(rb.section("Symptoms").unwrap_or(&rb.body))
                    } else {
                        snippet
                            .fragment()
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                    },
                });
            }
        }
        results.truncate(limit);
        Ok(results)
    }
}

/// Keeps words only, so user text can never be query syntax (`AND`, `field:`, quotes).
fn sanitize(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !matches!(*w, "AND" | "OR" | "NOT"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbooks::file::parse_runbook;
    use std::path::Path;

    fn rb(id: &str, alerts: &str, classes: &str, body: &str) -> Runbook {
        let text = format!(
            "---\nid: {id}\ntitle: {id} title\nalerts: [{alerts}]\nerror_classes: [{classes}]\n---\n## Symptoms\n{body}\n## Diagnosis\nx\n## Fix\ny\n## Escalate when\nz\n"
        );
        parse_runbook(Path::new("x.md"), &text).unwrap()
    }

    fn index() -> RunbookIndex {
        RunbookIndex::build(vec![
            rb(
                "auth",
                "ProviderAuthFailing",
                "auth",
                "The provider answers 401 unauthorized; the token expired.",
            ),
            rb(
                "rate",
                "ProviderRateLimited",
                "rate_limited",
                "HTTP 429 Too Many Requests with Retry-After.",
            ),
            rb(
                "schema",
                "",
                "schema",
                "Malformed records fail validation and land in the dead letter queue.",
            ),
        ])
        .unwrap()
    }

    #[test]
    fn alert_name_maps_exactly() {
        let labels: Labels = [("alertname", "ProviderAuthFailing")].into_iter().collect();
        let r = index().lookup("", &labels, 5).unwrap();
        assert_eq!(r[0].id, "auth");
        assert_eq!(r[0].match_reason, MatchReason::Exact);
        assert_eq!(r[0].score, 1.0);
    }

    #[test]
    fn the_most_specific_runbook_for_the_provider_wins() {
        let mut generic = rb("generic", "ProviderAuthFailing", "auth", "Any provider.");
        generic.providers = vec!["tekion".into(), "cdk".into()];
        let mut specific = rb(
            "tekion-only",
            "ProviderAuthFailing",
            "auth",
            "Tekion tokens.",
        );
        specific.providers = vec!["tekion".into()];
        let index = RunbookIndex::build(vec![generic, specific]).unwrap();
        let tekion: Labels = [("alertname", "ProviderAuthFailing"), ("provider", "tekion")]
            .into_iter()
            .collect();
        assert_eq!(index.exact(&tekion).unwrap().id, "tekion-only");
        let cdk: Labels = [("alertname", "ProviderAuthFailing"), ("provider", "cdk")]
            .into_iter()
            .collect();
        assert_eq!(index.exact(&cdk).unwrap().id, "generic");
    }

    #[test]
    fn error_class_maps_when_no_alert_does() {
        let labels: Labels = [("alertname", "Unknown"), ("error_class", "schema")]
            .into_iter()
            .collect();
        assert_eq!(
            index().exact(&labels).map(|r| r.id.as_str()),
            Some("schema")
        );
    }

    #[test]
    fn free_text_ranks_by_keywords() {
        let r = index()
            .lookup("records land in the dead letter queue", &Labels::new(), 5)
            .unwrap();
        assert_eq!(r[0].id, "schema");
        assert_eq!(r[0].match_reason, MatchReason::Keyword);
        assert!(r[0].score <= 0.9 && r[0].score > 0.0);
        assert!(r[0].snippet.contains("dead"), "{:?}", r[0].snippet);
    }

    #[test]
    fn query_syntax_in_user_text_is_harmless() {
        let r = index()
            .lookup("title:\"429 AND (Retry-After", &Labels::new(), 5)
            .unwrap();
        assert_eq!(r[0].id, "rate");
    }
}
