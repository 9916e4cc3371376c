//! Secrets: tokens, passwords, webhook URLs and HMAC keys from the config. A [`Secret`] prints
//! as `<secret>` whichever way it is printed (`Debug`, `Display`, serde), as Alertmanager shows
//! its secrets; only [`Secret::expose`] gives the value, at the one place that sends it.
//! [`redact_url`] masks what a URL can hide (a password, credential-looking query values), for
//! URLs that are shown but may carry one (`storage.url`).

/// What every secret prints as.
pub const REDACTED: &str = "<secret>";

/// A secret value. Equality compares the values; every printed form is [`REDACTED`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the request that needs it. Never for a log line, an answer or an error.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// Query parameters whose values are treated as credentials (matched case-insensitively, as
/// substrings: `access_token`, `X-Amz-Signature`, `api_key`, …).
const SECRET_QUERY_PARTS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "sig",
    "auth",
    "credential",
];

/// `url` with its password and credential-looking query values replaced by [`REDACTED`]. Text
/// that is not a URL with a scheme and host (`user:pw@host` would read as the scheme `user`) is
/// returned masked whole when it contains `@` (a connection string with a password, maybe),
/// else unchanged.
pub fn redact_url(url: &str) -> String {
    let parsed = url::Url::parse(url).ok().filter(|u| !u.cannot_be_a_base());
    let Some(mut parsed) = parsed else {
        return if url.contains('@') {
            REDACTED.to_string()
        } else {
            url.to_string()
        };
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(REDACTED));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                if SECRET_QUERY_PARTS.iter().any(|p| lower.contains(p)) {
                    (k.into_owned(), REDACTED.to_string())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // `<` and `>` come out percent-encoded; show the marker as people read it.
    parsed.to_string().replace("%3Csecret%3E", REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_as_a_marker_every_way() {
        let s = Secret::new("xoxb-planted");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<secret>\"");
        assert_eq!(s.expose(), "xoxb-planted");
    }

    #[test]
    fn urls_lose_their_passwords_and_credential_query_values() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db.internal:5432/syncwatch"),
            "postgres://app:<secret>@db.internal:5432/syncwatch"
        );
        assert_eq!(
            redact_url("https://hooks.example.com/x?access_token=abc&team=ops"),
            "https://hooks.example.com/x?access_token=<secret>&team=ops"
        );
        assert_eq!(
            redact_url("sqlite://data/syncwatch.db"),
            "sqlite://data/syncwatch.db"
        );
        assert_eq!(redact_url("user:pw@host/db"), REDACTED);
        assert!(!redact_url("postgres://u:p%40ss@h/db").contains("p%40ss"));
    }
}
