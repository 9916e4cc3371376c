//! The runbook index: exact mappings (alert name, error class), a tantivy BM25 index over each
//! runbook's title, symptoms and aliases, tags and text, the entities of the question
//! ([`super::query`]) as boosts, and, when an embeddings endpoint is configured, dense vectors
//! fused with the lexical ranking by reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR
//! 2009, k = 60).
//!
//! Ranking of one question, in order:
//! 1. the runbook the alert's labels map to exactly (`alertname`, then `error_class`);
//! 2. runbooks mapped to an alert the question names (`IteratorAgeHigh`);
//! 3. the rest by `bm25 / best_bm25 + boosts` ([`Boosts`]), fused with the dense ranking when
//!    there is one.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, STORED, STRING, Schema, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, TantivyDocument, doc};

use super::analysis::{self, ANALYZER};
use super::file::Runbook;
use super::query::{Understood, Vocabulary};
use crate::domain::Labels;

/// How a result matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    /// The alert name or error class of the labels, or an alert the question names, maps to
    /// the runbook.
    Exact,
    /// BM25 over the runbook's words, with the question's entities as boosts.
    Keyword,
    /// Only the embeddings found it.
    Semantic,
}

impl MatchReason {
    /// The label value of `syncwatch_runbook_lookups_total` and the JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchReason::Exact => "exact",
            MatchReason::Keyword => "keyword",
            MatchReason::Semantic => "semantic",
        }
    }
}

/// One ranked result. `score` is in `(0, 1]`: exact matches score 1, the others their fused
/// score scaled below 0.9.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LookupResult {
    pub id: String,
    pub title: String,
    pub score: f32,
    pub match_reason: MatchReason,
    pub snippet: String,
}

/// A question's ranked runbooks, what was understood of it, and how sure the ranking is.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub results: Vec<LookupResult>,
    pub understood: Understood,
    /// In `[0, 1]`: 0.9 or more when an alert maps to the first runbook; otherwise
    /// `0.6 × coverage + 0.25 × margin × coverage + 0.15 × agreement`, where coverage is the
    /// share of the question's terms the first runbook holds, margin how far its score is
    /// ahead of the second's (relative), and agreement 1 when a provider, error class, metric
    /// or alert hint of the question boosted it. 0 without results.
    pub confidence: f32,
}

/// What the question's entities add to a runbook's `bm25 / best_bm25` (in `[0, 1]`).
#[derive(Debug, Clone, Copy)]
pub struct Boosts;

impl Boosts {
    /// The runbook handles an error class the question names (a status, a phrase).
    pub const ERROR_CLASS: f32 = 0.4;
    /// The runbook is for the provider the question names, split among the providers it lists
    /// (a one-provider runbook gets it all).
    pub const PROVIDER: f32 = 0.3;
    /// The runbook is for the named provider alone and handles the error class named too, or
    /// names the HTTP status given: that provider's quirk (Tekion's 401 is its token expiry,
    /// CDK's 403 a pending subscription).
    pub const QUIRK: f32 = 0.6;
    /// The runbook lists providers and not the one the question names.
    pub const OTHER_PROVIDER: f32 = -0.6;
    /// The runbook is for one provider and the question names none: a quirk is less likely
    /// than the general problem.
    pub const UNNAMED_PROVIDER: f32 = -0.2;
    /// The runbook's text names a metric the question names.
    pub const METRIC: f32 = 0.3;
    /// The question's words begin or end the name of an alert that maps to the runbook.
    pub const ALERT_HINT: f32 = 0.6;
}

#[derive(Debug, thiserror::Error)]
#[error("runbook index: {0}")]
pub struct IndexError(#[from] tantivy::TantivyError);

/// Names the index should recognise beyond those in the runbooks: configured providers and
/// connections, the rule files' alert names.
#[derive(Debug, Clone, Default)]
pub struct KnownNames {
    pub providers: Vec<String>,
    /// `(connection, provider)`.
    pub connections: Vec<(String, String)>,
    pub alerts: Vec<String>,
}

/// Runbook vectors from an embeddings model, in the index's runbook order.
pub type Vectors = Arc<Vec<Vec<f32>>>;

pub struct RunbookIndex {
    runbooks: Vec<Runbook>,
    by_id: HashMap<String, usize>,
    /// Each runbook's terms, for coverage.
    terms: Vec<HashSet<String>>,
    vocabulary: Vocabulary,
    /// Set once the embeddings endpoint has answered for every runbook (a background task),
    /// read by every lookup: until then lookups are lexical.
    vectors: RwLock<Option<Vectors>>,
    index: Index,
    reader: IndexReader,
    f_pos: Field,
    f_title: Field,
    f_symptoms: Field,
    f_tags: Field,
    f_body: Field,
    f_body_words: Field,
}

impl std::fmt::Debug for RunbookIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunbookIndex")
            .field("runbooks", &self.runbooks.len())
            .finish()
    }
}

/// The words of a runbook's front matter that are not its title.
fn tags_text(rb: &Runbook) -> String {
    [
        rb.tags.join(" "),
        rb.alerts.join(" "),
        rb.providers.join(" "),
        rb.error_classes
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    ]
    .join(" ")
}

fn symptoms_text(rb: &Runbook) -> String {
    [rb.symptoms.join(" . "), rb.aliases.join(" . ")].join(" . ")
}

impl RunbookIndex {
    pub fn build(runbooks: Vec<Runbook>) -> Result<Self, IndexError> {
        Self::build_with(runbooks, &KnownNames::default())
    }

    /// Indexes `runbooks`, recognising `names` in questions besides the runbooks' own providers
    /// and alerts.
    pub fn build_with(runbooks: Vec<Runbook>, names: &KnownNames) -> Result<Self, IndexError> {
        let mut sb = Schema::builder();
        let f_pos = sb.add_text_field("pos", STRING | STORED);
        let f_title = sb.add_text_field("title", analysis::text_options(true));
        let f_symptoms = sb.add_text_field("symptoms", analysis::text_options(false));
        let f_tags = sb.add_text_field("tags", analysis::text_options(false));
        let f_body = sb.add_text_field("body", analysis::text_options(true));
        let f_body_words = sb.add_text_field("body_words", analysis::text_options(false));
        let index = Index::create_in_ram(sb.build());
        index.tokenizers().register(ANALYZER, analysis::analyzer());
        // One indexing thread with the smallest budget tantivy accepts: the corpus is small.
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
        let mut analyzer = analysis::analyzer();
        let mut terms = Vec::with_capacity(runbooks.len());
        let mut texts = Vec::with_capacity(runbooks.len());
        for (i, rb) in runbooks.iter().enumerate() {
            // The body is stored as written (snippets come from it); the words of CamelCase
            // names in it are indexed beside it.
            let (title, symptoms, tags, body) = (
                analysis::expand(&rb.title),
                analysis::expand(&symptoms_text(rb)),
                analysis::expand(&tags_text(rb)),
                rb.body.clone(),
            );
            let body_words = analysis::camel_words(&body);
            let all = [title.as_str(), &symptoms, &tags, &body, &body_words].join(" ");
            terms.push(analysis::terms(&mut analyzer, &all).into_iter().collect());
            texts.push(all);
            writer.add_document(doc!(
                f_pos => i.to_string(),
                f_title => title,
                f_symptoms => symptoms,
                f_tags => tags,
                f_body => body,
                f_body_words => body_words,
            ))?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        let by_id = runbooks
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let providers: Vec<&str> = names
            .providers
            .iter()
            .map(String::as_str)
            .chain(
                runbooks
                    .iter()
                    .flat_map(|r| r.providers.iter().map(String::as_str)),
            )
            .collect();
        let alerts: Vec<&str> = names
            .alerts
            .iter()
            .map(String::as_str)
            .chain(
                runbooks
                    .iter()
                    .flat_map(|r| r.alerts.iter().map(String::as_str)),
            )
            .collect();
        let vocabulary = Vocabulary::new(
            providers,
            names
                .connections
                .iter()
                .map(|(c, p)| (c.as_str(), p.as_str())),
            alerts,
            texts.iter().map(String::as_str),
        );
        Ok(Self {
            runbooks,
            by_id,
            terms,
            vocabulary,
            vectors: RwLock::new(None),
            index,
            reader,
            f_pos,
            f_title,
            f_symptoms,
            f_tags,
            f_body,
            f_body_words,
        })
    }

    pub fn runbooks(&self) -> &[Runbook] {
        &self.runbooks
    }

    pub fn get(&self, id: &str) -> Option<&Runbook> {
        self.by_id.get(id).map(|i| &self.runbooks[*i])
    }

    /// What questions are read against.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Sets the runbooks' vectors (one per runbook, in [`Self::runbooks`] order); from then on
    /// a lookup given a question's vector fuses both rankings.
    pub fn set_vectors(&self, vectors: Vectors) {
        if vectors.len() == self.runbooks.len() {
            *self.vectors.write().unwrap_or_else(|e| e.into_inner()) = Some(vectors);
        }
    }

    /// Whether runbook vectors are loaded.
    pub fn has_vectors(&self) -> bool {
        self.vectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// The runbook an alert maps to exactly: by alert name first, then by error class.
    pub fn exact(&self, labels: &Labels) -> Option<&Runbook> {
        let name = labels.value("alertname");
        let provider = labels.get("provider");
        let class = labels.get("error_class");
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
        Ok(self.search(query, labels, limit, None)?.results)
    }

    /// Ranked runbooks with what was understood of the question and the confidence; `vector`
    /// is the question's embedding (fused when runbook vectors are loaded).
    pub fn search(
        &self,
        query: &str,
        labels: &Labels,
        limit: usize,
        vector: Option<&[f32]>,
    ) -> Result<Ranked, IndexError> {
        let limit = limit.max(1);
        let mut understood = self.vocabulary.understand(query);
        // The labels' provider and connection count as named by the question.
        for (label, list) in [
            ("provider", &mut understood.providers),
            ("connection", &mut understood.connections),
        ] {
            if let Some(v) = labels.get(label).filter(|v| !v.is_empty())
                && !list.iter().any(|x| x == v)
            {
                list.push(v.to_string());
            }
        }
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
        // Without a question, the labels' values are the words.
        let text = if query.trim().is_empty() {
            labels.iter().map(|(_, v)| v).collect::<Vec<_>>().join(" ")
        } else {
            understood.topic_text.clone()
        };
        let text = analysis::expand(&sanitize(&text));
        let mut analyzer = analysis::analyzer();
        let query_terms = analysis::terms(&mut analyzer, &text);

        // Lexical candidates with their BM25, then every runbook they or an entity point at.
        let searcher = self.reader.searcher();
        let Lexical {
            query: q,
            bm25,
            docs,
        } = self.lexical(&searcher, &text, !query_terms.is_empty())?;
        let best = bm25.values().cloned().fold(f32::EPSILON, f32::max);
        let mut scored: Vec<Scored> = self
            .runbooks
            .iter()
            .enumerate()
            .filter_map(|(pos, rb)| {
                let lex = bm25.get(&pos).map_or(0.0, |s| s / best);
                let e = entity_score(rb, &understood);
                (lex > 0.0 || e.alert || e.boost > 0.0).then_some(Scored {
                    pos,
                    score: lex + e.boost,
                    alert: e.alert,
                    agreed: e.agreed,
                })
            })
            .collect();
        // Alert mappings first, then by score; ties by file order.
        scored.sort_by(|a, b| {
            b.alert
                .cmp(&a.alert)
                .then(b.score.total_cmp(&a.score))
                .then(a.pos.cmp(&b.pos))
        });
        let vectors = self
            .vectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let order = match (vector, vectors) {
            (Some(v), Some(vectors)) => fused_order(&scored, v, &vectors),
            _ => lexical_order(&scored),
        };
        let confidence = match (results.first(), order.first()) {
            (Some(_), _) => 1.0,
            (None, None) => 0.0,
            (None, Some((_, _, MatchReason::Exact))) => 0.9,
            (None, Some((pos, _, _))) => confidence(&query_terms, &self.terms[*pos], &scored, *pos),
        };

        let snippets = if docs.is_empty() {
            None
        } else {
            SnippetGenerator::create(&searcher, &*q, self.f_body).ok()
        };
        for (pos, score, reason) in order {
            if results.len() >= limit {
                break;
            }
            let rb = &self.runbooks[pos];
            if results.iter().any(|r| r.id == rb.id) {
                continue;
            }
            let fragment = match (&snippets, docs.get(&pos)) {
                (Some(g), Some(d)) => g.snippet_from_doc(d).fragment().to_string(),
                _ => String::new(),
            };
            results.push(LookupResult {
                id: rb.id.clone(),
                title: rb.title.clone(),
                score,
                match_reason: reason,
                snippet: if fragment.is_empty() {
                    first_line(rb.section("Symptoms").unwrap_or(&rb.body))
                } else {
                    fragment.split_whitespace().collect::<Vec<_>>().join(" ")
                },
            });
        }
        Ok(Ranked {
            results,
            understood,
            confidence,
        })
    }

    /// BM25 over the index for `text` (nothing when `any` is false), the first 50 hits.
    fn lexical(
        &self,
        searcher: &tantivy::Searcher,
        text: &str,
        any: bool,
    ) -> Result<Lexical, IndexError> {
        let mut parser = QueryParser::for_index(
            &self.index,
            vec![
                self.f_title,
                self.f_symptoms,
                self.f_tags,
                self.f_body,
                self.f_body_words,
            ],
        );
        parser.set_field_boost(self.f_title, 2.0);
        parser.set_field_boost(self.f_symptoms, 2.0);
        parser.set_field_boost(self.f_tags, 1.5);
        let (q, _ignored) = parser.parse_query_lenient(text);
        let mut bm25 = HashMap::new();
        let mut docs = HashMap::new();
        if any {
            for (score, addr) in searcher.search(&q, &TopDocs::with_limit(50).order_by_score())? {
                let d: TantivyDocument = searcher.doc(addr)?;
                if let Some(pos) = d
                    .get_first(self.f_pos)
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|p| *p < self.runbooks.len())
                {
                    bm25.insert(pos, score);
                    docs.insert(pos, d);
                }
            }
        }
        Ok(Lexical {
            query: q,
            bm25,
            docs,
        })
    }

    /// The text of a runbook that its vector is computed from: title, symptoms, aliases and
    /// the Symptoms section (what a question describes).
    pub fn embedding_text(rb: &Runbook) -> String {
        format!(
            "{}\n{}\n{}",
            rb.title,
            symptoms_text(rb),
            rb.section("Symptoms").unwrap_or_default()
        )
    }
}

/// The lexical side of a search: the parsed query (for snippets), each hit's BM25 and
/// document, by runbook position.
struct Lexical {
    query: Box<dyn tantivy::query::Query>,
    bm25: HashMap<usize, f32>,
    docs: HashMap<usize, TantivyDocument>,
}

/// A runbook the lexical search or an entity of the question points at.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored {
    pos: usize,
    /// `bm25 / best_bm25` plus the entity boosts.
    score: f32,
    /// An alert the question names maps to it.
    alert: bool,
    /// A provider, error class or metric of the question boosted it.
    agreed: bool,
}

/// What the question's entities say of one runbook.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntityScore {
    /// An alert the question names maps to the runbook.
    pub alert: bool,
    /// The sum of [`Boosts`] that apply.
    pub boost: f32,
    /// A boost was positive (the question and the runbook agree on something).
    pub agreed: bool,
}

/// The [`Boosts`] the entities of `u` give `rb`.
pub fn entity_score(rb: &Runbook, u: &Understood) -> EntityScore {
    let mut e = EntityScore {
        alert: u.alerts.iter().any(|a| rb.alerts.contains(a)),
        boost: 0.0,
        agreed: false,
    };
    let class = u.error_classes.iter().any(|c| rb.error_classes.contains(c));
    if class {
        e.boost += Boosts::ERROR_CLASS;
        e.agreed = true;
    }
    if !u.providers.is_empty() && !rb.providers.is_empty() {
        if rb.providers.iter().any(|p| u.providers.contains(p)) {
            e.boost += Boosts::PROVIDER / rb.providers.len() as f32;
            let status = u.statuses.iter().any(|s| names_number(&rb.body, *s));
            if (class || status) && rb.providers.len() == 1 {
                e.boost += Boosts::QUIRK;
            }
            e.agreed = true;
        } else {
            e.boost += Boosts::OTHER_PROVIDER;
        }
    }
    if u.providers.is_empty() && rb.providers.len() == 1 {
        e.boost += Boosts::UNNAMED_PROVIDER;
    }
    if u.metrics.iter().any(|m| rb.body.contains(m.as_str())) {
        e.boost += Boosts::METRIC;
        e.agreed = true;
    }
    if u.alert_hints.iter().any(|a| rb.alerts.contains(a)) {
        e.boost += Boosts::ALERT_HINT;
        e.agreed = true;
    }
    e
}

/// `(pos, score, reason)` best first: alert mappings (score 1), then the rest scaled under 0.9.
fn lexical_order(scored: &[Scored]) -> Vec<(usize, f32, MatchReason)> {
    let pinned = scored.iter().take_while(|s| s.alert).count();
    let top = scored
        .get(pinned)
        .map_or(1.0, |s| s.score)
        .max(f32::EPSILON);
    scored
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i < pinned {
                (s.pos, 1.0, MatchReason::Exact)
            } else {
                let score = (0.9 * s.score / top).clamp(f32::EPSILON, 0.9);
                (s.pos, score, MatchReason::Keyword)
            }
        })
        .collect()
}

/// As [`lexical_order`], with the ranking after the alert mappings fused by reciprocal rank
/// with the runbooks nearest to the question's vector (the first 50).
fn fused_order(
    scored: &[Scored],
    v: &[f32],
    vectors: &[Vec<f32>],
) -> Vec<(usize, f32, MatchReason)> {
    let pinned = scored.iter().take_while(|s| s.alert).count();
    let mut order: Vec<(usize, f32, MatchReason)> = scored[..pinned]
        .iter()
        .map(|s| (s.pos, 1.0, MatchReason::Exact))
        .collect();
    let lexical: Vec<usize> = scored[pinned..].iter().map(|s| s.pos).collect();
    let mut dense: Vec<(usize, f32)> = vectors
        .iter()
        .enumerate()
        .filter(|(p, _)| !scored[..pinned].iter().any(|s| s.pos == *p))
        .map(|(p, rv)| (p, cosine(v, rv)))
        .collect();
    dense.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    dense.truncate(50);
    let dense: Vec<usize> = dense.into_iter().map(|(p, _)| p).collect();
    let fused = reciprocal_rank_fusion(&[&lexical, &dense]);
    let top = fused.first().map_or(1.0, |f| f.1);
    for (p, s) in fused {
        let reason = if lexical.contains(&p) {
            MatchReason::Keyword
        } else {
            MatchReason::Semantic
        };
        order.push((p, 0.9 * s / top, reason));
    }
    order
}

/// [`Ranked::confidence`] of a first runbook at `pos` that no alert maps to.
fn confidence(
    query_terms: &[String],
    first_terms: &HashSet<String>,
    scored: &[Scored],
    pos: usize,
) -> f32 {
    let coverage = if query_terms.is_empty() {
        0.0
    } else {
        query_terms
            .iter()
            .filter(|t| first_terms.contains(*t))
            .count() as f32
            / query_terms.len() as f32
    };
    let first = scored.iter().find(|s| s.pos == pos);
    let second = scored.iter().find(|s| s.pos != pos && !s.alert);
    let margin = match (first, second) {
        (Some(f), Some(s)) if f.score > 0.0 => ((f.score - s.score) / f.score).clamp(0.0, 1.0),
        (Some(_), None) => 1.0,
        _ => 0.0,
    };
    let agreed = first.is_some_and(|f| f.agreed);
    // A lead over the others counts as far as the question's words are met: one word of
    // three matching one runbook alone is not a confident answer.
    (0.6 * coverage + 0.25 * margin * coverage + if agreed { 0.15 } else { 0.0 }).clamp(0.0, 1.0)
}

/// Whether `text` holds `n` as a number of its own (`401`, not `14015`).
fn names_number(text: &str, n: u16) -> bool {
    let n = n.to_string();
    text.match_indices(&n).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + n.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// Among candidates, the most specific runbook that names the provider; without one, the
/// first that is not for one provider only, else the first.
fn prefer_provider<'r>(rbs: Vec<&'r Runbook>, provider: Option<&str>) -> Option<&'r Runbook> {
    rbs.iter()
        .filter(|r| provider.is_some_and(|p| r.providers.iter().any(|x| x == p)))
        .min_by_key(|r| r.providers.len())
        .or_else(|| rbs.iter().find(|r| r.providers.len() != 1))
        .or_else(|| rbs.first())
        .copied()
}

/// Reciprocal rank fusion with k = 60: each list adds `1 / (60 + rank)` (rank from 1) to its
/// items; the items by fused score, best first, ties in first-seen order.
pub fn reciprocal_rank_fusion(lists: &[&[usize]]) -> Vec<(usize, f32)> {
    const K: f32 = 60.0;
    let mut scores: Vec<(usize, f32)> = Vec::new();
    for list in lists {
        for (rank, item) in list.iter().enumerate() {
            let add = 1.0 / (K + rank as f32 + 1.0);
            match scores.iter_mut().find(|(i, _)| i == item) {
                Some(s) => s.1 += add,
                None => scores.push((*item, add)),
            }
        }
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores
}

/// Cosine similarity; 0 for a zero vector or vectors of different lengths.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// Keeps words only, so user text can never be query syntax (`AND`, `field:`, quotes).
pub fn sanitize(text: &str) -> String {
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
            rb(
                "lag",
                "StageIteratorAgeHigh",
                "",
                "The oldest record waits; syncwatch_stage_iterator_age_seconds grows.",
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
        // Without a provider, the general runbook, not the one-provider one.
        let none: Labels = [("alertname", "ProviderAuthFailing")].into_iter().collect();
        assert_eq!(index.exact(&none).unwrap().id, "generic");
        // In a question too: the provider's own runbook first.
        let r = index
            .lookup("tekion credentials rejected", &Labels::new(), 5)
            .unwrap();
        assert_eq!(r[0].id, "tekion-only");
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

    #[test]
    fn a_partial_alert_name_a_status_or_a_metric_finds_its_runbook() {
        let i = index();
        let first = |q: &str| i.lookup(q, &Labels::new(), 5).unwrap()[0].clone();
        let r = first("IteratorAgeHigh pipeline dms stage export");
        assert_eq!((r.id.as_str(), r.match_reason), ("lag", MatchReason::Exact));
        // 403 is an auth status although the runbook only says 401.
        assert_eq!(
            first("the provider answers 403 since this morning").id,
            "auth"
        );
        assert_eq!(
            first("syncwatch_stage_iterator_age_seconds is 900").id,
            "lag"
        );
        // A typo is corrected from the runbooks' words.
        assert_eq!(first("malfromed recrods").id, "schema");
    }

    #[test]
    fn confidence_is_high_for_an_alert_low_for_nonsense_and_zero_without_results() {
        let i = index();
        let c = |q: &str| i.search(q, &Labels::new(), 5, None).unwrap().confidence;
        assert!(c("StageIteratorAgeHigh") >= 0.9);
        assert!(c("records land in the dead letter queue") > 0.5);
        assert!(c("records and weather forecast for the barbecue") < 0.4);
        // One word of three, matching one runbook alone, is not confident.
        assert!(c("lunch menu records") < 0.3);
        assert_eq!(c("zzzz qqqq"), 0.0);
    }

    #[test]
    fn a_status_is_named_as_a_number_of_its_own() {
        assert!(names_number("answers 401 Unauthorized", 401));
        assert!(names_number("(401)", 401));
        assert!(!names_number("id 14015", 401));
        assert!(!names_number("4011", 401));
    }

    #[test]
    fn entities_boost_their_runbooks_and_penalise_other_providers() {
        let mut tekion = rb("tekion-auth", "ProviderAuthFailing", "auth", "x");
        tekion.providers = vec!["tekion".into()];
        let u = Vocabulary::new(["tekion", "cdk"], [], ["ProviderAuthFailing"], [])
            .understand("cdk answers 401 on ProviderAuthFailing");
        let e = entity_score(&tekion, &u);
        assert!(e.alert);
        // auth (+0.4) and another provider's runbook (-0.6).
        assert!((e.boost - (Boosts::ERROR_CLASS + Boosts::OTHER_PROVIDER)).abs() < 1e-6);
        assert!(e.agreed);
        let u =
            Vocabulary::new(["tekion"], [], [], []).understand("tekion syncwatch_sync_runs_total");
        let mut both = rb("m", "", "", "see syncwatch_sync_runs_total");
        both.providers = vec!["tekion".into(), "cdk".into()];
        let e = entity_score(&both, &u);
        assert!((e.boost - (Boosts::PROVIDER / 2.0 + Boosts::METRIC)).abs() < 1e-6);
        assert!(!e.alert);
    }

    #[test]
    fn dense_vectors_are_fused_by_reciprocal_rank() {
        let i = index();
        // Only the dense side knows "schema" answers this.
        i.set_vectors(Arc::new(vec![
            vec![0.0, 1.0],
            vec![0.0, 1.0],
            vec![1.0, 0.0],
            vec![0.0, 1.0],
        ]));
        let r = i
            .search("the weather", &Labels::new(), 5, Some(&[1.0, 0.0]))
            .unwrap();
        assert_eq!(r.results[0].id, "schema");
        assert_eq!(r.results[0].match_reason, MatchReason::Semantic);
        assert_eq!(
            reciprocal_rank_fusion(&[&[1, 2], &[2, 3]]),
            vec![
                (2, 1.0 / 62.0 + 1.0 / 61.0),
                (1, 1.0 / 61.0),
                (3, 1.0 / 62.0)
            ]
        );
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
    }
}
