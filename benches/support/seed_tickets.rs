//! Seeding a year of tickets with SQL, for the benchmarks that serve them (`tickets`, `pages`).

use std::time::Instant;

use sqlx::Executor;

const PROVIDERS: [&str; 5] = ["tekion", "cdk", "xtime", "mykaarma", "dealerfx"];
const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];
const DAY_MS: i64 = 86_400_000;

/// Writes `tickets` tickets and `per` events each, spread over the year before `now`.
pub async fn seed(db: &std::path::Path, tickets: usize, per: usize, now: i64) {
    let url = format!("sqlite://{}?mode=rwc", db.display());
    // The schema, as syncwatch makes it.
    syncwatch::store::Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap()
        .close()
        .await;
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    pool.execute("PRAGMA journal_mode = WAL").await.unwrap();
    pool.execute("PRAGMA synchronous = OFF").await.unwrap();
    let started = Instant::now();
    let span = 365 * DAY_MS;
    let mut seq = 0i64;
    const BATCH: usize = 2_000;
    // A multiple of 100, so a ticket and the one `cycle` before it have the same status kind.
    let cycle = (tickets / 25 / 100 * 100).max(100);
    for chunk in (0..tickets).collect::<Vec<_>>().chunks(BATCH) {
        let mut t_sql = String::from(
            "INSERT INTO tickets (id, dedup_key, status, severity, priority, tier, title, summary, labels, \
             provider, connection, alertname, assignee, occurrences, created_at, acknowledged_at, resolved_at, \
             closed_at, updated_at, resolution, resolved_by, version, open_since, highest_tier, \
             previous_created_at, second_previous_created_at) VALUES ",
        );
        let mut e_sql = String::from(
            "INSERT INTO ticket_events (id, ticket_id, at, kind, detail, actor, from_value, to_value, seq) VALUES ",
        );
        for (n, &i) in chunk.iter().enumerate() {
            let created_of = |i: usize| now - span + (span / tickets as i64) * i as i64;
            let created = created_of(i);
            let provider = PROVIDERS[i % 5];
            let connection = format!("d{:04}", i % 2_000);
            let alertname = format!("Alert{}", i % 20);
            let severity = SEVERITIES[i % 4];
            let priority = ["P1", "P2", "P3", "P4"][i % 4];
            let tier = ["L1", "L1", "L1", "L2", "L3"][i % 5];
            let (status, acked, resolved, closed) = match i % 100 {
                0 | 1 => (
                    "open",
                    "NULL".to_string(),
                    "NULL".to_string(),
                    "NULL".to_string(),
                ),
                2 => (
                    "acknowledged",
                    (created + 300_000).to_string(),
                    "NULL".into(),
                    "NULL".into(),
                ),
                // Resolved in the last three days (older ones were closed by `close_after`).
                3..=12 if created > now - 3 * DAY_MS => (
                    "resolved",
                    (created + 300_000).to_string(),
                    (created + 3_600_000).to_string(),
                    "NULL".into(),
                ),
                _ => (
                    "closed",
                    (created + 300_000).to_string(),
                    (created + 3_600_000).to_string(),
                    (created + 3 * DAY_MS).to_string(),
                ),
            };
            // Inactive tickets share their key with the tickets `cycle` before and after them
            // (the same problem ticketed about twice a month); active ones have keys of their
            // own (one active ticket per key).
            let (key, previous, second) = if status == "open" || status == "acknowledged" {
                (format!("n={i}"), None, None)
            } else {
                let earlier = |k: usize| (i >= k * cycle).then(|| created_of(i - k * cycle));
                (format!("k={}", i % cycle), earlier(1), earlier(2))
            };
            let sql_int = |v: Option<i64>| v.map_or("NULL".to_string(), |v| v.to_string());
            let (previous, second) = (sql_int(previous), sql_int(second));
            if n > 0 {
                t_sql.push(',');
            }
            t_sql.push_str(&format!(
                "('t{i:08}', 'alertname={alertname},provider={provider},connection={connection},{key}', '{status}', \
                 '{severity}', '{priority}', '{tier}', '{alertname} {provider} {connection}', 'sync failing', \
                 '{{\"alertname\":\"{alertname}\",\"connection\":\"{connection}\",\"provider\":\"{provider}\",\"severity\":\"{severity}\"}}', \
                 '{provider}', '{connection}', '{alertname}', 'ana', 1, {created}, {acked}, {resolved}, {closed}, {created}, \
                 NULL, NULL, {per}, {created}, '{tier}', {previous}, {second})"
            ));
            for k in 0..per {
                seq += 1;
                let kind = [
                    "created",
                    "occurrence",
                    "acknowledged",
                    "assigned",
                    "commented",
                ][k % 5];
                if n > 0 || k > 0 {
                    e_sql.push(',');
                }
                e_sql.push_str(&format!(
                    "('e{seq:010}', 't{i:08}', {}, '{kind}', '', 'ana', NULL, NULL, {seq})",
                    created + k as i64 * 60_000
                ));
            }
        }
        let mut tx = pool.begin().await.unwrap();
        tx.execute(sqlx::AssertSqlSafe(t_sql)).await.unwrap();
        tx.execute(sqlx::AssertSqlSafe(e_sql)).await.unwrap();
        tx.commit().await.unwrap();
        let done = chunk[chunk.len() - 1] + 1;
        if done % 100_000 == 0 {
            eprintln!(
                "seeded {done} tickets in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    sqlx::query("UPDATE ticket_event_seq SET last = $1 WHERE id = 1")
        .bind(seq)
        .execute(&pool)
        .await
        .unwrap();
    pool.execute("ANALYZE").await.unwrap();
    pool.close().await;
    println!(
        "seeded {tickets} tickets and {seq} events in {:.0} s ({:.0} MB)",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(db).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
}
