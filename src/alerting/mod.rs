//! Routing: `alerting.yml` (Alertmanager format), the route tree, aggregation groups with their
//! timers, and the `DispatchActor` that turns alert transitions into notifications and tickets.

pub mod actor;
pub mod config;
pub mod group;
pub mod route;

pub use actor::{DispatchActor, RestoreFiring, build_receivers};
pub use config::AlertingConfig;
