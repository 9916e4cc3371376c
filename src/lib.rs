//! syncwatch: runs the syncs of data integrations, watches them and the pipeline stages behind
//! them, and acts when they go wrong.
//!
//! Map of the crate (data flows top to bottom):
//! - [`config`]: `syncwatch.toml` parsed into validated types; every problem as `file:line: message`.
//! - [`simulator`]: the DMS provider simulator with fault injection (embedded by `serve`).
//! - [`providers`]: provider profiles, the HTTP connector and the `ProviderActor` that runs syncs.
//! - [`pipeline`]: stage functions, the `StageActor` chain they run in, dead-letter replay.
//! - [`telemetry`]: tracing, metric names, and the fan-out recorder feeding `/metrics` and rules.
//! - [`rules`]: Prometheus rule files, the PromQL evaluator, the series store, the `RulesActor`.
//! - [`alerting`]: `alerting.yml` (Alertmanager format), the route tree, groups, `DispatchActor`.
//! - [`gotemplate`]: Go's `text/template` with Alertmanager's data and functions (notification
//!   and rule templates).
//! - [`notify`]: the `Notifier` trait and its Slack, email, console and `.eml` implementations.
//! - [`tickets`]: the `TicketActor` that opens, counts and resolves tickets.
//! - [`runbooks`]: runbook files, the tantivy index and lookups, resolved tickets as knowledge,
//!   and the L0 assistant (cited answers, optional embeddings and model, escalation).
//! - [`store`]: the database (SQLite by default) and its migrations.
//! - [`api`]: the HTTP API.
//! - [`web`]: the built-in pages (server-rendered HTML, no script, SVG charts), sign-in
//!   sessions and the forms' CSRF protection.
//! - [`startup`]: wires all of the above into a running application.
//! - [`domain`]: pure types and decisions shared by all of the above.
#![forbid(unsafe_code)]

pub mod alerting;
pub mod api;
pub mod config;
pub mod domain;
pub mod drain;
pub mod gotemplate;
pub mod notify;
pub mod pipeline;
pub mod providers;
pub mod rules;
pub mod runbooks;
pub mod simulator;
pub mod slo;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tickets;
pub mod web;
