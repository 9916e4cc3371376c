//! Silences: matchers and a time window; an alert all of whose labels satisfy the matchers is
//! muted while the silence is active. Muting stops firing notifications only: the resolution of
//! an alert whose firing was notified is always sent.

use serde::{Deserialize, Serialize};

use super::labels::Labels;
use super::matcher::{MatchOp, Matcher, MatcherError};

/// A matcher as the Alertmanager API writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiMatcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl ApiMatcher {
    pub fn from_matcher(m: &Matcher) -> Self {
        let (is_regex, is_equal) = match m.op {
            MatchOp::Equal => (false, true),
            MatchOp::NotEqual => (false, false),
            MatchOp::Regex(_) => (true, true),
            MatchOp::NotRegex(_) => (true, false),
        };
        Self {
            name: m.name.clone(),
            value: m.value.clone(),
            is_regex,
            is_equal,
        }
    }

    pub fn to_matcher(&self) -> Result<Matcher, MatcherError> {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => "=",
            (false, false) => "!=",
            (true, true) => "=~",
            (true, false) => "!~",
        };
        let escaped = self.value.replace('\\', "\\\\").replace('"', "\\\"");
        Matcher::parse(&format!("{}{}\"{}\"", self.name, op, escaped))
    }
}

/// Where a silence is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

/// A validated silence.
#[derive(Debug, Clone)]
pub struct Silence {
    pub id: String,
    pub api_matchers: Vec<ApiMatcher>,
    pub matchers: Vec<Matcher>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("matchers: at least one matcher is required")]
    NoMatchers,
    #[error("matchers[{0}]: {1}")]
    Matcher(usize, MatcherError),
    #[error(
        "matchers: a silence must have at least one matcher that does not match the empty string"
    )]
    MatchesEverything,
    #[error("endsAt: must be after startsAt")]
    EndBeforeStart,
    #[error("createdBy: must not be empty")]
    NoCreator,
}

/// Whether a positive matcher (`=`, `=~`) matches the empty string; a negative one never
/// counts (Alertmanager's `matchesEmpty`).
fn matches_empty(m: &Matcher) -> bool {
    match &m.op {
        MatchOp::Equal => m.value.is_empty(),
        MatchOp::Regex(re) => re.is_match(""),
        MatchOp::NotEqual | MatchOp::NotRegex(_) => false,
    }
}

impl Silence {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        api_matchers: Vec<ApiMatcher>,
        starts_at_ms: i64,
        ends_at_ms: i64,
        created_by: String,
        comment: String,
        updated_at_ms: i64,
    ) -> Result<Self, SilenceError> {
        if api_matchers.is_empty() {
            return Err(SilenceError::NoMatchers);
        }
        let matchers = api_matchers
            .iter()
            .enumerate()
            .map(|(i, m)| m.to_matcher().map_err(|e| SilenceError::Matcher(i, e)))
            .collect::<Result<Vec<_>, _>>()?;
        // As Alertmanager (silence.go, `matchesEmpty`): refused when every matcher is an `=` or
        // `=~` that matches the empty string. A negative matcher never counts, so a silence of
        // only `team!~"db.+"` is accepted and mutes every alert without such a team.
        if matchers.iter().all(matches_empty) {
            return Err(SilenceError::MatchesEverything);
        }
        if ends_at_ms <= starts_at_ms {
            return Err(SilenceError::EndBeforeStart);
        }
        if created_by.trim().is_empty() {
            return Err(SilenceError::NoCreator);
        }
        Ok(Self {
            id,
            api_matchers,
            matchers,
            starts_at_ms,
            ends_at_ms,
            created_by,
            comment,
            updated_at_ms,
        })
    }

    pub fn state(&self, now_ms: i64) -> SilenceState {
        if now_ms < self.starts_at_ms {
            SilenceState::Pending
        } else if now_ms < self.ends_at_ms {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Whether the silence mutes an alert with these labels now.
    pub fn mutes(&self, labels: &Labels, now_ms: i64) -> bool {
        self.state(now_ms) == SilenceState::Active
            && self.matchers.iter().all(|m| m.matches(labels))
    }

    /// Ends the silence now (a pending one never starts).
    pub fn expire(&mut self, now_ms: i64) {
        if self.starts_at_ms > now_ms {
            self.starts_at_ms = now_ms;
        }
        if self.ends_at_ms > now_ms {
            self.ends_at_ms = now_ms;
        }
        self.updated_at_ms = now_ms;
    }
}

/// The ids of the silences muting these labels now.
pub fn silenced_by(silences: &[Silence], labels: &Labels, now_ms: i64) -> Vec<String> {
    silences
        .iter()
        .filter(|s| s.mutes(labels, now_ms))
        .map(|s| s.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, value: &str, is_regex: bool, is_equal: bool) -> ApiMatcher {
        ApiMatcher {
            name: name.into(),
            value: value.into(),
            is_regex,
            is_equal,
        }
    }

    fn silence(matchers: Vec<ApiMatcher>) -> Result<Silence, SilenceError> {
        Silence::new(
            "s1".into(),
            matchers,
            1_000,
            2_000,
            "me".into(),
            "maintenance".into(),
            0,
        )
    }

    #[test]
    fn an_active_silence_mutes_matching_alerts_only() {
        let s = silence(vec![
            m("provider", "cdk|tekion", true, true),
            m("severity", "info", false, false),
        ])
        .unwrap();
        let cdk: Labels = [("provider", "cdk"), ("severity", "critical")]
            .into_iter()
            .collect();
        let xtime: Labels = [("provider", "xtime"), ("severity", "critical")]
            .into_iter()
            .collect();
        assert!(s.mutes(&cdk, 1_500));
        assert!(!s.mutes(&xtime, 1_500));
        assert!(!s.mutes(&cdk, 999), "pending");
        assert!(!s.mutes(&cdk, 2_000), "expired");
        assert_eq!(s.state(2_000), SilenceState::Expired);
    }

    /// Alertmanager accepts a silence of negative matchers only: it mutes every alert whose
    /// label is absent or other.
    #[test]
    fn a_silence_of_only_negative_matchers_mutes_alerts_without_the_label() {
        for matchers in [
            vec![m("team", "db.+", true, false)],
            vec![m("env", "prod", false, false)],
        ] {
            let s = silence(matchers).unwrap();
            let all = |l: &[(&str, &str)]| {
                s.matchers
                    .iter()
                    .all(|m| m.matches(&l.iter().copied().collect()))
            };
            assert!(all(&[("alertname", "A")]));
            assert!(all(&[("team", "web"), ("env", "dev")]));
            assert!(!all(&[("team", "dba"), ("env", "prod")]));
        }
    }

    #[test]
    fn invalid_silences_say_why() {
        assert_eq!(silence(vec![]).unwrap_err(), SilenceError::NoMatchers);
        assert_eq!(
            silence(vec![m("a", ".*", true, true)]).unwrap_err(),
            SilenceError::MatchesEverything
        );
        assert_eq!(
            silence(vec![m("a", "", false, true), m("b", "x|", true, true)]).unwrap_err(),
            SilenceError::MatchesEverything
        );
        assert!(matches!(
            silence(vec![m("a", "(", true, true)]).unwrap_err(),
            SilenceError::Matcher(0, _)
        ));
        let backwards = Silence::new(
            "x".into(),
            vec![m("a", "b", false, true)],
            5,
            5,
            "me".into(),
            String::new(),
            0,
        );
        assert_eq!(backwards.unwrap_err(), SilenceError::EndBeforeStart);
    }

    #[test]
    fn expiring_ends_it_now_and_a_pending_one_never_starts() {
        let mut s = silence(vec![m("a", "b", false, true)]).unwrap();
        s.expire(500);
        assert_eq!((s.starts_at_ms, s.ends_at_ms), (500, 500));
        assert_eq!(s.state(500), SilenceState::Expired);
    }
}
