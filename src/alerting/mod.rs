//! Routing: `alerting.yml` (Alertmanager format), the route tree, aggregation groups with their
//! timers, inhibition, and the `DispatchActor` that turns alert transitions into notifications
//! and tickets.

pub mod actor;
pub mod backlog;
pub mod config;
pub mod external;
pub mod group;
pub mod inhibit;
pub mod reload;
pub mod route;
pub mod time_interval;

pub use actor::{
    DispatchActor, HeldAlert, ListAlerts, NOTIFICATION_LOG_RETENTION, PostAlerts, ReloadAlerting,
    RestoreFiring,
};
pub use config::AlertingConfig;

/// The silences, shared by the API (which changes them) and the dispatcher (which mutes by them).
pub type Silences = std::sync::Arc<std::sync::RwLock<Vec<crate::domain::silence::Silence>>>;
