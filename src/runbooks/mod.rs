//! Runbooks and the runbook assistant (tier 0 of support): markdown files with YAML front
//! matter and resolved tickets, indexed with tantivy; a question is understood (providers,
//! connections, statuses, alerts, metrics), ranked (exact mappings, BM25 with entity boosts,
//! optional embeddings fused by reciprocal rank), and answered in cited steps, by an optional
//! OpenAI-compatible model or extracted from the best runbook.
//!
//! - [`file`]: loading and validating `runbooks/**/*.md`.
//! - [`query`]: understanding a question (pure).
//! - [`analysis`]: how text becomes search terms (shared by both indexes).
//! - [`index`]: the runbook index and its ranking.
//! - [`past_tickets`]: resolved tickets as knowledge.
//! - [`answer`]: passages, the model's prompt, checking its citations, the extractive answer
//!   (pure).
//! - [`assistant`]: answering a question, escalating one that was not resolved.
//! - [`eval`]: recall, MRR and nDCG of the ranking over a question set.
//! - [`openai`]: the OpenAI-compatible `/v1/embeddings` and `/v1/chat/completions` clients.
//! - [`actor`]: `RunbookSearcher`, running lookups on a `SyncArbiter` (searches block), and
//!   the tasks that keep the ticket index and the runbook vectors up to date.

pub mod actor;
pub mod analysis;
pub mod answer;
pub mod assistant;
pub mod eval;
pub mod file;
pub mod index;
pub mod openai;
pub mod past_tickets;
pub mod query;

pub use actor::{Lookup, RunbookSearcher};
pub use file::{Runbook, load_runbooks};
pub use index::{LookupResult, MatchReason, RunbookIndex};
