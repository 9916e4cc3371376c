//! Runbooks: markdown files with YAML front matter, indexed with tantivy, looked up by alert
//! name or error class (`exact`) or by BM25 over their text (`keyword`).
//!
//! - [`file`]: loading and validating `runbooks/**/*.md`.
//! - [`index`]: the in-memory index and the lookup logic.
//! - [`actor`]: `RunbookSearcher`, running lookups on a `SyncArbiter` (searches block).

pub mod actor;
pub mod file;
pub mod index;

pub use actor::{Lookup, RunbookSearcher};
pub use file::{Runbook, load_runbooks};
pub use index::{LookupResult, MatchReason, RunbookIndex};
