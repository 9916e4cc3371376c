//! The `export` stage's writer: JSON Lines objects through `object_store`, into a directory
//! (`file://`) or an S3 bucket (`s3://`, AWS or any S3-compatible store), at
//! `<prefix>/<provider>/<stream>/<YYYY-MM-DD>/<millis>-<id>.jsonl`. A failed write is retried;
//! records whose object still cannot be written go to the DLQ.
//!
//! S3 requests go through syncwatch's own HTTP client (rustls with ring), signed by
//! `object_store`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::BodyExt;
use object_store::aws::AmazonS3Builder;
use object_store::client::{
    ClientOptions, HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, RetryConfig};
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value;

use crate::config::S3Target;

/// Attempts per object, and the wait before each retry.
const RETRIES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(500)];

pub struct Exporter {
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Exporter({})", self.store)
    }
}

/// Where a batch goes: provider, stream, day, then a unique name.
pub fn object_key(provider: &str, stream: &str, now_ms: i64, id: &str) -> String {
    let day = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .format("%Y-%m-%d");
    format!("{provider}/{stream}/{day}/{now_ms}-{id}.jsonl")
}

/// One record a line.
pub fn json_lines(records: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 256);
    append_json_lines(&mut out, records);
    out
}

/// Appends one record a line.
pub fn append_json_lines(out: &mut Vec<u8>, records: &[Value]) {
    out.reserve(records.len() * 256);
    for r in records {
        // Serialising a Value cannot fail.
        let _ = serde_json::to_writer(&mut *out, r);
        out.push(b'\n');
    }
}

impl Exporter {
    /// Exports under `dir`, created when missing.
    pub fn to_dir(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create export directory {}: {e}", dir.display()))?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| format!("export directory {}: {e}", dir.display()))?;
        Ok(Self {
            store: Arc::new(fs),
        })
    }

    /// Exports to an S3 bucket (or an S3-compatible store): the target's fields, else the
    /// `AWS_*` environment variables.
    pub fn to_s3(target: &S3Target) -> Result<Self, String> {
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&target.bucket)
            .with_http_connector(Connector)
            // A few quick retries inside each of our attempts; a store that stays down sends
            // the records to the DLQ instead of holding the stage for minutes.
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
            });
        if let Some(e) = &target.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = &target.region {
            b = b.with_region(r);
        }
        if let Some(k) = &target.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(k) = &target.secret_access_key {
            b = b.with_secret_access_key(k.expose());
        }
        if target.allow_http {
            b = b.with_allow_http(true);
        }
        let s3 = b
            .build()
            .map_err(|e| format!("S3 bucket {}: {e}", target.bucket))?;
        let store: Arc<dyn ObjectStore> = if target.prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, target.prefix.as_str()))
        };
        Ok(Self { store })
    }

    /// Writes one object, retrying; the error of the last attempt.
    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), String> {
        let path = ObjectPath::parse(key).map_err(|e| format!("object name {key:?}: {e}"))?;
        let payload = object_store::PutPayload::from(bytes::Bytes::from(body));
        let mut last = String::new();
        for wait in std::iter::once(Duration::ZERO).chain(RETRIES) {
            tokio::time::sleep(wait).await;
            match self.store.put(&path, payload.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }
}

/// Builds `object_store`'s HTTP clients from syncwatch's reqwest.
#[derive(Debug)]
struct Connector;

impl HttpConnector for Connector {
    fn connect(&self, _: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(Service(client)))
    }
}

#[derive(Debug)]
struct Service(reqwest::Client);

fn http_error(e: reqwest::Error) -> HttpError {
    let kind = if e.is_connect() {
        HttpErrorKind::Connect
    } else if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_body() || e.is_decode() {
        HttpErrorKind::Decode
    } else {
        HttpErrorKind::Request
    };
    HttpError::new(kind, e)
}

#[async_trait]
impl HttpService for Service {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = req.into_parts();
        let body = match body.as_bytes() {
            Some(b) => b.clone(),
            None => body.collect().await?.to_bytes(),
        };
        let url = reqwest::Url::parse(&parts.uri.to_string())
            .map_err(|e| HttpError::new(HttpErrorKind::Request, e))?;
        let mut r = reqwest::Request::new(parts.method, url);
        *r.headers_mut() = parts.headers;
        *r.body_mut() = Some(body.into());
        let resp = self.0.execute(r).await.map_err(http_error)?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.bytes().await.map_err(http_error)?;
        let mut out = HttpResponse::new(HttpResponseBody::from(bytes));
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_named_by_provider_stream_and_day() {
        // 2026-11-21T10:00:00Z
        let key = object_key("cdk", "repair_orders", 1_795_255_200_000, "abc");
        assert_eq!(key, "cdk/repair_orders/2026-11-21/1795255200000-abc.jsonl");
    }

    #[actix_web::test]
    async fn a_batch_is_one_json_lines_object() {
        let dir = tempfile::tempdir().unwrap();
        let e = Exporter::to_dir(&dir.path().join("out")).unwrap();
        let body = json_lines(&[json!({"id": "1"}), json!({"id": "2", "a": [1]})]);
        e.put("cdk/s/2026-11-21/1-x.jsonl", body).await.unwrap();
        let text =
            std::fs::read_to_string(dir.path().join("out/cdk/s/2026-11-21/1-x.jsonl")).unwrap();
        assert_eq!(text, "{\"id\":\"1\"}\n{\"a\":[1],\"id\":\"2\"}\n");
    }

    #[actix_web::test]
    async fn a_write_that_keeps_failing_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let e = Exporter::to_dir(dir.path()).unwrap();
        // A file where the object's directory should be.
        std::fs::write(dir.path().join("blocked"), "x").unwrap();
        let err = e
            .put("blocked/s/x.jsonl", b"{}\n".to_vec())
            .await
            .unwrap_err();
        assert!(!err.is_empty());
    }
}
