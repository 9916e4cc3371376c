//! Where each node of a YAML document starts, by its path (`receivers.1.webhook_configs.0.url`:
//! mapping keys, and sequence positions from 0), read with yaml-rust2's event parser. The one
//! position mechanism of the YAML loaders: a problem found while validating a node is placed by
//! the node's path, never by searching the text for a key that may occur several times.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Paths and their 1-based lines, in document order.
#[derive(Debug, Clone, Default)]
pub struct YamlIndex {
    entries: Vec<(String, usize)>,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    entries: Vec<(String, usize)>,
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

impl Builder {
    /// The path of a value about to start at `line`; records a sequence item's start.
    fn value_path(&mut self, line: usize) -> String {
        match self.stack.last_mut() {
            Some(Frame::Map { path, key }) => join(path, key.as_deref().unwrap_or("")),
            Some(Frame::Seq { path, index }) => {
                let p = join(path, &index.to_string());
                self.entries.push((p.clone(), line));
                p
            }
            None => String::new(),
        }
    }

    /// A value has ended: the mapping waits for its next key, the sequence for its next item.
    fn value_done(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map { path, key }) = self.stack.last_mut()
                    && key.is_none()
                {
                    self.entries.push((join(path, &value), line));
                    *key = Some(value);
                    return;
                }
                self.value_path(line);
                self.value_done();
            }
            Event::Alias(_) => {
                self.value_path(line);
                self.value_done();
            }
            Event::MappingStart(..) => {
                let path = self.value_path(line);
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path(line);
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            _ => {}
        }
    }
}

impl YamlIndex {
    /// The index of `text`; empty when it does not parse (the loader reports that itself).
    pub fn new(text: &str) -> Self {
        let mut b = Builder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut b, false).is_err() {
            return Self::default();
        }
        Self { entries: b.entries }
    }

    /// The line where the node at `path` starts.
    pub fn line(&self, path: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, l)| *l)
    }

    /// The lines the node at `path` spans: from its start to where the next node outside it
    /// starts (exclusive; `usize::MAX` at the end of the document).
    pub fn range(&self, path: &str) -> Option<(usize, usize)> {
        let i = self.entries.iter().position(|(p, _)| p == path)?;
        let start = self.entries[i].1;
        let prefix = format!("{path}.");
        let end = self.entries[i + 1..]
            .iter()
            .find(|(p, _)| !p.starts_with(&prefix))
            .map_or(usize::MAX, |(_, l)| *l);
        Some((start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_is_found_by_its_path_even_where_keys_repeat() {
        let text = "route:\n  receiver: a\nreceivers:\n  - name: a\n    webhook_configs:\n      - url: http://one\n      - url: http://two\n  - name: b\n    webhook_configs:\n      - url: 'bad'\n        timeout: 1s\n";
        let ix = YamlIndex::new(text);
        assert_eq!(ix.line("route.receiver"), Some(2));
        assert_eq!(ix.line("receivers.0.webhook_configs.1.url"), Some(7));
        assert_eq!(ix.line("receivers.1.webhook_configs.0.url"), Some(10));
        assert_eq!(ix.line("receivers.1.webhook_configs.0.timeout"), Some(11));
        assert_eq!(ix.range("receivers.0"), Some((4, 8)));
        assert_eq!(
            ix.range("receivers.1.webhook_configs.0"),
            Some((10, usize::MAX))
        );
        let flow = YamlIndex::new("a: {b: [x, {c: 1}]}\n");
        assert_eq!(flow.line("a.b.1.c"), Some(1));
        assert!(YamlIndex::new("a: [").line("a").is_none());
    }
}
