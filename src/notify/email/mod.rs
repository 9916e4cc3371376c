//! Email over SMTP with lettre, secured as Alertmanager does it: implicit TLS on port 465 (or with
//! `force_implicit_tls`), otherwise STARTTLS required by default, plain for local relays when
//! `require_tls: false`; `tls_config` for a private CA, client certificate, server name and
//! minimum version; SMTP AUTH; multipart text + HTML.

use std::time::Duration;

pub mod config;

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{
    Certificate, CertificateStore, Identity, Tls, TlsParameters, TlsVersion,
};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::render::{html, subject, text};
use super::templates::Renderer;
use super::{FailureReason, Notification, Notifier, NotifyError};
use crate::config::loader::TlsMinVersion;
use config::{EmailConfig, SmtpSecurity, SmtpSettings};

pub struct EmailNotifier {
    config: EmailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

/// Builds the message (shared with the `.eml` writer).
pub fn build_message(from: &str, to: &[String], n: &Notification) -> Result<Message, NotifyError> {
    let bad = |what: &str, v: &str| {
        NotifyError::new(
            FailureReason::ClientError,
            format!("invalid {what} address {v:?}"),
        )
    };
    let mut b = Message::builder()
        .from(from.parse::<Mailbox>().map_err(|_| bad("from", from))?)
        .subject(subject(n));
    for addr in to {
        b = b.to(addr.parse::<Mailbox>().map_err(|_| bad("to", addr))?);
    }
    b.multipart(MultiPart::alternative_plain_html(text(n), html(n)))
        .map_err(|e| {
            NotifyError::new(
                FailureReason::ClientError,
                format!("cannot build email: {e}"),
            )
        })
}

/// The message of an email config that sets `html`, `text` or `headers` (Alertmanager's
/// fields, each a template); otherwise syncwatch's message. A `Subject` header replaces the
/// subject; `To` and `From` replace the addresses shown; the parts left unset stay syncwatch's.
pub fn build_templated(config: &EmailConfig, n: &Notification) -> Result<Message, NotifyError> {
    if config.html.is_none() && config.text.is_none() && config.headers.is_empty() {
        return build_message(&config.from, &config.to, n);
    }
    let r = Renderer::new(&config.templates, n);
    let render = |name: &str, t: &str| {
        r.render(name, t)
            .map_err(|e| NotifyError::new(FailureReason::ClientError, e.to_string()))
    };
    let bad = |what: &str, v: &str| {
        NotifyError::new(
            FailureReason::ClientError,
            format!("invalid {what} address {v:?}"),
        )
    };
    let mut subject_line = subject(n);
    let mut from = config.from.clone();
    let mut extra = Vec::new();
    for (k, v) in &config.headers {
        let value = render(k, v)?;
        match k.to_ascii_lowercase().as_str() {
            "subject" => subject_line = value,
            "from" => from = value,
            // The envelope goes to `to:`; a `To` header only changes what readers see.
            _ => extra.push((k.clone(), value)),
        }
    }
    let mut b = Message::builder()
        .from(from.parse::<Mailbox>().map_err(|_| bad("from", &from))?)
        .subject(subject_line);
    let shown_to = extra
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("to"))
        .map(|(_, v)| v.clone());
    match shown_to {
        Some(to) => {
            for addr in config::split_addresses(&to) {
                b = b.to(addr.parse::<Mailbox>().map_err(|_| bad("to", &addr))?);
            }
        }
        None => {
            for addr in &config.to {
                b = b.to(addr.parse::<Mailbox>().map_err(|_| bad("to", addr))?);
            }
        }
    }
    for (k, v) in extra
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("to"))
    {
        let name = HeaderName::new_from_ascii(k.clone()).map_err(|_| {
            NotifyError::new(
                FailureReason::ClientError,
                format!("invalid header name {k:?}"),
            )
        })?;
        b = b.raw_header(HeaderValue::new(name, v));
    }
    let html_part = match &config.html {
        Some(t) => r
            .render_html("html", t)
            .map_err(|e| NotifyError::new(FailureReason::ClientError, e.to_string()))?,
        None => html(n),
    };
    let text_part = match &config.text {
        Some(t) => render("text", t)?,
        None => text(n),
    };
    let body = if config.html.is_some() && config.text.is_none() {
        // Alertmanager sends only the HTML part when only `html` is set.
        b.singlepart(lettre::message::SinglePart::html(html_part))
    } else if config.text.is_some() && config.html.is_none() {
        b.multipart(MultiPart::alternative_plain_html(text_part, html(n)))
    } else {
        b.multipart(MultiPart::alternative_plain_html(text_part, html_part))
    };
    body.map_err(|e| {
        NotifyError::new(
            FailureReason::ClientError,
            format!("cannot build email: {e}"),
        )
    })
}

impl EmailNotifier {
    pub fn new(config: EmailConfig) -> Result<Self, NotifyError> {
        let smtp = &config.smtp;
        let setup = |e: String| {
            NotifyError::new(FailureReason::ClientError, format!("SMTP TLS setup: {e}"))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .timeout(Some(Duration::from_secs(15)));
        if smtp.security != SmtpSecurity::Plain {
            let params = tls_parameters(smtp).map_err(setup)?;
            builder = builder.tls(match smtp.security {
                SmtpSecurity::ImplicitTls => Tls::Wrapper(params),
                _ => Tls::Required(params),
            });
        }
        if let (Some(user), Some(pass)) = (&smtp.username, &smtp.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
        }
        if let Some(hello) = &smtp.hello {
            builder = builder.hello_name(lettre::transport::smtp::extension::ClientId::Domain(
                hello.clone(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            config,
        })
    }
}

/// TLS parameters from `tls_config`: a `ca_file` replaces the built-in roots (as in
/// Alertmanager, whose Go TLS config trusts only the given pool).
fn tls_parameters(smtp: &SmtpSettings) -> Result<TlsParameters, String> {
    let tls = &smtp.tls;
    let name = tls.server_name.clone().unwrap_or_else(|| smtp.host.clone());
    let mut b = TlsParameters::builder(name)
        .dangerous_accept_invalid_certs(tls.insecure_skip_verify)
        .set_min_tls_version(match tls.min_version {
            Some(TlsMinVersion::Tls13) => TlsVersion::Tlsv13,
            _ => TlsVersion::Tlsv12,
        });
    if let Some(pem) = &tls.ca_pem {
        b = b
            .certificate_store(CertificateStore::None)
            .add_root_certificate(
                Certificate::from_pem(pem.as_bytes()).map_err(|e| e.to_string())?,
            );
    }
    if let Some((cert, key)) = &tls.client_identity {
        // lettre's rustls backend takes the certificate argument of `Identity::from_pem` as DER
        // (it never decodes it): hand it the first certificate of the PEM file decoded.
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let der = CertificateDer::from_pem_slice(cert.as_bytes())
            .map_err(|e| format!("client certificate: {e}"))?;
        let identity = Identity::from_pem(der.as_ref(), key.expose().as_bytes())
            .map_err(|e| format!("client certificate: {e}"))?;
        b = b.identify_with(identity);
    }
    b.build_rustls().map_err(|e| e.to_string())
}

fn classify(e: &lettre::transport::smtp::Error) -> NotifyError {
    let reason = if e.is_timeout() {
        FailureReason::Timeout
    } else if e.is_permanent() {
        match e.status().map(|c| c.to_string()) {
            Some(code) if code.starts_with("53") => FailureReason::AuthError,
            _ => FailureReason::ClientError,
        }
    } else if e.is_transient() {
        FailureReason::ServerError
    } else {
        FailureReason::Network
    };
    // Anything else, including a TLS handshake or certificate failure, is a network error and
    // retried: fixing `tls_config` (hot reload) then delivers what waited.
    // lettre's Display does not include credentials.
    NotifyError::new(reason, format!("SMTP: {e}"))
}

#[async_trait]
impl Notifier for EmailNotifier {
    fn integration(&self) -> &'static str {
        "email"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let msg = build_templated(&self.config, n)?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }
}
