//! Replaying dead letters: each goes back into the stage that failed it, oldest first, in
//! batches of one stream of one connection at one stage, and the replay waits until the stage
//! and those after it are through with each batch. A letter that goes through leaves the DLQ
//! (the stage deletes it); one that fails again stays. Used by `POST /api/v1/dlq/replay` and the
//! provider page's replay button.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{RecordBatch, StageLink, completion};
use crate::store::{DlqFilter, Store, StoreError, StoredDeadLetter};

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Ids the filter named that are no dead letter.
    #[error("no dead letter {0:?}")]
    Unknown(Vec<String>),
    /// A stage stopped (shutting down) before it took or finished a batch.
    #[error("a pipeline stage stopped")]
    StageStopped,
}

/// Letters of a stage that is not configured any more: left in the DLQ.
#[derive(Debug, PartialEq)]
pub struct SkippedStage {
    pub pipeline: String,
    pub stage: String,
    pub records: usize,
}

/// What a replay did.
#[derive(Debug, PartialEq)]
pub struct Replayed {
    /// Sent back into their stage.
    pub replayed: usize,
    /// Went through this time (out of the DLQ).
    pub resolved: usize,
    /// Failed again (still in the DLQ).
    pub still_failing: usize,
    pub skipped: Vec<SkippedStage>,
}

/// Where a batch goes: (pipeline, stage, provider, connection, stream).
type BatchKey = (String, String, String, String, String);

/// The letters as batches, oldest first within each: `letters` come newest first (as the store
/// lists them).
fn batches(letters: &[StoredDeadLetter]) -> BTreeMap<BatchKey, Vec<&StoredDeadLetter>> {
    let mut groups: BTreeMap<BatchKey, Vec<&StoredDeadLetter>> = BTreeMap::new();
    for l in letters.iter().rev() {
        let d = &l.letter;
        groups
            .entry((
                d.pipeline.clone(),
                d.stage.clone(),
                d.provider.clone(),
                d.connection.clone(),
                d.stream.clone(),
            ))
            .or_default()
            .push(l);
    }
    groups
}

/// Replays the dead letters `filter` selects (up to its `limit`) through `stages`.
pub async fn replay(
    store: &Store,
    stages: &BTreeMap<(String, String), StageLink>,
    filter: &DlqFilter,
) -> Result<Replayed, ReplayError> {
    let (letters, _) = store.list_dead_letters(filter).await?;
    let unknown: Vec<String> = filter
        .ids
        .iter()
        .filter(|id| !letters.iter().any(|l| &l.id == *id))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(ReplayError::Unknown(unknown));
    }
    let mut replayed = 0usize;
    let mut skipped = Vec::new();
    for ((pipeline, stage, provider, connection, stream), batch) in batches(&letters) {
        let Some(link) = stages.get(&(pipeline.clone(), stage.clone())) else {
            skipped.push(SkippedStage {
                pipeline,
                stage,
                records: batch.len(),
            });
            continue;
        };
        // A record that is not JSON goes back as the text it was.
        let records: Vec<Value> = batch
            .iter()
            .map(|l| {
                serde_json::from_str(&l.letter.record)
                    .unwrap_or(Value::String(l.letter.record.clone()))
            })
            .collect();
        replayed += records.len();
        let (done, finished) = completion();
        link.send(RecordBatch {
            provider,
            connection,
            stream,
            records,
            dlq_ids: batch.iter().map(|l| l.id.clone()).collect(),
            ticket: 0,
            done: Some(done),
        })
        .await
        .map_err(|_| ReplayError::StageStopped)?;
        // Until the stage and those after it are through with the records.
        if !finished.wait().await {
            return Err(ReplayError::StageStopped);
        }
    }
    // What is still in the DLQ failed again (or was skipped).
    let (left, _) = store
        .list_dead_letters(&DlqFilter {
            ids: letters.iter().map(|l| l.id.clone()).collect(),
            limit: letters.len().max(1) as i64,
            ..DlqFilter::default()
        })
        .await?;
    let skipped_n: usize = skipped.iter().map(|s| s.records).sum();
    let still_failing = left.len().saturating_sub(skipped_n);
    Ok(Replayed {
        replayed,
        resolved: replayed.saturating_sub(still_failing),
        still_failing,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorClass;
    use crate::store::DeadLetter;

    fn letter(id: &str, stream: &str, at: i64) -> StoredDeadLetter {
        StoredDeadLetter {
            id: id.into(),
            letter: DeadLetter {
                pipeline: "dms".into(),
                stage: "store".into(),
                provider: "cdk".into(),
                connection: "d1".into(),
                stream: stream.into(),
                record: "{}".into(),
                error: "x".into(),
                error_class: ErrorClass::Schema,
            },
            attempts: 1,
            created_at_ms: at,
        }
    }

    #[test]
    fn letters_go_back_oldest_first_one_batch_per_stream() {
        // Newest first, as listed.
        let listed = [
            letter("c", "ros", 3),
            letter("b", "deals", 2),
            letter("a", "ros", 1),
        ];
        let got: Vec<(String, Vec<&str>)> = batches(&listed)
            .into_iter()
            .map(|(k, v)| (k.4, v.iter().map(|l| l.id.as_str()).collect()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("deals".to_string(), vec!["b"]),
                ("ros".to_string(), vec!["a", "c"])
            ]
        );
    }
}
