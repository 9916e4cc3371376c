//! Seeding the data-freshness SLO's history of dealer connections with SQL, as
//! `record_slo_minute` would have written it, for the benchmarks that serve it (`sla`, `pages`).

use sqlx::Executor;
use syncwatch::slo::Tally;
use syncwatch::slo::history::{DAY_MS, Grain, MINUTE_MS, encode, place};

pub const PROVIDERS: [&str; 5] = ["tekion", "cdk", "xtime", "mykaarma", "dealerfx"];
pub const SLO: &str = "syncwatch-data-freshness";

pub fn connection(i: usize) -> (&'static str, String) {
    (PROVIDERS[i % PROVIDERS.len()], format!("dealer-{i:05}"))
}

pub fn group(i: usize) -> String {
    let (p, c) = connection(i);
    format!(r#"{{"connection":"{c}","provider":"{p}"}}"#)
}

/// Whether connection `i` was stale in minute `m` (minutes since the epoch): a few minutes a
/// day, more for some connections.
pub fn stale(i: usize, m: i64) -> bool {
    let h = (m as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h.is_multiple_of(if i.is_multiple_of(50) { 40 } else { 700 })
}

/// Writes every grain's rows of `days` days up to `now` for `connections` groups, as
/// `record_slo_minute` would have, and the progress mark.
pub async fn seed(url: &str, connections: usize, days: i64, now: i64) {
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let utc = jiff::tz::TimeZone::UTC;
    let first = (now - days * DAY_MS) / MINUTE_MS * MINUTE_MS;
    let last = now / MINUTE_MS * MINUTE_MS - MINUTE_MS;
    // The day grain's place of each UTC day (months are the only place a time zone matters).
    let day_places: Vec<_> = (first / DAY_MS..=last / DAY_MS)
        .map(|d| place(d * DAY_MS, Grain::Day, &utc))
        .collect();
    let mut values = Vec::new();
    let mut rows = 0;
    for i in 0..connections {
        // Rows by (grain, start): (end, slots); a row's slots are added minute by minute.
        let mut open: std::collections::BTreeMap<(&str, i64), (i64, Vec<Tally>)> =
            Default::default();
        let mut m = first;
        while m <= last {
            let tally = Tally {
                bad: if stale(i, m / MINUTE_MS) { 1.0 } else { 0.0 },
                total: 1.0,
            };
            for g in [Grain::Minute, Grain::Hour, Grain::Day] {
                if m < now - g.kept_ms() {
                    continue;
                }
                let p = match g {
                    Grain::Day => {
                        let mut p = day_places[((m / DAY_MS) - first / DAY_MS) as usize];
                        p.slot = ((m - p.row_start_ms) / DAY_MS) as usize;
                        p
                    }
                    _ => place(m, g, &utc),
                };
                let n = match g {
                    Grain::Minute => 60,
                    Grain::Hour => 24,
                    Grain::Day => ((p.row_end_ms - p.row_start_ms) / DAY_MS) as usize,
                };
                open.entry((g.as_str(), p.row_start_ms))
                    .or_insert_with(|| (p.row_end_ms, vec![Tally::default(); n]))
                    .1[p.slot]
                    .add(tally);
            }
            m += MINUTE_MS;
        }
        for ((grain, start), (end, slots)) in open {
            let hex: String = encode(&slots).iter().map(|b| format!("{b:02x}")).collect();
            let blob = if url.starts_with("sqlite") {
                format!("X'{hex}'")
            } else {
                format!("'\\x{hex}'::bytea")
            };
            values.push(format!(
                "('{SLO}', '{}', '{grain}', {start}, {end}, {blob})",
                group(i)
            ));
            rows += 1;
        }
        if values.len() >= 2_000 || i + 1 == connections {
            let sql = format!(
                "INSERT INTO slo_history (slo, grp, grain, start_at, end_at, slots) VALUES {}",
                values.join(", ")
            );
            pool.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
            values.clear();
        }
    }
    pool.execute(sqlx::AssertSqlSafe(format!(
        "INSERT INTO slo_progress (id, last_minute) VALUES (1, {last})"
    )))
    .await
    .unwrap();
    eprintln!("seeded {rows} rows for {connections} groups");
}
