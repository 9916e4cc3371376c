//! A question for the runbook assistant: any text is understood (providers, connections,
//! statuses, alerts, typos) and ranked over the shipped runbooks, and a model's reply (the same
//! bytes) is checked for citations against their passages; none of it may panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use syncwatch::runbooks::answer::{check_model_answer, passages};
use syncwatch::runbooks::index::{KnownNames, RunbookIndex};

fn index() -> &'static Arc<RunbookIndex> {
    static INDEX: OnceLock<Arc<RunbookIndex>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../runbooks");
        let names = KnownNames {
            providers: vec!["tekion".into(), "dealerfx".into()],
            connections: vec![("dealer-001".into(), "tekion".into())],
            alerts: vec!["StageIteratorAgeHigh".into()],
        };
        let runbooks = syncwatch::runbooks::load_runbooks(&dir).expect("shipped runbooks load");
        Arc::new(RunbookIndex::build_with(runbooks, &names).expect("index"))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let index = index();
        let ranked = index
            .search(text, &Default::default(), 5, None)
            .expect("a search does not fail");
        let runbooks: Vec<_> = ranked
            .results
            .iter()
            .filter_map(|r| index.get(&r.id))
            .collect();
        let context = passages(&runbooks, &[], |k, id| format!("http://x/{k}/{id}"));
        let _ = check_model_answer(text, &context);
    }
});
