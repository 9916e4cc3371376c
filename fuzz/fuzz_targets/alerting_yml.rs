//! `alerting.yml` (Alertmanager's format): any text is parsed and validated, with `${VAR}`
//! reading a fixed environment; problems are answers with `file:line`. Its `/api/v2/status`
//! form (secrets masked) is computed too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let env = |k: &str| (k == "SLACK_TOKEN").then(|| "xoxb-fuzz".to_string());
        let _ =
            syncwatch::alerting::config::parse(std::path::Path::new("alerting.yml"), text, &env);
        let _ = syncwatch::alerting::config::redacted_yaml(text);
    }
});
