//! A compact, sorted map of short strings: the storage under [`super::Labels`] and
//! [`super::alert::Annotations`].
//!
//! Every held alert and every series has a label set, so their size decides syncwatch's memory
//! with a million alerts. A `Vec<(String, String)>` costs one allocation per name and per value
//! (8 for 4 labels, ~460 bytes with the allocator's headers) and a one-entry `BTreeMap` a whole
//! tree node (~550 bytes). Here a map is two allocations whatever its size: the names and values
//! back to back in one `str`, and where each ends in a `[u32]` (~130 bytes for 4 labels).
//! Reading is a binary search over names; a change builds a new buffer (label sets are small
//! and changed far less often than read).

use std::cmp::Ordering;

/// Name/value pairs sorted by name, each name once. Text up to 4 GiB in all.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct SortedPairs {
    /// Names and values, in order, without separators.
    text: Box<str>,
    /// Per pair, the end of its name then the end of its value, as offsets into `text`.
    ends: Box<[u32]>,
}

impl SortedPairs {
    /// Builds from pairs already sorted by name with no name twice.
    fn from_sorted<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let (mut len, mut n) = (0, 0);
        for (k, v) in pairs.clone() {
            len += k.len() + v.len();
            n += 1;
        }
        let mut text = String::with_capacity(len);
        let mut ends = Vec::with_capacity(2 * n);
        for (k, v) in pairs {
            text.push_str(k);
            ends.push(offset(text.len()));
            text.push_str(v);
            ends.push(offset(text.len()));
        }
        Self {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        }
    }

    /// Builds from pairs in any order; of a name given twice the last value counts.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(mut pairs: Vec<(K, V)>) -> Self {
        // Stable, so equal names keep their order and the last one can win.
        pairs.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let mut unique: Vec<(&str, &str)> = Vec::with_capacity(pairs.len());
        for (k, v) in &pairs {
            match unique.last_mut() {
                Some(last) if last.0 == k.as_ref() => last.1 = v.as_ref(),
                _ => unique.push((k.as_ref(), v.as_ref())),
            }
        }
        Self::from_sorted(unique.iter().copied())
    }

    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`th pair, by name order.
    fn pair(&self, i: usize) -> (&str, &str) {
        let start = if i == 0 {
            0
        } else {
            self.ends[2 * i - 1] as usize
        };
        let name_end = self.ends[2 * i] as usize;
        let end = self.ends[2 * i + 1] as usize;
        (&self.text[start..name_end], &self.text[name_end..end])
    }

    /// Where `name` is, or where it would go.
    fn position(&self, name: &str) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.pair(mid).0.cmp(name) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).ok().map(|i| self.pair(i).1)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone + '_ {
        (0..self.len()).map(|i| self.pair(i))
    }

    /// These pairs with `name` set to `value` (added or replaced).
    pub fn with(&self, name: &str, value: &str) -> Self {
        match self.position(name) {
            Ok(i) if self.pair(i).1 == value => self.clone(),
            Ok(i) => Self::from_sorted(
                self.iter()
                    .enumerate()
                    .map(move |(j, p)| if j == i { (name, value) } else { p }),
            ),
            Err(i) => Self::from_sorted(
                self.iter()
                    .take(i)
                    .chain(std::iter::once((name, value)))
                    .chain(self.iter().skip(i)),
            ),
        }
    }

    /// Only the pairs `keep` says yes to.
    pub fn filter(&self, keep: impl Fn(&str, &str) -> bool) -> Self {
        let kept: Vec<(&str, &str)> = self.iter().filter(|(k, v)| keep(k, v)).collect();
        if kept.len() == self.len() {
            return self.clone();
        }
        Self::from_sorted(kept.into_iter())
    }
}

fn offset(len: usize) -> u32 {
    u32::try_from(len).expect("a label set or annotation map over 4 GiB")
}

/// As their sorted pairs compare (names first, then values, pair by pair).
impl Ord for SortedPairs {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for SortedPairs {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for SortedPairs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> SortedPairs {
        SortedPairs::from_pairs(p.to_vec())
    }

    #[test]
    fn pairs_are_sorted_unique_and_found_by_name() {
        let p = pairs(&[("b", "2"), ("a", "1"), ("c", ""), ("b", "two")]);
        let all: Vec<_> = p.iter().collect();
        assert_eq!(all, [("a", "1"), ("b", "two"), ("c", "")]);
        assert_eq!(
            (p.get("a"), p.get("b"), p.get("c")),
            (Some("1"), Some("two"), Some(""))
        );
        assert_eq!((p.get(""), p.get("ab"), p.get("d")), (None, None, None));
        assert_eq!(SortedPairs::default().get("a"), None);
    }

    #[test]
    fn with_adds_replaces_and_filter_removes() {
        let p = pairs(&[("b", "2"), ("d", "4")]);
        let all = |p: &SortedPairs| {
            p.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(all(&p.with("a", "1")), ["a=1", "b=2", "d=4"]);
        assert_eq!(all(&p.with("c", "3")), ["b=2", "c=3", "d=4"]);
        assert_eq!(all(&p.with("e", "5")), ["b=2", "d=4", "e=5"]);
        assert_eq!(all(&p.with("b", "20")), ["b=20", "d=4"]);
        assert_eq!(all(&p.filter(|k, _| k != "b")), ["d=4"]);
        assert!(p.filter(|_, _| false).is_empty());
        assert_eq!(p.with("b", "2"), p);
    }

    #[test]
    fn equal_maps_are_equal_whatever_their_history_and_order_is_by_pairs() {
        let built = pairs(&[("a", "1")]).with("b", "2");
        assert_eq!(built, pairs(&[("b", "2"), ("a", "1")]));
        // Boundaries between name and value count: a="b1" is not ab="1".
        assert_ne!(pairs(&[("a", "b1")]), pairs(&[("ab", "1")]));
        let x = pairs(&[("a", "1")]);
        let y = pairs(&[("a", "1"), ("b", "0")]);
        let z = pairs(&[("a", "2")]);
        assert!(x < y && y < z);
        assert!(pairs(&[("a", "b1")]) < pairs(&[("ab", "1")]));
    }
}
