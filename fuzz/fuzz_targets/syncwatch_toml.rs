//! `syncwatch.toml`: any text is parsed and validated (no file is read: paths only resolve);
//! problems are answers with `file:line`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let env = |k: &str| (k == "DATABASE_URL").then(|| "postgres://u:p@h/db".to_string());
        let _ = syncwatch::config::parse(std::path::Path::new("syncwatch.toml"), text, &env);
    }
});
