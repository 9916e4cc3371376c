//! `RunbookSearcher`: runs lookups on a `SyncArbiter`, since a search blocks its thread.

use std::sync::Arc;

use actix::prelude::*;

use super::index::{IndexError, LookupResult, RunbookIndex};
use crate::domain::Labels;

/// Look up runbooks for a query and/or an alert's labels.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<LookupResult>, IndexError>")]
pub struct Lookup {
    pub query: String,
    pub labels: Labels,
    pub limit: usize,
}

pub struct RunbookSearcher(pub Arc<RunbookIndex>);

impl Actor for RunbookSearcher {
    type Context = SyncContext<Self>;
}

impl Handler<Lookup> for RunbookSearcher {
    type Result = Result<Vec<LookupResult>, IndexError>;

    fn handle(&mut self, msg: Lookup, _: &mut Self::Context) -> Self::Result {
        self.0.lookup(&msg.query, &msg.labels, msg.limit)
    }
}
