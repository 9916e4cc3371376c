//! `POST /api/v1/events` bodies: any bytes are checked (all or nothing) and folded per stage;
//! a refusal names the event and field, never a panic or an overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = syncwatch::pipeline::events::parse(data, 1_796_000_000_000) {
        let _ = syncwatch::pipeline::events::fold(events);
    }
});
