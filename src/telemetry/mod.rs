//! Logs and metrics.
//!
//! - [`init_tracing`]: the tracing subscriber (readable in a terminal, JSON otherwise).
//! - [`names`]: every metric name and its help text: the only place a name is spelled.
//! - [`registry`]: the fan-out recorder. Each application owns one; whatever is recorded through
//!   it shows on `/metrics` and, as the same values, in the live store the rules evaluate.
//! - [`Metrics`]: typed recording helpers used by the actors, with label values from closed enums.

pub mod names;
pub mod registry;

pub mod recording;

pub use recording::Metrics;
pub use registry::{LiveStore, MetricsRegistry, Sample};

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber. `RUST_LOG` overrides the default `info` level.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,tantivy=warn,hyper=warn,reqwest=warn,actix_server=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Errors here mean a subscriber is installed already (tests); keeping that one is right.
    if std::io::stderr().is_terminal() {
        let _ = builder.try_init();
    } else {
        let _ = builder.json().try_init();
    }
}
