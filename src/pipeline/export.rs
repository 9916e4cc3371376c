//! The `export` stage: each batch becomes one JSON Lines object in the pipeline's export
//! directory (through `object_store`), at `<provider>/<stream>/<YYYY-MM-DD>/<millis>-<id>.jsonl`.
//! A failed write is retried; a batch that still cannot be written goes to the DLQ.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value;

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
