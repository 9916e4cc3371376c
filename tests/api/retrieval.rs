//! Retrieval quality of the shipped runbooks, measured on `tests/retrieval/queries.yml` (on-call
//! and customer questions with the runbooks or resolved tickets that answer them) without
//! embeddings: fails under recall@1 0.85 or MRR@5 0.90.

use std::sync::Arc;

use syncwatch::runbooks::eval::{self, Scores};
use syncwatch::runbooks::index::{KnownNames, RunbookIndex};
use syncwatch::runbooks::load_runbooks;

/// The names a default `syncwatch.toml` gives the index: its providers and connections, the
/// alerts of its rule files and SLOs.
fn known_names(root: &std::path::Path) -> KnownNames {
    let no_env = |_: &str| None;
    let settings = syncwatch::config::load(&root.join("syncwatch.toml"), &no_env).unwrap();
    let loaded = syncwatch::startup::load_all(&settings, &no_env).unwrap();
    syncwatch::startup::known_names(&settings, &loaded)
}

#[test]
fn the_shipped_runbooks_answer_on_call_questions() {
    let root = super::helpers::repo();
    let runbooks = load_runbooks(&root.join("runbooks")).unwrap();
    let ids: Vec<String> = runbooks.iter().map(|r| r.id.clone()).collect();
    let index = Arc::new(RunbookIndex::build_with(runbooks, &known_names(&root)).unwrap());
    let tickets = eval::load_tickets(&root.join("tests/retrieval/tickets.yml")).unwrap();
    let queries = eval::load_queries(&root.join("tests/retrieval/queries.yml")).unwrap();
    assert!(queries.len() >= 60, "{} queries", queries.len());
    let searcher = eval::searcher(index, &tickets).unwrap();

    let (mut on_runbooks, mut on_tickets, mut misses) = (Vec::new(), Vec::new(), Vec::new());
    for q in &queries {
        for id in &q.relevant {
            assert!(ids.contains(id), "{:?} names no runbook {id}", q.q);
        }
        for id in &q.relevant_tickets {
            assert!(
                tickets.iter().any(|t| &t.id == id),
                "{:?} names no ticket {id}",
                q.q
            );
        }
        let ranked = eval::ranking(&searcher, q, None).unwrap();
        let relevant = if q.relevant.is_empty() {
            q.relevant_tickets.clone()
        } else {
            q.relevant.clone()
        };
        if ranked.first().is_none_or(|r| !relevant.contains(r)) {
            misses.push(format!(
                "  {:?}: got {:?}, wanted {:?}",
                q.q, ranked, relevant
            ));
        }
        if q.relevant.is_empty() {
            on_tickets.push((ranked, relevant));
        } else {
            on_runbooks.push((ranked, relevant));
        }
    }
    let all: Vec<_> = on_runbooks.iter().chain(&on_tickets).cloned().collect();
    let (r, t, a): (Scores, Scores, Scores) = (
        eval::score(&on_runbooks),
        eval::score(&on_tickets),
        eval::score(&all),
    );
    println!("runbooks {r}\ntickets  {t}\nall      {a}");
    println!("not first ({}):\n{}", misses.len(), misses.join("\n"));
    assert!(
        a.recall_at_1 >= 0.85 && a.mrr_at_5 >= 0.90,
        "recall@1 {:.3} (≥ 0.85) and MRR@5 {:.3} (≥ 0.90); misses:\n{}",
        a.recall_at_1,
        a.mrr_at_5,
        misses.join("\n")
    );
}

#[test]
fn a_bare_status_with_a_provider_finds_that_providers_quirk() {
    let root = super::helpers::repo();
    let runbooks = load_runbooks(&root.join("runbooks")).unwrap();
    let index = RunbookIndex::build_with(runbooks, &known_names(&root)).unwrap();
    for (q, want) in [
        ("tekion 401", "tekion-token-expired"),
        ("cdk 403", "cdk-subscription-pending"),
        ("xtime 403 on a new store", "xtime-invite-delay"),
        ("401 from the provider", "provider-auth-failing"),
        ("mykaarma 401", "provider-auth-failing"),
    ] {
        let r = index.lookup(q, &Default::default(), 3).unwrap();
        assert_eq!(r[0].id, want, "{q}: {r:?}");
    }
}
