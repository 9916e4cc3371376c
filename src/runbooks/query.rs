//! Understanding an on-call question before it is searched: which providers (in any spelling),
//! connections, HTTP statuses, error classes, alert names (whole or partial) and metric names it
//! names, and the words to search for, with CamelCase names split into words and misspelled
//! words corrected against the knowledge base's own vocabulary.
//!
//! Pure: [`Vocabulary`] is built once from the runbooks, the configured providers and the rule
//! files; [`Vocabulary::understand`] reads one question. The index uses the entities as boosts
//! and filters (`index.rs`), the ticket index as filters (`past_tickets.rs`).

use std::collections::{BTreeSet, HashMap};

use crate::domain::ErrorClass;

/// What syncwatch knows the names of.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Provider name by its squashed spelling (`dealerfx` for `dealer-fx`).
    providers: HashMap<String, String>,
    /// Configured connection id (lowercase) → its provider.
    connections: HashMap<String, String>,
    /// Alert names, and the same lowercased.
    alerts: Vec<(String, String)>,
    /// Lowercase words of the knowledge base with the number of documents holding them, by
    /// length (typo candidates differ in length by at most 2).
    words_by_len: HashMap<usize, Vec<(String, u32)>>,
    words: HashMap<String, u32>,
}

/// A question, understood.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Understood {
    /// Provider names as configured (`dealerfx`), whatever the spelling in the question.
    pub providers: Vec<String>,
    /// Connection ids, lowercased.
    pub connections: Vec<String>,
    /// HTTP statuses, from numbers (`401`) or reason phrases (`Too Many Requests`).
    pub statuses: Vec<u16>,
    /// From the statuses, the class names and the phrases of [`CLASS_PHRASES`].
    pub error_classes: Vec<ErrorClass>,
    /// Known alert names the question names whole, in words (`connection stale`) or in part
    /// (`IteratorAgeHigh` names `StageIteratorAgeHigh`).
    pub alerts: Vec<String>,
    /// Alert names the question's words begin or end (`sync success` for
    /// `SyncSuccessBudgetBurn` and `SyncSuccessBudgetBurnNoData`): a boost, not a mapping.
    pub alert_hints: Vec<String>,
    /// `syncwatch_*` metric names.
    pub metrics: Vec<String>,
    /// `(misspelled, corrected)` words.
    pub corrections: Vec<(String, String)>,
    /// What to search for: the question's words, CamelCase names split into words, and the
    /// corrections.
    pub search_text: String,
    /// The same without the words that name providers and connections (entities the ranking
    /// weighs on their own): what the question is about.
    pub topic_text: String,
}

/// Reason phrases of HTTP statuses (RFC 9110), lowercase, as people paste them.
const REASONS: [(&str, u16); 12] = [
    ("bad request", 400),
    ("unauthorized", 401),
    ("forbidden", 403),
    ("not found", 404),
    ("request timeout", 408),
    ("unprocessable", 422),
    ("too many requests", 429),
    ("internal server error", 500),
    ("bad gateway", 502),
    ("service unavailable", 503),
    ("gateway timeout", 504),
    ("gateway time-out", 504),
];

/// Phrases that name an error class without a status: the wording of the errors syncwatch and
/// common HTTP clients print (reqwest/hyper, Go's net package, curl), lowercase, matched on
/// word boundaries at their start.
pub const CLASS_PHRASES: [(&str, ErrorClass); 34] = [
    ("timed out", ErrorClass::Timeout),
    ("timeout", ErrorClass::Timeout),
    ("time out", ErrorClass::Timeout),
    ("deadline exceeded", ErrorClass::Timeout),
    ("connection refused", ErrorClass::Network),
    ("econnrefused", ErrorClass::Network),
    ("connection reset", ErrorClass::Network),
    ("econnreset", ErrorClass::Network),
    ("no such host", ErrorClass::Network),
    ("dns", ErrorClass::Network),
    ("name resolution", ErrorClass::Network),
    ("unreachable", ErrorClass::Network),
    ("tls handshake", ErrorClass::Network),
    ("certificate", ErrorClass::Network),
    ("dial tcp", ErrorClass::Network),
    ("rate limit", ErrorClass::RateLimited),
    ("rate-limit", ErrorClass::RateLimited),
    ("ratelimit", ErrorClass::RateLimited),
    ("throttl", ErrorClass::RateLimited),
    ("retry-after", ErrorClass::RateLimited),
    ("quota", ErrorClass::RateLimited),
    ("credential", ErrorClass::Auth),
    ("token expired", ErrorClass::Auth),
    ("expired token", ErrorClass::Auth),
    ("token_expired", ErrorClass::Auth),
    ("invalid_token", ErrorClass::Auth),
    ("authenticat", ErrorClass::Auth),
    ("schema", ErrorClass::Schema),
    ("validation", ErrorClass::Schema),
    ("malformed", ErrorClass::Schema),
    ("misconfigur", ErrorClass::Config),
    ("environment variable", ErrorClass::Config),
    ("syncwatch check", ErrorClass::Config),
    ("bad request", ErrorClass::Client),
];

/// Support shorthand and the words it stands for in the runbooks, searched beside it.
pub const JARGON: [(&str, &str); 17] = [
    ("ro", "repair orders"),
    ("ros", "repair orders"),
    ("appt", "appointments"),
    ("appts", "appointments"),
    ("creds", "credentials"),
    ("cert", "certificate"),
    ("certs", "certificates"),
    ("paged", "notification"),
    ("paging", "notification"),
    ("pager", "notification"),
    ("pagerduty", "notification"),
    ("dupes", "duplicates"),
    ("dupe", "duplicate"),
    ("backfill", "replay"),
    ("resync", "replay"),
    ("perms", "permissions"),
    ("env", "environment"),
];

/// Words never corrected and never searched for on their own: Lucene's English stop words and
/// question words.
pub const STOP_WORDS: [&str; 48] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "what", "do", "does", "i", "we", "our", "my",
    "how", "why", "should", "can", "after", "from", "about", "me",
];

impl Vocabulary {
    /// `providers`: configured and runbook provider names; `connections`: (id, provider);
    /// `alerts`: alert names of the rule files and runbooks; `documents`: every indexed text, one
    /// per document, for the typo vocabulary.
    pub fn new<'a>(
        providers: impl IntoIterator<Item = &'a str>,
        connections: impl IntoIterator<Item = (&'a str, &'a str)>,
        alerts: impl IntoIterator<Item = &'a str>,
        documents: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let providers: HashMap<String, String> = providers
            .into_iter()
            .filter(|p| !squash(p).is_empty())
            .map(|p| (squash(p), p.to_string()))
            .collect();
        let connections = connections
            .into_iter()
            .map(|(c, p)| (c.to_lowercase(), p.to_string()))
            .collect();
        let alerts: BTreeSet<&str> = alerts.into_iter().filter(|a| !a.is_empty()).collect();
        let alerts = alerts
            .into_iter()
            .map(|a| (a.to_string(), a.to_lowercase()))
            .collect();
        let mut words: HashMap<String, u32> = HashMap::new();
        for doc in documents {
            let distinct: BTreeSet<String> = plain_words(doc).collect();
            for w in distinct {
                *words.entry(w).or_default() += 1;
            }
        }
        // Provider names are words too (`tekoin` is corrected to `tekion`).
        for key in providers.keys() {
            words.entry(key.clone()).or_insert(1);
        }
        let mut words_by_len: HashMap<usize, Vec<(String, u32)>> = HashMap::new();
        for (w, n) in &words {
            words_by_len
                .entry(w.chars().count())
                .or_default()
                .push((w.clone(), *n));
        }
        Self {
            providers,
            connections,
            alerts,
            words_by_len,
            words,
        }
    }

    /// Reads a question. Never fails: what is not recognised stays free text.
    pub fn understand(&self, question: &str) -> Understood {
        let mut u = Understood::default();
        let lower = question.to_lowercase();
        let tokens = tokens(question);
        let lowers: Vec<String> = tokens.iter().map(|t| t.to_lowercase()).collect();

        // Providers: a token, or two or three adjacent ones, squashed ("dealer fx"). Tokens
        // that name a provider or connection are entities, not topic words.
        let mut entity = vec![false; tokens.len()];
        for n in 1..=3 {
            for (i, window) in lowers.windows(n).enumerate() {
                let key: String = window.iter().map(|w| squash(w)).collect();
                // A host name names its provider too (`api.xtime.example`).
                let host = || {
                    n == 1
                        && window[0]
                            .split('.')
                            .any(|part| self.providers.contains_key(&squash(part)))
                };
                if let Some(p) = self.providers.get(&key) {
                    push(&mut u.providers, p.clone());
                    entity[i..i + n].iter_mut().for_each(|e| *e = true);
                } else if window[0].contains('.') && host() {
                    for part in window[0].split('.') {
                        if let Some(p) = self.providers.get(&squash(part)) {
                            push(&mut u.providers, p.clone());
                        }
                    }
                    entity[i] = true;
                }
            }
        }
        // Connections: configured ids (their provider too), or a `name-123` shaped id.
        for (i, t) in lowers.iter().enumerate() {
            if let Some(p) = self.connections.get(t.as_str()) {
                push(&mut u.connections, t.clone());
                push(&mut u.providers, p.clone());
                entity[i] = true;
            } else if looks_like_connection(t) && !self.providers.contains_key(&squash(t)) {
                push(&mut u.connections, t.clone());
                entity[i] = true;
            }
        }
        // Misspelled words, corrected from the knowledge base's words (a misspelled provider
        // becomes the provider).
        let mut corrected: Vec<Option<String>> = vec![None; tokens.len()];
        for (i, w) in lowers.iter().enumerate() {
            if entity[i]
                || w.chars().count() < 4
                || !w.chars().all(char::is_alphabetic)
                || STOP_WORDS.contains(&w.as_str())
                || self.words.contains_key(w)
            {
                continue;
            }
            // An inflection of a known word (`open` for `opens`) is not a typo.
            let Some(fixed) = self
                .correct(w)
                .filter(|f| !(f.starts_with(w.as_str()) || w.starts_with(f.as_str())))
            else {
                continue;
            };
            if !u.corrections.iter().any(|(from, _)| from == w) {
                u.corrections.push((w.clone(), fixed.clone()));
            }
            if let Some(p) = self.providers.get(&squash(&fixed)) {
                push(&mut u.providers, p.clone());
                entity[i] = true;
            }
            corrected[i] = Some(fixed);
        }
        // Statuses and classes.
        for t in &lowers {
            // `401`, and as people write them: `500s`, `403ing`, `429ed`.
            let digits = ["'s", "ing", "es", "ed", "s"]
                .iter()
                .find_map(|suffix| t.strip_suffix(suffix))
                .unwrap_or(t);
            if let Ok(code) = digits.parse::<u16>()
                && digits.len() == 3
                && (400..=599).contains(&code)
            {
                push(&mut u.statuses, code);
            }
            match t.as_str() {
                "4xx" => push(&mut u.error_classes, ErrorClass::Client),
                "5xx" => push(&mut u.error_classes, ErrorClass::Server),
                _ => {}
            }
            if let Some(c) = ErrorClass::parse(t) {
                push(&mut u.error_classes, c);
            }
        }
        for (phrase, code) in REASONS {
            if contains_phrase(&lower, phrase) {
                push(&mut u.statuses, code);
            }
        }
        for code in u.statuses.clone() {
            push(&mut u.error_classes, ErrorClass::from_status(code));
        }
        for (phrase, class) in CLASS_PHRASES {
            if contains_phrase(&lower, phrase) {
                push(&mut u.error_classes, class);
            }
        }
        // Alerts: a token equal to or inside an alert name, or adjacent words that spell one.
        for t in &tokens {
            let key = squash(t);
            if key.len() < 6 {
                continue;
            }
            // In part only when written as a name (`IteratorAgeHigh`), not a plain word.
            // Of the names a part is in, the shortest are meant (`SuccessBudgetBurn` is
            // `SyncSuccessBudgetBurn`, not `SyncSuccessBudgetBurnNoData`).
            let camel = split_camel(t).len() > 1;
            let whole = self.alerts.iter().any(|(_, low)| *low == key);
            let shortest = self
                .alerts
                .iter()
                .filter(|(_, low)| low.contains(&key))
                .map(|(_, low)| low.len())
                .min();
            for (name, low) in &self.alerts {
                let part = !whole
                    && camel
                    && key.len() >= 8
                    && low.contains(&key)
                    && Some(low.len()) == shortest;
                if *low == key || part {
                    push(&mut u.alerts, name.clone());
                }
            }
        }
        for n in 2..=4 {
            for window in lowers.windows(n) {
                let key: String = window.iter().map(|w| squash(w)).collect();
                if key.len() < 10 {
                    continue;
                }
                for (name, low) in &self.alerts {
                    if *low == key {
                        push(&mut u.alerts, name.clone());
                    } else if low.ends_with(&key) || low.starts_with(&key) {
                        push(&mut u.alert_hints, name.clone());
                    }
                }
            }
        }
        // A name inside another one recognised too is the other's prefix or part
        // (`SyncSuccessBudgetBurn` in `SyncSuccessBudgetBurnNoData`): the longer one is meant.
        let named = u.alerts.clone();
        u.alert_hints.retain(|h| !named.contains(h));
        let all = u.alerts.clone();
        u.alerts.retain(|a| {
            !all.iter()
                .any(|b| b != a && b.len() > a.len() && b.contains(a.as_str()))
        });
        // Metrics.
        for t in &lowers {
            if t.starts_with("syncwatch_") && t.len() > "syncwatch_".len() {
                push(&mut u.metrics, t.trim_end_matches(['.', ':']).to_string());
            }
        }

        // The words to search: the question, CamelCase split, corrections appended; the topic
        // is the same without the provider and connection names.
        let mut search = Vec::with_capacity(tokens.len() * 2);
        let mut topic = Vec::with_capacity(tokens.len() * 2);
        for (i, t) in tokens.iter().enumerate() {
            let mut words = vec![t.clone()];
            let split: Vec<String> = split_camel(t)
                .into_iter()
                .filter(|p| p.chars().count() > 1)
                .collect();
            if split.len() > 1 {
                words.extend(split);
            }
            words.extend(corrected[i].clone());
            if let Some((_, meant)) = JARGON.iter().find(|(j, _)| *j == lowers[i]) {
                words.push(meant.to_string());
            }
            if !entity[i] {
                topic.extend(words.iter().cloned());
            }
            search.extend(words);
        }
        u.topic_text = topic.join(" ");
        u.search_text = search.join(" ");
        u
    }

    /// The knowledge base's word nearest to `word` by Damerau-Levenshtein distance (at most 1,
    /// 2 for words of 10 letters or more) with the same first letter, the most common one on a
    /// tie.
    fn correct(&self, word: &str) -> Option<String> {
        let len = word.chars().count();
        let max = if len < 10 { 1 } else { 2 };
        let first = word.chars().next();
        let mut best: Option<(usize, u32, &str)> = None;
        for l in len.saturating_sub(max)..=len + max {
            for (cand, n) in self.words_by_len.get(&l).into_iter().flatten() {
                // Typists rarely miss the first letter; an English word that is not in the
                // runbooks (`showing`, `clicked`) mostly differs there or by more.
                if cand.chars().next() != first {
                    continue;
                }
                let d = strsim::damerau_levenshtein(word, cand);
                if d == 0 || d > max {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((bd, bn, _)) => d < bd || (d == bd && *n > bn),
                };
                if better {
                    best = Some((d, *n, cand));
                }
            }
        }
        best.map(|(_, _, w)| w.to_string())
    }
}

fn push<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Lowercase ASCII letters and digits only: `Dealer-FX` and `dealer fx` are both `dealerfx`.
pub fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The question's tokens: runs of letters, digits and `_ - . :` inside words (so `dealer-007`,
/// `syncwatch_sync_runs_total` and `10.0.0.5` stay whole), trimmed of trailing punctuation.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        .map(|t| t.trim_matches(|c: char| matches!(c, '-' | '.' | ':' | '_')))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Lowercase alphabetic words, for the typo vocabulary.
fn plain_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
}

/// `name-123`: letters, a dash, digits (how dealers' connection ids are written).
fn looks_like_connection(t: &str) -> bool {
    let Some((head, tail)) = t.rsplit_once('-') else {
        return false;
    };
    !head.is_empty()
        && head.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        && !tail.is_empty()
        && tail.chars().all(|c| c.is_ascii_digit())
}

/// Whether `phrase` occurs in `text` starting at a word boundary.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(i, _)| {
        text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

/// `StageIteratorAgeHigh` → `Stage Iterator Age High`; `HTTPServer` → `HTTP Server`. A word
/// without inner capitals comes back alone.
pub fn split_camel(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let boundary = i > 0
            && c.is_uppercase()
            && (chars[i - 1].is_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_lowercase())
                    && chars[i - 1].is_uppercase());
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if c.is_alphanumeric() {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary::new(
            ["tekion", "cdk", "xtime", "mykaarma", "dealerfx"],
            [("dealer-001", "tekion"), ("dfx-17", "dealerfx")],
            [
                "StageIteratorAgeHigh",
                "StageIteratorAgeGrowing",
                "ConnectionStale",
                "ProviderRateLimited",
            ],
            [
                "The circuit breaker opens after repeated failures",
                "duplicate records after a replay",
            ],
        )
    }

    #[test]
    fn provider_spellings_are_one_provider() {
        for q in [
            "Dealer-FX sync failing",
            "dealer fx sync failing",
            "dealerfx is down",
            "DEALER_FX",
            "GET https://api.dealerfx.example/v1/orders failed",
        ] {
            assert_eq!(vocab().understand(q).providers, vec!["dealerfx"], "{q}");
        }
        assert!(vocab().understand("a dealer asked").providers.is_empty());
    }

    #[test]
    fn connections_bring_their_provider() {
        let u = vocab().understand("no successful sync for dealer-001 in two hours");
        assert_eq!(u.connections, vec!["dealer-001"]);
        assert_eq!(u.providers, vec!["tekion"]);
        let u = vocab().understand("dealer-007 is stale");
        assert_eq!(u.connections, vec!["dealer-007"]);
        assert!(u.providers.is_empty());
    }

    #[test]
    fn statuses_and_phrases_name_error_classes() {
        let u = vocab().understand("provider returns 400 after their API version change");
        assert_eq!(u.statuses, vec![400]);
        assert_eq!(u.error_classes, vec![ErrorClass::Client]);
        let u = vocab().understand("HTTP/1.1 429 Too Many Requests");
        assert_eq!(u.statuses, vec![429]);
        assert_eq!(u.error_classes, vec![ErrorClass::RateLimited]);
        let u = vocab().understand("connection refused and DNS lookup failures");
        assert_eq!(u.error_classes, vec![ErrorClass::Network]);
        let u = vocab().understand("dealer fx returning 500s, cdk 403ing");
        assert_eq!(u.statuses, vec![500, 403]);
        let u = vocab().understand("request timed out after 10s");
        assert_eq!(u.error_classes, vec![ErrorClass::Timeout]);
        // A count is not a status, and "dns" inside a word is not DNS.
        assert!(
            vocab()
                .understand("synced 1200 records")
                .statuses
                .is_empty()
        );
        assert!(vocab().understand("gdnsx").error_classes.is_empty());
    }

    #[test]
    fn alert_names_whole_partial_or_in_words() {
        let u = vocab().understand("IteratorAgeHigh pipeline dms stage export");
        assert_eq!(u.alerts, vec!["StageIteratorAgeHigh"]);
        let u = vocab().understand("iterator age alerts firing");
        assert!(
            u.alerts.is_empty(),
            "two words alone are too short to name an alert"
        );
        let u = vocab().understand("connection stale for dealer-001");
        assert_eq!(u.alerts, vec!["ConnectionStale"]);
        // Words that begin an alert's name hint at it.
        let u = vocab().understand("stage iterator age climbing");
        assert!(u.alerts.is_empty());
        assert_eq!(
            u.alert_hints,
            vec!["StageIteratorAgeGrowing", "StageIteratorAgeHigh"]
        );
        let u = vocab().understand("providerratelimited");
        assert_eq!(u.alerts, vec!["ProviderRateLimited"]);
        // Of two names, one inside the other, the longer is meant.
        let v = Vocabulary::new([], [], ["SyncBurn", "SyncBurnNoData"], []);
        assert_eq!(
            v.understand("sync burn no data").alerts,
            vec!["SyncBurnNoData"]
        );
        assert_eq!(v.understand("SyncBurn firing").alerts, vec!["SyncBurn"]);
        assert_eq!(
            v.understand("BurnNoData firing").alerts,
            vec!["SyncBurnNoData"]
        );
        let v = Vocabulary::new([], [], ["SyncBurnRate", "SyncBurnRateNoData"], []);
        assert_eq!(v.understand("BurnRate on cdk").alerts, vec!["SyncBurnRate"]);
    }

    #[test]
    fn shorthand_is_searched_with_what_it_stands_for() {
        let u = vocab().understand("ROs missing, nobody got paged");
        assert_eq!(
            u.topic_text,
            "ROs repair orders missing nobody got paged notification"
        );
    }

    #[test]
    fn metric_names_and_camel_case_words() {
        let u = vocab().understand("syncwatch_stage_iterator_age_seconds keeps growing");
        assert_eq!(u.metrics, vec!["syncwatch_stage_iterator_age_seconds"]);
        let u = vocab().understand("StageIteratorAgeHigh");
        assert!(
            u.search_text.contains("Iterator Age High"),
            "{}",
            u.search_text
        );
        assert_eq!(
            split_camel("HTTPServerError"),
            vec!["HTTP", "Server", "Error"]
        );
        assert_eq!(split_camel("plain"), vec!["plain"]);
    }

    #[test]
    fn typos_are_corrected_from_the_knowledge_base_only() {
        let u = vocab().understand("circiut breker open");
        assert_eq!(
            u.corrections,
            vec![
                ("circiut".to_string(), "circuit".to_string()),
                ("breker".to_string(), "breaker".to_string())
            ]
        );
        assert!(
            u.search_text.ends_with("breker breaker open"),
            "{}",
            u.search_text
        );
        // A misspelled provider is the provider, and not a topic word.
        let u = vocab().understand("tekoin auth broken");
        assert_eq!(u.providers, vec!["tekion"]);
        assert_eq!(u.topic_text, "auth broken");
        // Known words and short words stay as they are, and English words that are not in the
        // knowledge base are not forced onto it.
        let u = vocab().understand("duplicate replay xyz");
        assert!(u.corrections.is_empty());
        let v = Vocabulary::new([], [], [], ["growing locked writer jumped capacity"]);
        let u = v.understand("showing clicked printer jammed capacitor");
        assert!(u.corrections.is_empty(), "{:?}", u.corrections);
    }
}
