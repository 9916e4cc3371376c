//! Signing in to the pages, and their forms' CSRF protection.
//!
//! - **Sessions**: with API tokens configured, `POST /login` takes one of them and answers with
//!   an `HttpOnly; SameSite=Strict` cookie naming a session held in memory for 12 hours (a
//!   restart signs everyone out). The session carries exactly the token's scopes: the pages are
//!   authorised as the API is ([`crate::api::auth`]), the token itself never reaches a cookie.
//!   A session authorises reads anywhere and changes only through the pages' forms, which all
//!   check a CSRF token; the API's own changes still need a bearer token.
//! - **CSRF**: the double-submit cookie of the OWASP CSRF cheat sheet: a random
//!   `syncwatch_csrf` cookie (`HttpOnly; SameSite=Strict`) and the same value in every form's
//!   hidden `csrf` field; a post whose field differs from its cookie, or whose `Origin` is
//!   another site, is refused with 403.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "syncwatch_session";
/// The CSRF cookie's name; forms carry its value as the field `csrf`.
pub const CSRF_COOKIE: &str = "syncwatch_csrf";
/// How long a session lasts after signing in.
pub const SESSION_TTL_MS: i64 = 12 * 3_600_000;
/// Sessions held at most: past it, signing in drops the oldest.
const MAX_SESSIONS: usize = 10_000;

/// The signed-in sessions, by the SHA-256 of their cookie value.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Session>>,
}

struct Session {
    /// The SHA-256 of the token signed in with (as `[[api.tokens]]` holds it).
    token_sha256: String,
    expires_ms: i64,
}

/// 32 random bytes as 64 hex digits.
fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn key(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

impl Sessions {
    /// Starts a session for the token whose hash is `token_sha256`; returns the cookie value.
    pub fn start(&self, token_sha256: &str, now_ms: i64) -> String {
        let id = random_hex();
        let mut all = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|_, s| s.expires_ms > now_ms);
        if all.len() >= MAX_SESSIONS
            && let Some(oldest) = all
                .iter()
                .min_by_key(|(_, s)| s.expires_ms)
                .map(|(k, _)| k.clone())
        {
            all.remove(&oldest);
        }
        all.insert(
            key(&id),
            Session {
                token_sha256: token_sha256.to_string(),
                expires_ms: now_ms + SESSION_TTL_MS,
            },
        );
        id
    }

    /// The token hash of a live session.
    pub fn token_of(&self, id: &str, now_ms: i64) -> Option<String> {
        let all = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        all.get(&key(id))
            .filter(|s| s.expires_ms > now_ms)
            .map(|s| s.token_sha256.clone())
    }

    /// Ends a session (signing out).
    pub fn end(&self, id: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key(id));
    }
}

/// The session cookie's value, if the request has one.
pub fn session_id(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

/// A cookie of the pages: `HttpOnly`, `SameSite=Strict`, for the whole site, `Secure` when the
/// public URL is HTTPS.
pub fn cookie(name: &'static str, value: String, max_age_s: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_s))
        .finish()
}

/// The CSRF token of a page: the request's cookie, or a new one to be set with the page.
pub struct Csrf {
    pub token: String,
    /// The cookie to set: `Some` when the request had none.
    pub fresh: Option<Cookie<'static>>,
}

impl Csrf {
    pub fn of(req: &HttpRequest, secure: bool) -> Self {
        match req.cookie(CSRF_COOKIE) {
            Some(c) if c.value().len() == 64 => Self {
                token: c.value().to_string(),
                fresh: None,
            },
            _ => {
                let token = random_hex();
                Self {
                    fresh: Some(cookie(CSRF_COOKIE, token.clone(), 365 * 86_400, secure)),
                    token,
                }
            }
        }
    }
}

/// Why a form post was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Forged {
    /// No CSRF cookie, or a field that differs from it (an old tab after the cookie was
    /// cleared, or another site's form).
    Token,
    /// `Origin` names another site.
    Origin,
}

/// Checks a form post: its `csrf` field equals its CSRF cookie (compared in constant time), and
/// its `Origin`, when sent, is this server's (the `Host` it was sent to, or `public_url`).
pub fn verify(req: &HttpRequest, field: &str, public_url: &str) -> Result<(), Forged> {
    if let Some(origin) = req.headers().get("origin").and_then(|v| v.to_str().ok()) {
        let host = req.connection_info().host().to_string();
        let same = origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host)
            || origin == public_url.trim_end_matches('/');
        if !same {
            return Err(Forged::Origin);
        }
    }
    let cookie = req.cookie(CSRF_COOKIE).ok_or(Forged::Token)?;
    let (a, b) = (cookie.value().as_bytes(), field.as_bytes());
    let differs = a.len() != b.len() || a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) != 0;
    if differs || a.is_empty() {
        return Err(Forged::Token);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_session_carries_its_token_until_it_expires_or_ends() {
        let s = Sessions::default();
        let id = s.start("abc", 1_000);
        assert_eq!(id.len(), 64);
        assert_eq!(s.token_of(&id, 2_000).as_deref(), Some("abc"));
        assert_eq!(s.token_of(&id, 1_000 + SESSION_TTL_MS), None, "expired");
        assert_eq!(s.token_of("guess", 2_000), None);
        let other = s.start("def", 1_000);
        assert_ne!(id, other);
        s.end(&id);
        assert_eq!(s.token_of(&id, 2_000), None);
        assert_eq!(s.token_of(&other, 2_000).as_deref(), Some("def"));
    }

    #[test]
    fn a_post_needs_the_cookies_csrf_value_and_this_origin() {
        let token = "a".repeat(64);
        let with_cookie = || {
            TestRequest::post()
                .insert_header(("host", "sw.example:8080"))
                .cookie(Cookie::new(CSRF_COOKIE, token.clone()))
        };
        let ok = with_cookie().to_http_request();
        assert_eq!(verify(&ok, &token, "http://x"), Ok(()));
        assert_eq!(verify(&ok, &"b".repeat(64), "http://x"), Err(Forged::Token));
        assert_eq!(verify(&ok, "", "http://x"), Err(Forged::Token));
        let none = TestRequest::post().to_http_request();
        assert_eq!(verify(&none, &token, "http://x"), Err(Forged::Token));
        let same = with_cookie()
            .insert_header(("origin", "http://sw.example:8080"))
            .to_http_request();
        assert_eq!(verify(&same, &token, "http://x"), Ok(()));
        let public = with_cookie()
            .insert_header(("origin", "https://syncwatch.example"))
            .to_http_request();
        assert_eq!(
            verify(&public, &token, "https://syncwatch.example/"),
            Ok(())
        );
        let evil = with_cookie()
            .insert_header(("origin", "https://evil.example"))
            .to_http_request();
        assert_eq!(verify(&evil, &token, "http://x"), Err(Forged::Origin));
    }

    #[test]
    fn a_page_reuses_the_csrf_cookie_or_sets_a_new_one() {
        let fresh = Csrf::of(&TestRequest::get().to_http_request(), false);
        let set = fresh.fresh.expect("a new cookie");
        assert_eq!(set.value(), fresh.token);
        assert_eq!(set.http_only(), Some(true));
        assert_eq!(set.same_site(), Some(SameSite::Strict));
        let again = Csrf::of(
            &TestRequest::get()
                .cookie(Cookie::new(CSRF_COOKIE, fresh.token.clone()))
                .to_http_request(),
            false,
        );
        assert_eq!(again.token, fresh.token);
        assert!(again.fresh.is_none());
    }
}
