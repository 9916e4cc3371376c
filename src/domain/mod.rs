//! Pure domain types and logic shared by every part of syncwatch.
//!
//! Nothing in here does I/O or knows about actix, reqwest, sqlx or tokio: values are parsed once at
//! the edge (config, HTTP, rule files) into these types, and the decisions that matter (ticket
//! transitions, retry delays, label matching) are plain functions with unit tests beside them.

pub mod alert;
pub mod backoff;
pub mod clock;
pub mod duration;
pub mod error_class;
pub mod labels;
pub mod matcher;
pub mod pairs;
pub mod secret;
pub mod severity;
pub mod silence;
pub mod ticket;
pub mod ticket_stats;

pub use alert::{Alert, AlertState, Annotations};
pub use clock::{Clock, ManualClock, SystemClock};
pub use duration::{format_duration, parse_duration};
pub use error_class::ErrorClass;
pub use labels::{Fingerprint, Labels};
pub use matcher::{MatchOp, Matcher};
pub use secret::Secret;
pub use severity::Severity;

/// `s` cut to at most `max` characters, the last one `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
    }
}
