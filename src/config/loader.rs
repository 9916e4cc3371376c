//! The validation context of a YAML config whose parts are read by different modules
//! (`alerting.yml`: routes in `alerting::config`, each receiver integration in its own `notify/`
//! folder): where problems and warnings go, each with its line; `${VAR}` interpolation; files the
//! config names (relative to it, a missing one only a warning in [`Mode::Check`]); durations;
//! notification templates; and the `tls_config` and `http_config` blocks several integrations
//! share (prometheus/common's, as Alertmanager reads them).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::yaml_index::YamlIndex;
use super::{Env, Problem, find_line, interpolate};
use crate::domain::duration::parse_duration;
use crate::domain::secret::Secret;
use crate::gotemplate::Templates;

/// Who reads the file: `serve` needs every file it names; `check` often runs on another machine
/// than the server (CI, a laptop), so a file it names that is missing there (`api_url_file`,
/// `auth_password_file`, `ca_file`, … usually mounted secrets) is a warning, as `amtool
/// check-config` does not read them either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Serve,
    Check,
}

/// Where a config file's problems and warnings go while it is read.
pub struct Loader<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub env: Env<'a>,
    /// The config's directory: files it names are relative to it.
    pub base: PathBuf,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
    pub mode: Mode,
    /// The notification templates fields are checked against (the defaults until `templates:`
    /// is read).
    pub templates: Arc<Templates>,
    /// Where each node of the document starts.
    pub index: YamlIndex,
    /// The paths of the nodes being validated, innermost last (see [`Loader::enter`]).
    scopes: Vec<String>,
}

impl<'a> Loader<'a> {
    pub fn new(path: &'a Path, text: &'a str, env: Env<'a>, mode: Mode) -> Self {
        Self {
            path,
            text,
            env,
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            problems: vec![],
            warnings: vec![],
            mode,
            templates: Arc::new(crate::notify::templates::defaults()),
            index: YamlIndex::new(text),
            scopes: Vec::new(),
        }
    }
}

impl Loader<'_> {
    /// The line starting with `needle`, or else the first line containing it (values inside
    /// flow lists such as `matchers: ['a="b"']`).
    ///
    /// Inside a node entered with [`Loader::enter`], the needle is looked for in that node only:
    /// first as one of its keys (`url:` is the node's `url`), then as the first line of the
    /// node holding it, else the node's own first line. A key that occurs earlier in the file
    /// (another receiver's `url`) is never taken for this one.
    pub fn line(&self, needle: &str) -> Option<usize> {
        if let Some(scope) = self.scopes.last()
            && let Some((start, end)) = self.index.range(scope)
        {
            // `url:` names a key of the node; `tier: L4` is text to find in it.
            let key = needle.trim_end().strip_suffix(':').map(str::trim);
            if let Some(key) = key
                && let Some(l) = self.index.line(&format!("{scope}.{key}"))
            {
                return Some(l);
            }
            let within = |l: &usize| *l >= start && *l < end;
            return find_line(self.text, needle, start)
                .filter(within)
                .or_else(|| {
                    self.text
                        .lines()
                        .enumerate()
                        .skip(start - 1)
                        .take_while(|(i, _)| i + 1 < end)
                        .find(|(_, l)| l.contains(needle))
                        .map(|(i, _)| i + 1)
                })
                .or(Some(start));
        }
        find_line(self.text, needle, 1).or_else(|| {
            self.text
                .lines()
                .position(|l| l.contains(needle))
                .map(|i| i + 1)
        })
    }

    /// Problems found until the matching [`Loader::leave`] are placed within the node at
    /// `path` (a [`YamlIndex`] path: `receivers.1.webhook_configs.0`).
    pub fn enter(&mut self, path: impl Into<String>) {
        self.scopes.push(path.into());
    }

    /// The path of the innermost node entered (`""` at the top).
    pub fn scope(&self) -> &str {
        self.scopes.last().map_or("", String::as_str)
    }

    /// Ends the innermost [`Loader::enter`].
    pub fn leave(&mut self) {
        self.scopes.pop();
    }

    /// A problem at the line of `needle`.
    pub fn p(&mut self, needle: &str, msg: String) {
        let line = self.line(needle);
        self.problems.push(Problem::new(self.path, line, msg));
    }

    /// `v` with `${VAR}` interpolated (a problem at `key` when a variable is unset).
    pub fn s(&mut self, key: &str, v: &str) -> String {
        match interpolate(v, self.env) {
            Ok(s) => s,
            Err(e) => {
                self.p(key, format!("{key}: {e}"));
                String::new()
            }
        }
    }

    /// A duration field, `default` when absent.
    pub fn dur(&mut self, key: &str, v: Option<&str>, default: Duration) -> Duration {
        match v.map(parse_duration) {
            None => default,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.p(&format!("{key}:"), format!("{key}: {e}"));
                default
            }
        }
    }

    pub fn secret_file(&mut self, key: &str, file: &str) -> Option<Secret> {
        self.read_file(key, file)
            .map(|s| Secret::new(s.trim().to_string()))
    }

    /// Reads a file named in the config (relative to the config's directory).
    pub fn read_file(&mut self, key: &str, file: &str) -> Option<String> {
        let rel = self.s(key, file);
        let path = self.base.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(s) => Some(s),
            Err(e) if self.mode == Mode::Check && e.kind() == std::io::ErrorKind::NotFound => {
                let line = self.line(&format!("{key}:"));
                self.warnings.push(Problem::new(
                    self.path,
                    line,
                    format!(
                        "warning: {key}: {} does not exist here; `serve` needs it",
                        path.display()
                    ),
                ));
                None
            }
            Err(e) => {
                self.p(
                    &format!("{key}:"),
                    format!("{key}: cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    }

    /// A `tls_config` block, its files read and checked.
    pub fn tls(&mut self, t: &RawTlsConfig) -> TlsSettings {
        let mut tls = TlsSettings {
            server_name: t.server_name.as_deref().map(|n| self.s("server_name", n)),
            insecure_skip_verify: t.insecure_skip_verify,
            ..TlsSettings::default()
        };
        if let Some(f) = &t.ca_file
            && let Some(pem) = self.read_file("ca_file", f)
        {
            if let Err(why) = check_ca_pem(&pem) {
                self.p("ca_file:", format!("tls_config.ca_file: {f:?} {why}"));
            }
            tls.ca_pem = Some(pem);
        }
        match (&t.cert_file, &t.key_file) {
            (Some(c), Some(k)) => {
                if let (Some(cert), Some(key)) = (
                    self.read_file("cert_file", c),
                    self.read_file("key_file", k),
                ) {
                    if !is_certificate_and_key(&cert, &key) {
                        self.p(
                            "cert_file:",
                            format!("tls_config: cert_file {c:?} and key_file {k:?} are not a valid PEM certificate and key"),
                        );
                    }
                    tls.client_identity = Some((cert, Secret::new(key)));
                }
            }
            (None, None) => {}
            _ => self.p(
                "tls_config:",
                "tls_config: cert_file and key_file go together".into(),
            ),
        }
        tls.min_version = match t.min_version.as_deref() {
            None => None,
            Some("TLS12") => Some(TlsMinVersion::Tls12),
            Some("TLS13") => Some(TlsMinVersion::Tls13),
            Some(v) => {
                self.p(
                    "min_version:",
                    format!("tls_config.min_version: {v:?} is not supported (TLS12 or TLS13)"),
                );
                None
            }
        };
        if let Some(v) = &t.max_version
            && v != "TLS13"
        {
            self.p(
                "max_version:",
                format!("tls_config.max_version: {v:?} is not supported (only TLS13, the default)"),
            );
        }
        tls
    }

    /// A templated field as written (checked), or `default` when absent.
    pub fn template_or(
        &mut self,
        key: &str,
        ctx: &str,
        value: Option<&String>,
        default: &str,
    ) -> String {
        match value {
            Some(t) => self.template(key, ctx, t),
            None => default.to_string(),
        }
    }

    /// Checks that a templated field parses against the loaded templates.
    pub fn template(&mut self, key: &str, ctx: &str, text: &str) -> String {
        if let Err(e) = self.templates.check(key, text) {
            self.p(
                &format!("{key}:"),
                format!(
                    "{ctx}.{key}: {} (line {} of the template)",
                    e.message, e.line
                ),
            );
        }
        text.to_string()
    }

    /// An `http_config` (the receiver's, else the global one), checked as prometheus/common
    /// checks it: at most one of `authorization`, `basic_auth`, `bearer_token(_file)` and
    /// `oauth2`; `credentials` or `credentials_file`, not both; no `Basic` authorization type.
    pub fn http_config(
        &mut self,
        own: Option<&RawHttpConfig>,
        global: Option<&RawHttpConfig>,
        ctx: &str,
    ) -> HttpConfig {
        let mut out = HttpConfig::new();
        let Some(h) = own.or(global) else {
            return out;
        };
        let ctx = format!("{ctx}.http_config");
        let set = [
            h.authorization.is_some(),
            h.basic_auth.is_some(),
            h.bearer_token.is_some() || h.bearer_token_file.is_some(),
            h.oauth2.is_some(),
        ];
        if set.iter().filter(|b| **b).count() > 1 {
            self.p(
                "http_config:",
                format!("{ctx}: at most one of basic_auth, authorization, bearer_token, bearer_token_file and oauth2 may be configured"),
            );
        }
        if h.oauth2.is_some() {
            self.p(
                "oauth2:",
                format!("{ctx}.oauth2: OAuth 2.0 client credentials are not supported; use authorization or basic_auth"),
            );
        }
        if let Some(a) = &h.authorization {
            let scheme = a.kind.clone().unwrap_or_else(|| "Bearer".into());
            if scheme.eq_ignore_ascii_case("basic") {
                self.p(
                    "type:",
                    format!("{ctx}.authorization: authorization type cannot be set to \"basic\", use \"basic_auth\" instead"),
                );
            }
            let creds = match (&a.credentials, &a.credentials_file) {
                (Some(_), Some(_)) => {
                    self.p(
                        "credentials_file:",
                        format!("{ctx}.authorization: at most one of credentials and credentials_file must be configured"),
                    );
                    None
                }
                (Some(c), None) => Some(Secret::new(self.s("credentials", c))),
                (None, Some(f)) => self.secret_file("credentials_file", f),
                (None, None) => None,
            };
            out.authorization = creds.map(|c| (scheme, c));
        }
        match (&h.bearer_token, &h.bearer_token_file) {
            (Some(_), Some(_)) => self.p(
                "bearer_token_file:",
                format!(
                    "{ctx}: at most one of bearer_token and bearer_token_file must be configured"
                ),
            ),
            (Some(t), None) => {
                out.authorization = Some(("Bearer".into(), Secret::new(self.s("bearer_token", t))))
            }
            (None, Some(f)) => {
                out.authorization = self
                    .secret_file("bearer_token_file", f)
                    .map(|t| ("Bearer".into(), t))
            }
            (None, None) => {}
        }
        if let Some(b) = &h.basic_auth {
            let password = match (&b.password, &b.password_file) {
                (Some(_), Some(_)) => {
                    self.p(
                        "password_file:",
                        format!("{ctx}.basic_auth: at most one of password and password_file must be configured"),
                    );
                    None
                }
                (Some(p), None) => Some(Secret::new(self.s("password", p))),
                (None, Some(f)) => self.secret_file("password_file", f),
                (None, None) => None,
            };
            out.basic_auth = Some((self.s("username", &b.username), password));
        }
        if let Some(p) = &h.proxy_url {
            let p = self.s("proxy_url", p);
            if !is_http_url(&p) {
                self.p(
                    "proxy_url:",
                    format!("{ctx}.proxy_url: {p:?} must be an http(s) URL"),
                );
            }
            out.proxy_url = Some(p);
        }
        if let Some(t) = &h.tls_config {
            let before = self.problems.len();
            let tls = self.tls(t);
            // What the files could not say (a bad server_name, a key the certificate refuses).
            if self.problems.len() == before
                && let Some(n) = &tls.server_name
                && rustls::pki_types::ServerName::try_from(n.clone()).is_err()
            {
                self.p(
                    "server_name:",
                    format!(
                        "{ctx}.tls_config.server_name: {n:?} is not a valid DNS name or IP address"
                    ),
                );
            }
            out.tls = Some(tls);
        }
        out.follow_redirects = h.follow_redirects.unwrap_or(true);
        // Requests are HTTP/1.1 whatever `enable_http2` says (README).
        let _ = h.enable_http2;
        out
    }
}

/// prometheus/common's `HTTPClientConfig`, as Alertmanager 0.25 reads it.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawHttpConfig {
    pub authorization: Option<RawAuthorization>,
    pub basic_auth: Option<RawBasicAuth>,
    pub bearer_token: Option<String>,
    pub bearer_token_file: Option<String>,
    oauth2: Option<serde_norway::Value>,
    pub proxy_url: Option<String>,
    pub tls_config: Option<RawTlsConfig>,
    pub follow_redirects: Option<bool>,
    enable_http2: Option<bool>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawAuthorization {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub credentials: Option<String>,
    pub credentials_file: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawBasicAuth {
    pub username: String,
    pub password: Option<String>,
    pub password_file: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawTlsConfig {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
}

/// Minimum TLS version (`tls_config.min_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMinVersion {
    Tls12,
    Tls13,
}

/// A `tls_config` (of an email receiver, or of an `http_config`), with its files already read.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// PEM certificates of the CAs to trust *instead of* the built-in roots (`ca_file`).
    pub ca_pem: Option<String>,
    /// Client certificate and key, PEM (`cert_file`, `key_file`).
    pub client_identity: Option<(String, Secret)>,
    /// Name checked against the server certificate (default: the host connected to).
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    pub min_version: Option<TlsMinVersion>,
}

/// A validated `http_config` (prometheus/common's `HTTPClientConfig`); the client it makes is
/// built in [`crate::notify::http`].
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// `Authorization: <scheme> <credentials>` (`authorization`, or `bearer_token`).
    pub authorization: Option<(String, Secret)>,
    /// `basic_auth`: user name and password.
    pub basic_auth: Option<(String, Option<Secret>)>,
    pub tls: Option<TlsSettings>,
    pub proxy_url: Option<String>,
    /// Default true, as in Alertmanager.
    pub follow_redirects: bool,
}

impl HttpConfig {
    /// The default: no authentication, system roots, redirects followed.
    pub fn new() -> Self {
        Self {
            follow_redirects: true,
            ..Self::default()
        }
    }

    /// Whether anything differs from the default.
    pub fn is_default(&self) -> bool {
        self.authorization.is_none()
            && self.basic_auth.is_none()
            && self.tls.is_none()
            && self.proxy_url.is_none()
            && self.follow_redirects
    }
}

/// A CA file must hold at least one certificate, and each must parse as a trust anchor.
pub fn check_ca_pem(pem: &str) -> Result<(), String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("is not valid PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("holds an invalid certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(())
}

pub fn split_addresses(s: &str) -> Vec<String> {
    s.split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

/// Whether PEM `cert` and `key` hold a certificate and a private key.
fn is_certificate_and_key(cert: &str, key: &str) -> bool {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    CertificateDer::pem_slice_iter(cert.as_bytes())
        .next()
        .is_some_and(|c| c.is_ok())
        && PrivateKeyDer::from_pem_slice(key.as_bytes()).is_ok()
}

/// Whether `s` parses as an `http://` or `https://` URL with a host (what a notifier can send
/// to). The value itself is never put in an error: it may be a secret.
pub fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}
