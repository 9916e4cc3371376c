//! Provider profiles for the benchmarks that sync thousands of connections.

use std::path::Path;

/// A shipped provider profile with a rate limit of 1,000 requests a second (burst 200) and
/// `max_concurrent_syncs` instead of its own, so thousands of connections keep their schedule.
pub fn with_rate_limit(repo: &Path, name: &str, max_concurrent_syncs: usize) -> String {
    let text =
        std::fs::read_to_string(repo.join("providers").join(format!("{name}.toml"))).unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with('[') {
            skipping = line.trim() == "[rate_limit]";
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out + &format!(
        "\n[rate_limit]\nrequests_per_second = 1000\nburst = 200\nmax_concurrent_syncs = {max_concurrent_syncs}\n"
    )
}
