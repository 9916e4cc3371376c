//! Credentials on provider requests. OAuth2 client-credentials tokens are fetched once, shared
//! by every connection of the provider, cached until shortly before they expire, and fetched
//! again when the API answers 401 (the token was revoked or expired early).

use std::time::Duration;

use serde::Deserialize;

use super::classify::FetchError;
use super::profile::{Auth, KeyIn};
use crate::domain::ErrorClass;

#[derive(Debug, Clone)]
struct Token {
    value: String,
    expires_ms: i64,
}

pub struct Authenticator {
    auth: Auth,
    /// The token endpoint, resolved against the base URL.
    token_url: Option<String>,
    cache: tokio::sync::Mutex<Option<Token>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// Resolves `url` against `base` when it is a path.
pub fn resolve(base: &str, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else {
        format!("{}{url}", base.trim_end_matches('/'))
    }
}

/// How long a token is used: until a tenth of its life (at most 30 s) before it expires.
pub fn token_expiry(now_ms: i64, expires_in: Option<u64>) -> i64 {
    let life = Duration::from_secs(expires_in.unwrap_or(3600));
    let margin = (life / 10).min(Duration::from_secs(30));
    now_ms + (life - margin).as_millis() as i64
}

impl Authenticator {
    pub fn new(auth: &Auth, base_url: &str) -> Self {
        let token_url = match auth {
            Auth::OAuth2 { token_url, .. } => Some(resolve(base_url, token_url)),
            _ => None,
        };
        Self {
            auth: auth.clone(),
            token_url,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// Whether a 401 may be cured by fetching a new token.
    pub fn refreshable(&self) -> bool {
        matches!(self.auth, Auth::OAuth2 { .. })
    }

    /// Forgets the cached token, so the next request fetches a new one.
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    /// Adds the credentials to a request.
    pub async fn apply(
        &self,
        client: &reqwest::Client,
        req: reqwest::RequestBuilder,
        now_ms: i64,
    ) -> Result<reqwest::RequestBuilder, FetchError> {
        Ok(match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t.expose()),
            Auth::ApiKey {
                r#in: KeyIn::Header(h),
                value,
            } => req.header(h.as_str(), value.expose()),
            Auth::ApiKey {
                r#in: KeyIn::Query(q),
                value,
            } => req.query(&[(q.as_str(), value.expose())]),
            Auth::Basic { username, password } => req.basic_auth(username, Some(password.expose())),
            Auth::OAuth2 { .. } => req.bearer_auth(self.token(client, now_ms).await?),
        })
    }

    /// The cached token, or a new one from the token endpoint.
    async fn token(&self, client: &reqwest::Client, now_ms: i64) -> Result<String, FetchError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.as_ref().filter(|t| now_ms < t.expires_ms) {
            return Ok(t.value.clone());
        }
        let Auth::OAuth2 {
            client_id,
            client_secret,
            scope,
            ..
        } = &self.auth
        else {
            unreachable!("only OAuth2 has tokens");
        };
        let url = self.token_url.as_deref().unwrap_or_default();
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.expose()),
        ];
        if let Some(s) = scope {
            form.push(("scope", s.as_str()));
        }
        let fail = |class, reason: String, status| FetchError {
            class,
            reason,
            status,
            retry_after: None,
            deferred: false,
        };
        let resp = client.post(url).form(&form).send().await.map_err(|e| {
            let class = if e.is_timeout() {
                ErrorClass::Timeout
            } else {
                ErrorClass::Network
            };
            fail(class, format!("token endpoint unreachable: {e}"), None)
        })?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let class = match status {
                400 | 401 | 403 => ErrorClass::Auth,
                429 => ErrorClass::RateLimited,
                s => ErrorClass::from_status(s),
            };
            return Err(fail(
                class,
                format!("token endpoint refused the client credentials ({status})"),
                Some(status),
            ));
        }
        let body: TokenResponse = resp.json().await.map_err(|e| {
            fail(
                ErrorClass::Auth,
                format!("token endpoint answered without an access_token: {e}"),
                Some(status),
            )
        })?;
        let token = Token {
            expires_ms: token_expiry(now_ms, body.expires_in),
            value: body.access_token,
        };
        let value = token.value.clone();
        *cache = Some(token);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(token_expiry(0, Some(3600)), 3_570_000, "30 s early");
        assert_eq!(token_expiry(0, Some(60)), 54_000, "a tenth of a short life");
        assert_eq!(
            token_expiry(1_000, None),
            1_000 + 3_570_000,
            "an hour by default"
        );
    }

    #[test]
    fn token_urls_resolve_against_the_base() {
        assert_eq!(
            resolve("http://sim/tekion/", "/oauth/token"),
            "http://sim/tekion/oauth/token"
        );
        assert_eq!(
            resolve("http://sim/tekion", "https://auth.example.com/t"),
            "https://auth.example.com/t"
        );
    }
}
