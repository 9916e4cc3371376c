//! Notification templates (Go's text/template): any text is parsed against Alertmanager's
//! functions and rendered, as text and as HTML, with a notification's data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syncwatch::gotemplate::Templates;
use syncwatch::gotemplate::data::Data;

const DATA: &str = r#"{"receiver":"team","status":"firing","externalURL":"http://sw",
  "groupLabels":{"alertname":"A"},"commonLabels":{"alertname":"A","severity":"critical"},
  "commonAnnotations":{"summary":"<b>&</b>"},
  "alerts":[{"status":"firing","labels":{"alertname":"A","i":"1"},"annotations":{"summary":"s"},
    "startsAt":"2024-01-02T03:04:05.678Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"f"}]}"#;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut set = Templates::alertmanager();
        let _ = set.add("fuzz.tmpl", text);
        let d: Data = serde_json::from_str(DATA).unwrap_or_default();
        let v = d.value();
        let _ = set.render("t", text, &v);
        let _ = set.render_html("t", text, &v);
    }
});
