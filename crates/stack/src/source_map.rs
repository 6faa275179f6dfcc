//! Where each key and value of stack.yaml is, for errors that serde cannot position.

use std::collections::BTreeMap;

/// Positions of keys and values in a YAML document, by path.
///
/// Built once from saphyr's event stream. A path names mapping keys from the
/// root (`["functions", "chat", "memory"]`); sequence items use their index.
#[derive(Debug, Default)]
pub struct SourceMap {
    /// path -> position of its value: 1-based line and column.
    entries: BTreeMap<Vec<String>, (usize, usize)>,
    has_content: bool,
}

impl SourceMap {
    pub fn new(text: &str) -> SourceMap {
        use saphyr_parser::{Event, Parser};

        enum Frame {
            Map { path: Vec<String>, key: Option<String> },
            Seq { path: Vec<String>, index: usize },
        }

        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        // Records a value (scalar or collection start) at `pos`; returns the
        // path of that value, for collections.
        fn place(
            stack: &mut [Frame],
            map: &mut SourceMap,
            pos: (usize, usize),
            scalar: Option<&str>,
        ) -> Option<Vec<String>> {
            map.has_content = true;
            match stack.last_mut() {
                None => Some(Vec::new()),
                Some(Frame::Map { path, key }) => match key.take() {
                    None => {
                        // This is a key; collections as keys are not used in stack.yaml.
                        *key = scalar.map(str::to_string);
                        None
                    }
                    Some(k) => {
                        let mut p = path.clone();
                        p.push(k);
                        map.entries.insert(p.clone(), pos);
                        Some(p)
                    }
                },
                Some(Frame::Seq { path, index }) => {
                    let mut p = path.clone();
                    p.push(index.to_string());
                    *index += 1;
                    map.entries.insert(p.clone(), pos);
                    Some(p)
                }
            }
        }
        while let Some(Ok((event, span))) = parser.next_event() {
            let pos = (span.start.line(), span.start.col() + 1);
            match event {
                Event::Scalar(value, ..) => {
                    place(&mut stack, &mut map, pos, Some(&value));
                }
                Event::MappingStart(..) => {
                    if let Some(path) = place(&mut stack, &mut map, pos, None) {
                        stack.push(Frame::Map { path, key: None });
                    }
                }
                Event::SequenceStart(..) => {
                    if let Some(path) = place(&mut stack, &mut map, pos, None) {
                        stack.push(Frame::Seq { path, index: 0 });
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Alias(_) => {
                    place(&mut stack, &mut map, pos, None);
                }
                _ => {}
            }
        }
        map
    }

    /// True when the document holds no value at all (empty or only comments).
    pub fn is_empty(&self) -> bool {
        !self.has_content
    }

    /// The value position of `path`, if the document has it.
    pub fn find(&self, path: &[&str]) -> Option<(usize, usize)> {
        let key: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        self.entries.get(&key).copied()
    }

    /// The best position for an error about `path`: its value, else the
    /// nearest ancestor that is written down, else the top of the file.
    pub fn position(&self, path: &[&str]) -> (usize, usize) {
        (0..=path.len()).rev().find_map(|n| self.find(&path[..n])).unwrap_or((1, 1))
    }
}
