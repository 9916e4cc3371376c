//! Providers: profiles (`providers/*.toml`), the HTTP connector, failure classification, and the
//! `ProviderActor` that runs each connection's syncs on its schedule.

pub mod actor;
pub mod classify;
pub mod connector;
pub mod profile;

pub use actor::{ConnectionStatus, GetStatus, ProviderActor, SyncError, SyncNow};
pub use profile::{Profile, load_profile};
