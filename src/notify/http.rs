//! `http_config` as Alertmanager has it (prometheus/common's `HTTPClientConfig`) for the
//! integrations that speak HTTP: an `Authorization` header (`authorization`, or the older
//! `bearer_token`), `basic_auth`, `tls_config` (CA, client certificate, `server_name`,
//! `insecure_skip_verify`, `min_version`), `proxy_url` and `follow_redirects`.
//!
//! As in Alertmanager, no proxy is taken from the environment: only `proxy_url`. Requests are
//! HTTP/1.1 (`enable_http2` is accepted and has no effect).

use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::loader::{HttpConfig, TlsMinVersion, TlsSettings};

impl HttpConfig {
    /// A client for these settings; fails on a PEM or proxy URL that cannot be used.
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")));
        b = match &self.proxy_url {
            Some(p) => b.proxy(reqwest::Proxy::all(p).map_err(|e| format!("proxy_url: {e}"))?),
            None => b.no_proxy(),
        };
        if !self.follow_redirects {
            b = b.redirect(reqwest::redirect::Policy::none());
        }
        if let Some(t) = &self.tls {
            b = b.use_preconfigured_tls(rustls_config(t)?);
        }
        b.build().map_err(|e| format!("HTTP client: {e}"))
    }

    /// Adds the configured authentication to a request.
    pub fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = match &self.authorization {
            Some((scheme, creds)) => req.header(
                reqwest::header::AUTHORIZATION,
                format!("{scheme} {}", creds.expose()),
            ),
            None => req,
        };
        match &self.basic_auth {
            Some((user, pass)) => req.basic_auth(user, pass.as_ref().map(|p| p.expose())),
            None => req,
        }
    }
}

/// The TLS client settings of `tls_config`, in rustls terms.
pub fn rustls_config(t: &TlsSettings) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match t.min_version {
        Some(TlsMinVersion::Tls13) => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS12, &rustls::version::TLS13],
    };
    let mut roots = RootCertStore::empty();
    match &t.ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| format!("tls_config.ca_file: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("tls_config.ca_file: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("tls_config: {e}"))?;
    let name = match &t.server_name {
        Some(n) => Some(
            ServerName::try_from(n.clone()).map_err(|e| format!("tls_config.server_name: {e}"))?,
        ),
        None => None,
    };
    let verifier = Arc::new(Verifier {
        inner,
        name,
        insecure: t.insecure_skip_verify,
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| format!("tls_config: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &t.client_identity {
        Some((cert, key)) => {
            let certs = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("tls_config.cert_file: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
                .map_err(|e| format!("tls_config.key_file: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("tls_config: {e}"))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The server certificate check of `tls_config`: the web PKI against the configured roots, for
/// `server_name` when set (else the URL's host), or none at all with `insecure_skip_verify`
/// (signatures of the handshake are still checked).
#[derive(Debug)]
struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    name: Option<ServerName<'static>>,
    insecure: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let name = self.name.as_ref().unwrap_or(server_name);
        self.inner
            .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
