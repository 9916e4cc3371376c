//! The runbook assistant's retrieval: quality and speed.
//!
//! 1. Quality on `tests/retrieval/queries.yml` over the shipped runbooks and the resolved-ticket
//!    fixtures: recall@1, recall@3, MRR@5, nDCG@5, lexical only, and, with `--embeddings URL
//!    MODEL` (an OpenAI-compatible `/v1/embeddings`, e.g. `bench/embeddings_server.py`), with
//!    the question's and runbooks' vectors fused by reciprocal rank.
//! 2. Speed: 1,000 runbooks and 100,000 resolved tickets (the shipped ones repeated with
//!    variations and 5,000 made-up words, so the vocabulary grows as a real corpus does), then
//!    every evaluation question 25 times through `RunbookSearcher::lookup`, what both
//!    `POST /api/v1/runbooks/lookup` and `/assistant/ask` run on the search thread (runbooks,
//!    limit 5, and 3 similar tickets): p50 / p99 / max (target p99 ≤ 20 ms), and the index
//!    build time.
//!
//! No peer answers runbook questions on this machine, so there is no ratio.
//!
//! Run: `cargo bench --bench assistant` (or `bench/assistant.sh`), `-- --embeddings URL MODEL`
//! for the dense table, `-- --runbooks N --tickets N` for another scale.

use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use syncwatch::runbooks::eval::{self, EvalQuery, FixtureTicket};
use syncwatch::runbooks::index::RunbookIndex;
use syncwatch::runbooks::openai::{ModelClient, ModelEndpoint};
use syncwatch::runbooks::{Runbook, load_runbooks};

const PROVIDERS: [&str; 5] = ["tekion", "cdk", "xtime", "mykaarma", "dealerfx"];

/// The values after flag `name`, if given with at least one.
fn arg(name: &str) -> Option<Vec<String>> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    let values = args[at + 1..].to_vec();
    if values.is_empty() {
        eprintln!("{name} needs a value (see the header of benches/assistant.rs)");
        std::process::exit(2);
    }
    Some(values)
}

fn quality(
    label: &str,
    index: Arc<RunbookIndex>,
    tickets: &[FixtureTicket],
    queries: &[EvalQuery],
    vectors: Option<&[Vec<f32>]>,
) {
    let searcher = eval::searcher(index, tickets).expect("index");
    let mut rankings = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let v = vectors.map(|v| v[i].clone());
        let ranked = eval::ranking(&searcher, q, v).expect("lookup");
        let relevant = if q.relevant.is_empty() {
            q.relevant_tickets.clone()
        } else {
            q.relevant.clone()
        };
        rankings.push((ranked, relevant));
    }
    println!("{label:<28} {}", eval::score(&rankings));
}

fn embed(client: &ModelClient, texts: Vec<String>) -> Vec<Vec<f32>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut out = Vec::new();
    for chunk in texts.chunks(32) {
        out.extend(rt.block_on(client.embed(chunk)).expect("embeddings"));
    }
    out
}

/// A made-up word of 4 to 10 letters.
fn word(rng: &mut StdRng) -> String {
    let n = rng.random_range(4..=10);
    (0..n)
        .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
        .collect()
}

fn main() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shipped = load_runbooks(&root.join("runbooks")).expect("runbooks");
    let tickets = eval::load_tickets(&root.join("tests/retrieval/tickets.yml")).expect("tickets");
    let queries = eval::load_queries(&root.join("tests/retrieval/queries.yml")).expect("queries");
    let no_env = |_: &str| None;
    let settings = syncwatch::config::load(&root.join("syncwatch.toml"), &no_env).expect("config");
    let loaded = syncwatch::startup::load_all(&settings, &no_env).expect("load");
    let names = syncwatch::startup::known_names(&settings, &loaded);

    println!(
        "== retrieval quality: {} questions, {} runbooks, {} resolved tickets",
        queries.len(),
        shipped.len(),
        tickets.len()
    );
    let index = Arc::new(RunbookIndex::build_with(shipped.clone(), &names).expect("index"));
    quality(
        "lexical (BM25 + entities)",
        index.clone(),
        &tickets,
        &queries,
        None,
    );
    if let Some(e) = arg("--embeddings") {
        let client = ModelClient::new(ModelEndpoint {
            url: e[0].trim_end_matches('/').to_string(),
            model: e
                .get(1)
                .cloned()
                .unwrap_or_else(|| "all-MiniLM-L6-v2".into()),
            api_key: None,
            timeout: std::time::Duration::from_secs(60),
        })
        .expect("client");
        let t = Instant::now();
        let rv = embed(
            &client,
            shipped.iter().map(RunbookIndex::embedding_text).collect(),
        );
        let qv = embed(&client, queries.iter().map(|q| q.q.clone()).collect());
        println!(
            "embedded {} runbooks and {} questions in {:.1} s ({})",
            rv.len(),
            qv.len(),
            t.elapsed().as_secs_f64(),
            client.model()
        );
        index.set_vectors(Arc::new(rv));
        quality(
            "hybrid (RRF with embeddings)",
            index.clone(),
            &tickets,
            &queries,
            Some(&qv),
        );
    }

    let n_runbooks: usize = arg("--runbooks")
        .and_then(|a| a[0].parse().ok())
        .unwrap_or(1_000);
    let n_tickets: usize = arg("--tickets")
        .and_then(|a| a[0].parse().ok())
        .unwrap_or(100_000);
    let mut rng = StdRng::seed_from_u64(7);
    let pool: Vec<String> = (0..5_000).map(|_| word(&mut rng)).collect();
    let mut runbooks: Vec<Runbook> = shipped.clone();
    for i in shipped.len()..n_runbooks {
        let mut rb = shipped[i % shipped.len()].clone();
        let extra: Vec<&str> = (0..60)
            .map(|_| pool.choose(&mut rng).unwrap().as_str())
            .collect();
        rb.id = format!("{}-{i}", rb.id);
        rb.title = format!("{} ({})", rb.title, extra[..3].join(" "));
        rb.body = format!("{}\n\n## Notes\n{}\n", rb.body, extra.join(" "));
        rb.providers = vec![PROVIDERS.choose(&mut rng).unwrap().to_string()];
        runbooks.push(rb);
    }
    let mut past = Vec::with_capacity(n_tickets);
    for i in 0..n_tickets {
        let mut t = tickets[i % tickets.len()].clone();
        let extra: Vec<&str> = (0..25)
            .map(|_| pool.choose(&mut rng).unwrap().as_str())
            .collect();
        t.id = format!("{}-{i}", t.id);
        t.provider = Some(PROVIDERS.choose(&mut rng).unwrap().to_string());
        t.connection = Some(format!("dealer-{:03}", rng.random_range(0..500)));
        t.summary = format!("{} {}", t.summary, extra[..15].join(" "));
        t.resolution = t
            .resolution
            .map(|r| format!("{r} {}", extra[15..].join(" ")));
        past.push(t);
    }
    let t = Instant::now();
    let index = Arc::new(RunbookIndex::build_with(runbooks, &names).expect("index"));
    let built_runbooks = t.elapsed();
    let t = Instant::now();
    let searcher = eval::searcher(index, &past).expect("tickets");
    let built_tickets = t.elapsed();
    println!(
        "\n== lookup speed: {n_runbooks} runbooks (indexed in {:.2} s), {n_tickets} resolved tickets (indexed in {:.2} s)",
        built_runbooks.as_secs_f64(),
        built_tickets.as_secs_f64()
    );
    let mut times = Vec::new();
    for round in 0..25 {
        for q in &queries {
            let msg = syncwatch::runbooks::Lookup {
                query: q.q.clone(),
                labels: Default::default(),
                limit: 5,
                vector: None,
                tickets: 3,
                tickets_since_ms: 0,
            };
            let t = Instant::now();
            let r = searcher.lookup(msg).expect("lookup");
            times.push(t.elapsed());
            if round == 0 && r.ranked.results.is_empty() && r.tickets.is_empty() {
                println!("  (no result for {:?})", q.q);
            }
        }
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{} lookups: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms (target p99 ≤ 20 ms)",
        times.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3
    );
}
