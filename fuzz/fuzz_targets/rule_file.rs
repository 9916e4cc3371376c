//! Prometheus rule files: any text is loaded as `rules/fuzz.yml` (YAML, groups, PromQL,
//! templates, durations); problems are answers with `file:line`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ =
            syncwatch::rules::file::parse_rule_file(std::path::Path::new("rules/fuzz.yml"), text);
    }
});
