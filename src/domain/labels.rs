//! Label sets and their fingerprints: the identity of a series, an alert and a group.

use std::collections::BTreeMap;
use std::hash::Hash;

use super::pairs::SortedPairs;

use serde::{Deserialize, Serialize};

/// A sorted set of label name/value pairs, none with an empty value.
///
/// Held compactly ([`SortedPairs`]: two allocations per set): there are many of them (one per
/// series and per held alert) and each is small.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(SortedPairs);

impl Labels {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// The value of a label, or `""` when absent (PromQL and Alertmanager treat both alike).
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Sets a label; an empty value removes it, as in Prometheus.
    pub fn insert(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) {
        let (name, value) = (name.as_ref(), value.as_ref());
        if value.is_empty() {
            self.remove(name);
        } else {
            self.0 = self.0.with(name, value);
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let old = self.get(name)?.to_string();
        self.0 = self.0.filter(|k, _| k != name);
        Some(old)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone + '_ {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Only the named labels (those present).
    pub fn keep(&self, names: &[String]) -> Labels {
        Labels(self.0.filter(|k, _| names.iter().any(|n| n == k)))
    }

    /// All labels but the named ones.
    pub fn drop_names(&self, names: &[String]) -> Labels {
        Labels(self.0.filter(|k, _| !names.iter().any(|n| n == k)))
    }

    /// A stable fingerprint of the whole set.
    /// FNV-1a (64 bit) over the sorted pairs, each name and value followed by 0xff (a byte no
    /// UTF-8 text holds). Fingerprints are stored (notification log, ticket occurrences), so the
    /// function is fixed here rather than left to `std`'s hasher, which may change.
    pub fn fingerprint(&self) -> Fingerprint {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut h = OFFSET;
        for (k, v) in self.iter() {
            for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xff]) {
                h = (h ^ u64::from(b)).wrapping_mul(PRIME);
            }
        }
        Fingerprint(h)
    }
}

/// Of a name given twice the last value counts; an empty value is no label.
impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Labels {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let pairs: Vec<(K, V)> = iter.into_iter().collect();
        let all = SortedPairs::from_pairs(pairs);
        Labels(all.filter(|_, v| !v.is_empty()))
    }
}

/// As a JSON object (`{"name": "value", …}`), the way Prometheus and Alertmanager write labels.
impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        Ok(map.into_iter().collect())
    }
}

impl std::fmt::Display for Labels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// The identity of a label set, printed as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// Reads the 16 hex digits `Display` prints.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 16)
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
            .map(Fingerprint)
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_a_fixed_function_of_the_labels() {
        // FNV-1a of "a\xff1\xff"; the empty set is the offset basis.
        let mut want: u64 = 0xcbf2_9ce4_8422_2325;
        for b in [b'a', 0xff, b'1', 0xff] {
            want = (want ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        let a: Labels = [("a", "1")].into_iter().collect();
        assert_eq!(a.fingerprint(), Fingerprint(want));
        assert_eq!(Labels::new().fingerprint().to_string(), "cbf29ce484222325");
        assert_eq!(
            Fingerprint::parse(&a.fingerprint().to_string()),
            Some(a.fingerprint())
        );
        assert_eq!(Fingerprint::parse("xyz"), None);
        // The separator keeps a="b1" apart from ab="1".
        let shifted: Labels = [("ab", "1")].into_iter().collect();
        let joined: Labels = [("a", "b1")].into_iter().collect();
        assert_ne!(shifted.fingerprint(), joined.fingerprint());
    }

    #[test]
    fn fingerprint_ignores_insertion_order() {
        let a: Labels = [("a", "1"), ("b", "2")].into_iter().collect();
        let b: Labels = [("b", "2"), ("a", "1")].into_iter().collect();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c: Labels = [("a", "1"), ("b", "3")].into_iter().collect();
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn empty_value_removes_label() {
        let mut l: Labels = [("a", "1")].into_iter().collect();
        l.insert("a", "");
        assert!(l.is_empty());
    }

    #[test]
    fn keep_and_drop_select_names() {
        let l: Labels = [("a", "1"), ("b", "2"), ("c", "3")].into_iter().collect();
        let names = vec!["a".to_string(), "c".to_string()];
        assert_eq!(l.keep(&names).to_string(), r#"{a="1", c="3"}"#);
        assert_eq!(l.drop_names(&names).to_string(), r#"{b="2"}"#);
    }

    #[test]
    fn labels_stay_sorted_and_unique_and_read_and_write_as_an_object() {
        let mut l: Labels = [("b", "2"), ("a", "1"), ("c", "3")].into_iter().collect();
        l.insert("b", "two");
        assert_eq!(l.to_string(), r#"{a="1", b="two", c="3"}"#);
        assert_eq!(l.get("c"), Some("3"));
        assert_eq!(l.get("d"), None);
        assert_eq!(l.remove("a").as_deref(), Some("1"));
        assert_eq!(l.len(), 2);
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, r#"{"b":"two","c":"3"}"#);
        let back: Labels = serde_json::from_str(r#"{"c":"3","b":"two","e":""}"#).unwrap();
        assert_eq!(back, l, "sorted, and an empty value is no label");
        // Order of label sets is that of their sorted pairs.
        let x: Labels = [("a", "1")].into_iter().collect();
        let y: Labels = [("a", "1"), ("b", "0")].into_iter().collect();
        let z: Labels = [("a", "2")].into_iter().collect();
        assert!(x < y && y < z);
    }
}
