//! Annotation and label templates: any text is parsed as a template and rendered with labels
//! and a value (the first 8 bytes of the input, as a float, so NaN, infinities and huge values
//! come too).
#![no_main]

use libfuzzer_sys::fuzz_target;
use syncwatch::domain::Labels;
use syncwatch::rules::template::{Template, TemplateEnv};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let value = f64::from_le_bytes(data[..8].try_into().unwrap_or_default());
    if let Ok(text) = std::str::from_utf8(&data[8..]) {
        if let Ok(t) = Template::parse("Fuzz", text) {
            let labels: Labels = [("provider", "tekion"), ("connection", "dealer-001")]
                .into_iter()
                .collect();
            let query = |_: &str| Ok(vec![(labels.clone(), value)]);
            let _ = t.render(&labels, value, &TemplateEnv::default(), Some(&query));
        }
    }
});
