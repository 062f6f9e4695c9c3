//! Config files as operators write them: YAML (or JSON), possibly several
//! documents (`kubectl kustomize` output), with the line and column of every
//! key, so an error at `clientIp.trustedProxies[1]` points at the line that
//! holds it rather than at a position in a re-encoded JSON line.
//!
//! Values are decoded by serde_norway (the YAML the sidecar has always read);
//! positions come from saphyr-parser's event stream, walked in step: both see
//! the same documents in the same order.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, Span};
use serde::Deserialize;

use super::Config;
use crate::error::ConfigError;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML document of a file.
#[derive(Debug, Clone)]
pub struct Document {
    /// 1-based index in the file.
    pub index: usize,
    /// The decoded value.
    pub value: serde_json::Value,
    /// Where the document starts.
    pub start: Position,
    /// Position of each key (map entries) and item (sequence entries), by
    /// dotted path (`spec.plugin.edgeguard.clientIp.trustedProxies[1]`).
    positions: HashMap<String, Position>,
}

/// A file that is not valid YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based index of the document the error is in.
    pub document: usize,
    /// Where, when the parser said.
    pub position: Option<Position>,
    /// What the parser said, without its own position.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Document {
    /// Position of `path` (dotted, `[i]` for items; `.` or empty for the
    /// document itself), or of its nearest ancestor that is written down (a
    /// missing required key points at its section).
    pub fn position(&self, path: &str) -> Position {
        let mut path = path.trim_start_matches('.');
        loop {
            if path.is_empty() {
                return self.start;
            }
            if let Some(p) = self.positions.get(path) {
                return *p;
            }
            path = parent(path);
        }
    }

    /// The value at dotted `path`, when present.
    pub fn get(&self, path: &str) -> Option<&serde_json::Value> {
        segments(path).try_fold(&self.value, |v, seg| match seg {
            Segment::Key(k) => v.get(k),
            Segment::Index(i) => v.get(i),
        })
    }

    /// Decodes the config at `path` (the block's root); errors carry the
    /// field path relative to the block, as in Traefik's log.
    pub fn decode(&self, path: &str) -> Result<Config, ConfigError> {
        let Some(value) = self.get(path) else { return Ok(Config::default()) };
        decode_value(value)
    }

    /// A document read from `text` (one embedded in another, such as a
    /// ConfigMap key), with positions shifted to where `text` sits.
    pub fn shifted(mut self, lines: usize, columns: usize) -> Self {
        let shift = |p: &mut Position| {
            p.line += lines;
            p.column += columns;
        };
        shift(&mut self.start);
        self.positions.values_mut().for_each(shift);
        self
    }
}

/// Decodes a config from an already parsed value.
pub fn decode_value(value: &serde_json::Value) -> Result<Config, ConfigError> {
    if value.is_null() || value.as_str() == Some("") {
        return Ok(Config::default());
    }
    serde_path_to_error::deserialize(value).map_err(|e| ConfigError::Decode {
        path: e.path().to_string(),
        reason: super::reason(&e.into_inner()),
    })
}

/// The parent of a dotted path (`a.b[1]` → `a.b`, `a.b` → `a`, `a` → ``).
fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `a.b[1].c` into keys and indexes. Keys containing `.` or `[`
/// cannot be addressed; no EdgeGuard key does.
fn segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.trim_start_matches('.').split('.').filter(|s| !s.is_empty()).flat_map(|part| {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        let indexes = rest
            .split('[')
            .filter_map(|i| i.trim_end_matches(']').parse().ok())
            .map(Segment::Index)
            .collect::<Vec<_>>();
        std::iter::once(Segment::Key(key)).filter(|s| !matches!(s, Segment::Key(""))).chain(indexes)
    })
}

/// Parses every document of `text`.
///
/// # Examples
/// ```
/// use edgeguard::config::source::documents;
/// let docs = documents("a: 1\n---\nclientIp:\n  trustedProxies:\n    - 10.0.0.0/8\n    - nope\n").unwrap();
/// assert_eq!(docs.len(), 2);
/// let p = docs[1].position("clientIp.trustedProxies[1]");
/// assert_eq!((p.line, p.column), (6, 7));
/// ```
pub fn documents(text: &str) -> Result<Vec<Document>, SyntaxError> {
    let mut values = Vec::new();
    for (i, de) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = serde_json::Value::deserialize(de).map_err(|e| {
            let position = e.location().map(|l| Position { line: l.line(), column: l.column() });
            let mut message = e.to_string();
            if let Some(at) = message.find(" at line ") {
                message.truncate(at);
            }
            SyntaxError { document: i + 1, position, message }
        })?;
        values.push(value);
    }
    let mut spans = positions(text);
    // Both parsers read the same YAML; if they ever disagree on the number of
    // documents, positions fall back to the start of the file, never to a
    // wrong line.
    if spans.len() != values.len() {
        spans = vec![(Position { line: 1, column: 1 }, HashMap::new()); values.len()];
    }
    Ok(values
        .into_iter()
        .zip(spans)
        .enumerate()
        .map(|(i, (value, (start, positions)))| Document { index: i + 1, value, start, positions })
        .collect())
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

fn at(span: &Span) -> Position {
    Position { line: span.start.line(), column: span.start.col() + 1 }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// Walks the event stream: per document, its start and the position of each path.
fn positions(text: &str) -> Vec<(Position, HashMap<String, Position>)> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut current: Option<(Position, HashMap<String, Position>)> = None;
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else { break };
        // The path of a value starting here, recording items' positions
        // (keys were recorded when the key was read).
        let child_path = |stack: &mut Vec<Frame>, map: &mut HashMap<String, Position>| match stack.last_mut()
        {
            Some(Frame::Map { path, key }) => key.take().map(|k| join(path, &k)),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                map.insert(p.clone(), at(&span));
                Some(p)
            }
            None => Some(String::new()),
        };
        match event {
            Event::DocumentStart(_) => {
                current = Some((at(&span), HashMap::new()));
                stack.clear();
            }
            Event::DocumentEnd => docs.extend(current.take()),
            Event::Scalar(value, ..) => {
                let Some((_, map)) = current.as_mut() else { continue };
                match stack.last_mut() {
                    Some(Frame::Map { path, key }) if key.is_none() => {
                        map.insert(join(path, &value), at(&span));
                        *key = Some(value.into_owned());
                    }
                    _ => {
                        child_path(&mut stack, map);
                    }
                }
            }
            Event::Alias(_) => {
                if let Some((_, map)) = current.as_mut() {
                    child_path(&mut stack, map);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let Some((_, map)) = current.as_mut() else { continue };
                // A complex key (a map used as a key) gets an unreachable path.
                let path = match stack.last_mut() {
                    Some(Frame::Map { key: key @ None, .. }) => {
                        // Its value then gets an unreachable path too.
                        *key = Some("\0".into());
                        Some("\0".to_string())
                    }
                    _ => child_path(&mut stack, map),
                }
                .unwrap_or_default();
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map { path, key: None }
                } else {
                    Frame::Seq { path, next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing => {}
        }
    }
    docs.extend(current);
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_items() {
        let text = "\
# comment
apiVersion: traefik.io/v1alpha1
kind: Middleware
spec:
  plugin:
    edgeguard:
      clientIp:
        trustedProxies: [\"10.0.0.0/8\", \"x\"]
        maxHops: 4
---
clientIp: {header: X-Real-IP}
";
        let docs = documents(text).unwrap();
        assert_eq!(docs.len(), 2);
        let cases: &[(usize, &str, (usize, usize))] = &[
            (0, "kind", (3, 1)),
            (0, "spec.plugin.edgeguard", (6, 5)),
            (0, "spec.plugin.edgeguard.clientIp.trustedProxies", (8, 9)),
            (0, "spec.plugin.edgeguard.clientIp.trustedProxies[1]", (8, 40)),
            (0, "spec.plugin.edgeguard.clientIp.maxHops", (9, 9)),
            // Not written: the nearest written ancestor.
            (0, "spec.plugin.edgeguard.geo.database", (6, 5)),
            (0, ".", (2, 1)),
            (1, "clientIp.header", (11, 12)),
        ];
        for (doc, path, (line, column)) in cases {
            assert_eq!(docs[*doc].position(path), Position { line: *line, column: *column }, "{path}");
        }
        assert_eq!(docs[0].get("spec.plugin.edgeguard.clientIp.trustedProxies[1]").unwrap(), "x");
    }

    #[test]
    fn syntax_errors_name_document_and_position() {
        let err = documents("a: 1\n---\nb: [1,\n").unwrap_err();
        assert_eq!(err.document, 2);
        assert!(err.position.is_some_and(|p| p.line >= 3), "{err:?}");
        assert!(!err.message.contains(" at line "), "{err:?}");
    }

    #[test]
    fn decode_errors_are_relative_to_the_block() {
        let docs = documents("spec:\n  cfg:\n    clientIp:\n      maxHop: 4\n").unwrap();
        let err = docs[0].decode("spec.cfg").unwrap_err();
        assert_eq!(err.path(), "clientIp.maxHop");
        assert!(err.to_string().contains("did you mean `maxHops`"), "{err}");
        assert_eq!(docs[0].position("spec.cfg.clientIp.maxHop"), Position { line: 4, column: 7 });
    }
}
