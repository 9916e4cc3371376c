//! Providers: profiles (`providers/*.toml`), the HTTP connector, failure classification, and the
//! `ProviderActor` that runs each connection's syncs on its schedule.

pub mod actor;
pub mod auth;
pub mod breaker;
pub mod classify;
pub mod connector;
pub mod pagination;
pub mod profile;
pub mod schedule;

pub use actor::{
    ConnectionStatus, GetStatus, ProviderActor, ProviderStatus, SetPaused, SyncError, SyncNow,
};
pub use profile::{Profile, load_profile};
