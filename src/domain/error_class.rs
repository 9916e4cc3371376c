//! The closed set of failure classes. Used as a metric label value, so it must stay small.

use serde::{Deserialize, Serialize};

/// What kind of failure a sync or stage hit: tells "our bug, provider bug, config issue or limit"
/// apart at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Auth,
    RateLimited,
    Timeout,
    Server,
    Client,
    Network,
    Schema,
    Config,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 8] = [
        ErrorClass::Auth,
        ErrorClass::RateLimited,
        ErrorClass::Timeout,
        ErrorClass::Server,
        ErrorClass::Client,
        ErrorClass::Network,
        ErrorClass::Schema,
        ErrorClass::Config,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Auth => "auth",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Server => "server",
            ErrorClass::Client => "client",
            ErrorClass::Network => "network",
            ErrorClass::Schema => "schema",
            ErrorClass::Config => "config",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The class of an HTTP status that is not a success.
    pub fn from_status(status: u16) -> Self {
        match status {
            401 | 403 => ErrorClass::Auth,
            429 => ErrorClass::RateLimited,
            408 | 504 => ErrorClass::Timeout,
            500..=599 => ErrorClass::Server,
            _ => ErrorClass::Client,
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_classes() {
        assert_eq!(ErrorClass::from_status(401), ErrorClass::Auth);
        assert_eq!(ErrorClass::from_status(403), ErrorClass::Auth);
        assert_eq!(ErrorClass::from_status(429), ErrorClass::RateLimited);
        assert_eq!(ErrorClass::from_status(504), ErrorClass::Timeout);
        assert_eq!(ErrorClass::from_status(503), ErrorClass::Server);
        assert_eq!(ErrorClass::from_status(404), ErrorClass::Client);
    }

    #[test]
    fn names_round_trip() {
        for c in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(c.as_str()), Some(c));
        }
        assert_eq!(ErrorClass::parse("bogus"), None);
    }
}
