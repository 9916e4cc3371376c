//! `POST /api/v2/alerts` bodies: any bytes are read as Alertmanager's postable alerts and
//! validated; a refusal names the item, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syncwatch::api::alertmanager::{PostableAlert, parse_alerts};

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = serde_json::from_slice::<Vec<PostableAlert>>(data) {
        if let Ok(alerts) = parse_alerts(items, 1_796_000_000_000) {
            for (a, _) in alerts {
                let _ = a.fingerprint();
            }
        }
    }
});
