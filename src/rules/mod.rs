//! Prometheus-style alerting and recording rules, evaluated in-process.
//!
//! - [`file`]: rule files (Prometheus format) loaded and validated with `file:line` problems.
//! - [`eval`]: the PromQL evaluator over the series store.
//! - [`series`]: the in-memory series store, fed from the live metric values.
//! - [`template`]: annotation templates (`{{ $labels.x }}`, `{{ $value | humanize }}`).
//! - [`state`]: one group evaluation: recording outputs and the alert state machine.
//! - [`actor`]: the `RulesActor`, evaluating on change (coalesced) and on a tick.
//! - [`reload`]: hot reload on file change and SIGHUP.
//! - [`unittest`]: `syncwatch rules test`, in the `promtool test rules` format.

pub mod actor;
pub mod eval;
pub mod file;
mod go_math;
pub mod reload;
pub mod series;
pub mod state;
pub mod template;
pub mod unittest;

pub use actor::{AlertTransitions, GetAlerts, ReloadRules, RulesActor, RulesOptions, RulesStatus};
pub use file::{RuleGroup, load_rule_files};
