//! Durations as written in config, rule and routing files: Prometheus' syntax (`500ms`, `30s`,
//! `5m`, `1h30m`, `30d`, `2w`, `1y`), the one syntax every file of syncwatch accepts.

use std::time::Duration;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error(
        "invalid duration {0:?}: expected a number followed by a unit (ms, s, m, h, d, w, y), e.g. \"30s\" or \"1h30m\""
    )]
    Invalid(String),
    #[error("invalid duration {0:?}: units must go from largest to smallest, each at most once")]
    Order(String),
    #[error("duration {0:?} out of range: at most 292y (Prometheus' limit)")]
    OutOfRange(String),
}

/// The longest duration accepted: what fits in a signed 64-bit count of nanoseconds, the limit
/// of Prometheus' (and Go's) durations, about 292 years.
pub const MAX_DURATION_MS: u64 = (i64::MAX / 1_000_000) as u64;

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses a Prometheus-style duration. `"0"` is accepted as zero, as Prometheus does.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    let mut last_unit_index: Option<usize> = None;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(DurationError::Invalid(input.to_string()));
        }
        let number: u64 = s[start..i]
            .parse()
            .map_err(|_| DurationError::Invalid(input.to_string()))?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(DurationError::Invalid(input.to_string()));
        };
        if last_unit_index.is_some_and(|last| index <= last) {
            return Err(DurationError::Order(input.to_string()));
        }
        last_unit_index = Some(index);
        total = number
            .checked_mul(UNITS[index].1)
            .and_then(|ms| total.checked_add(ms))
            .filter(|ms| *ms <= MAX_DURATION_MS)
            .ok_or_else(|| DurationError::OutOfRange(input.to_string()))?;
    }
    Ok(Duration::from_millis(total))
}

/// Formats a duration the way Prometheus prints one (`1h30m`, `500ms`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        if ms >= size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    out
}

/// Parses a duration for serde fields (`#[serde(with = "...")]` is not used: config keeps the raw
/// string and validates it, so errors can name the file and line).
pub fn parse_opt(input: Option<&str>, default: Duration) -> Result<Duration, DurationError> {
    input.map_or(Ok(default), parse_duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_compound_units() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86400)
        );
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn refuses_garbage_and_out_of_order_units() {
        assert!(matches!(parse_duration(""), Err(DurationError::Empty)));
        assert!(matches!(
            parse_duration("5"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("5 minutes"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("1.5s"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("30m1h"),
            Err(DurationError::Order(_))
        ));
        assert!(matches!(
            parse_duration("1s1s"),
            Err(DurationError::Order(_))
        ));
    }

    #[test]
    fn durations_past_prometheus_range_are_refused() {
        assert!(matches!(
            parse_duration("99999999999h"),
            Err(DurationError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_duration("99999999999999999999y"),
            Err(DurationError::Invalid(_)) | Err(DurationError::OutOfRange(_))
        ));
        assert_eq!(
            parse_duration("292y").unwrap(),
            Duration::from_millis(292 * 365 * 24 * 3600 * 1000)
        );
        assert!(parse_duration("293y").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in ["500ms", "30s", "1h30m", "2d", "1m5s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
