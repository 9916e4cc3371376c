//! Scenario files: faults scheduled relative to the simulator's start.
//!
//! ```toml
//! [[faults]]
//! at = "20s"          # after start
//! provider = "tekion"
//! kind = "auth"       # auth | rate_limit | server_error | slow | malformed | pending_subscription
//! duration = "60s"
//! retry_after = "5s"  # rate_limit
//! latency = "3s"      # slow
//! ratio = 1.0         # share of requests (records for malformed)
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::data::PROVIDERS;
use super::faults::FaultKind;
use crate::config::{Problem, Problems};
use crate::domain::duration::parse_duration;

/// A fault as scheduled by a scenario or requested by the admin API.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub provider: String,
    pub kind: FaultKind,
    pub at: Duration,
    pub duration: Duration,
    pub retry_after: Duration,
    pub latency: Duration,
    pub ratio: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    faults: Vec<toml::Spanned<RawFault>>,
}

/// The fields of a fault, as a scenario file or the admin API gives them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub provider: String,
    pub kind: String,
    #[serde(default)]
    pub at: Option<String>,
    pub duration: String,
    #[serde(default)]
    pub retry_after: Option<String>,
    #[serde(default)]
    pub latency: Option<String>,
    #[serde(default)]
    pub ratio: Option<f64>,
}

impl RawFault {
    /// Validates into a spec; the error names the field.
    pub fn validate(&self) -> Result<FaultSpec, String> {
        if !PROVIDERS.contains(&self.provider.as_str()) {
            return Err(format!(
                "provider: unknown provider {:?} (known: {})",
                self.provider,
                PROVIDERS.join(", ")
            ));
        }
        let kind = FaultKind::parse(&self.kind).ok_or_else(|| {
            format!("kind: unknown kind {:?} (auth, rate_limit, server_error, slow, malformed, pending_subscription, invite_pending, token_expiry, format_drift)", self.kind)
        })?;
        let d = |field: &str, v: &Option<String>, default: Duration| -> Result<Duration, String> {
            v.as_deref().map_or(Ok(default), |s| {
                parse_duration(s).map_err(|e| format!("{field}: {e}"))
            })
        };
        let duration = parse_duration(&self.duration).map_err(|e| format!("duration: {e}"))?;
        if duration.is_zero() {
            return Err("duration: must be greater than 0".into());
        }
        let ratio = self.ratio.unwrap_or(1.0);
        if !(ratio > 0.0 && ratio <= 1.0) {
            return Err("ratio: must be in (0, 1]".into());
        }
        Ok(FaultSpec {
            provider: self.provider.clone(),
            kind,
            at: d("at", &self.at, Duration::ZERO)?,
            duration,
            retry_after: d("retry_after", &self.retry_after, Duration::from_secs(5))?,
            latency: d("latency", &self.latency, Duration::from_secs(3))?,
            ratio,
        })
    }
}

pub fn load_scenario(path: &Path) -> Result<Vec<FaultSpec>, Problems> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(path, None, format!("cannot read scenario: {e}")))?;
    parse_scenario(path, &text)
}

pub fn parse_scenario(path: &Path, text: &str) -> Result<Vec<FaultSpec>, Problems> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| Problem::from_toml(path, text, &e))?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, f) in raw.faults.iter().enumerate() {
        match f.get_ref().validate() {
            Ok(spec) => out.push(spec),
            Err(m) => problems.push(Problem::at_offset(
                path,
                text,
                f.span().start,
                format!("faults[{i}].{m}"),
            )),
        }
    }
    Problems::or_ok(problems, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_faults_with_defaults() {
        let text = "[[faults]]\nat = \"10s\"\nprovider = \"tekion\"\nkind = \"rate_limit\"\nduration = \"1m\"\n";
        let f = parse_scenario(Path::new("s.toml"), text).unwrap();
        assert_eq!(f[0].kind, FaultKind::RateLimit);
        assert_eq!(f[0].at, Duration::from_secs(10));
        assert_eq!(f[0].retry_after, Duration::from_secs(5));
    }

    #[test]
    fn bad_faults_name_line_and_field() {
        let text = "[[faults]]\nprovider = \"tekion\"\nkind = \"auth\"\nduration = \"1m\"\n\n[[faults]]\nprovider = \"acme\"\nkind = \"auth\"\nduration = \"1m\"\n";
        let err = parse_scenario(Path::new("s.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("s.toml:6: faults[1].provider: unknown provider \"acme\""),
            "{err}"
        );
    }
}
