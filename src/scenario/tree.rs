//! The YAML document as a tree of nodes that remember where they are in the source, built from
//! `saphyr-parser`'s events; the typed decoding and every located diagnostic start from here.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

/// A 1-based line and 1-based character column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// Where a node sits in the source: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First character.
    pub start: Pos,
    /// One past the last character.
    pub end: Pos,
}

impl Span {
    /// An empty span at the top of the file, for problems with no better place.
    pub const TOP: Span = Span {
        start: Pos { line: 1, column: 1 },
        end: Pos { line: 1, column: 1 },
    };

    fn from_markers(start: Marker, end: Marker) -> Span {
        Span {
            start: pos(start),
            end: pos(end),
        }
    }

    /// How many characters a caret should underline: the token on its first line, at least one.
    #[must_use]
    pub fn width(&self) -> usize {
        if self.end.line == self.start.line && self.end.column > self.start.column {
            self.end.column - self.start.column
        } else {
            1
        }
    }
}

fn pos(m: Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

/// A YAML node with its source span.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Where it is.
    pub span: Span,
}

/// The three shapes of YAML content.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar; `plain` scalars are resolved to null, bool, int or float by the YAML 1.2 core
    /// schema, quoted and block scalars are always strings.
    Scalar { text: String, plain: bool },
    /// A sequence (`- a` or `[a, b]`).
    Seq(Vec<Node>),
    /// A mapping, entries in source order.
    Map(Vec<(Node, Node)>),
}

/// One step of a path into the document: `optimizers[2].lr` is `Key("optimizers"), Index(2),
/// Key("lr")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index, 0-based.
    Index(usize),
}

impl fmt::Display for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Key(k) => write!(f, ".{k}"),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Parses `optimizers[2].lr` into segments; `None` for a malformed path.
#[must_use]
pub fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            segs.push(Seg::Key(key.to_string()));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let close = stripped.find(']')?;
            segs.push(Seg::Index(stripped[..close].trim().parse().ok()?));
            rest = &stripped[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(segs)
}

impl Node {
    /// The scalar's text, if this is a scalar.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// True for a plain `~`, `null` or empty scalar.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true } if is_null_text(text))
    }

    /// The value under mapping key `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value node of mapping entry `key`.
    #[must_use]
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The node at `path`, with the span of its key when the last step is a mapping key.
    #[must_use]
    pub fn find(&self, path: &[Seg]) -> Option<(Option<Span>, &Node)> {
        let mut node = self;
        let mut key_span = None;
        for seg in path {
            match (seg, &node.kind) {
                (Seg::Key(k), NodeKind::Map(_)) => {
                    let (kn, vn) = node.entry(k)?;
                    key_span = Some(kn.span);
                    node = vn;
                }
                (Seg::Index(i), NodeKind::Seq(items)) => {
                    node = items.get(*i)?;
                    key_span = None;
                }
                _ => return None,
            }
        }
        Some((key_span, node))
    }

    /// A short description of the node's shape for "found ..." messages.
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Scalar { text, plain } => match resolve(text, *plain) {
                Resolved::Null => "nothing (null)".into(),
                Resolved::Bool(b) => format!("the boolean {b}"),
                Resolved::Int(_) | Resolved::UInt(_) | Resolved::Float(_) => {
                    format!("the number {text}")
                }
                Resolved::Str => format!("the string '{text}'"),
            },
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a mapping".into(),
        }
    }
}

pub(crate) fn is_null_text(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A plain scalar resolved by the YAML 1.2 core schema (the one `serde_yaml` 0.9 follows).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str,
}

/// Resolves a scalar's text; non-plain scalars are always strings.
#[must_use]
pub fn resolve(text: &str, plain: bool) -> Resolved {
    if !plain {
        return Resolved::Str;
    }
    if is_null_text(text) {
        return Resolved::Null;
    }
    match text {
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).map_or(Resolved::Str, Resolved::UInt);
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return u64::from_str_radix(oct, 8).map_or(Resolved::Str, Resolved::UInt);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(u) = text.strip_prefix('+').unwrap_or(text).parse::<u64>() {
            return Resolved::UInt(u);
        }
        if let Ok(i) = text.parse::<i64>() {
            return Resolved::Int(i);
        }
        return text.parse::<f64>().map_or(Resolved::Str, Resolved::Float);
    }
    if is_core_float(digits) {
        return text.parse::<f64>().map_or(Resolved::Str, Resolved::Float);
    }
    Resolved::Str
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the sign already stripped.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (whole, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        None => !whole.is_empty() && all_digits(whole),
        Some(f) => all_digits(whole) && all_digits(f) && !(whole.is_empty() && f.is_empty()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

/// A problem found while building the tree: a syntax error or a duplicate key.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeError {
    /// Where.
    pub span: Span,
    /// What.
    pub message: String,
}

enum Frame {
    Seq(Vec<Node>, Marker, usize),
    Map(Vec<(Node, Node)>, Option<Node>, Marker, usize),
}

/// Parses `source` into its first document's root node (`None` for an empty document), plus
/// duplicate-key errors; a syntax error stops the build.
pub fn build(source: &str) -> Result<(Option<Node>, Vec<TreeError>), TreeError> {
    let mut parser = Parser::new_from_str(source);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut dups = Vec::new();
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| TreeError {
            span: Span::from_markers(*e.marker(), *e.marker()),
            message: e.info().to_string(),
        })?;
        let finished = match event {
            Event::Scalar(text, style, anchor, _) => {
                let node = Node {
                    kind: NodeKind::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    span: Span::from_markers(span.start, span.end),
                };
                Some((node, anchor))
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => {
                    let mut n = n.clone();
                    n.span = Span::from_markers(span.start, span.end);
                    Some((n, 0))
                }
                None => {
                    return Err(TreeError {
                        span: Span::from_markers(span.start, span.end),
                        message: "unknown alias".into(),
                    });
                }
            },
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), span.start, anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Vec::new(), None, span.start, anchor));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, start, anchor)) => Some((
                    Node {
                        kind: NodeKind::Seq(items),
                        span: Span::from_markers(start, span.end),
                    },
                    anchor,
                )),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, start, anchor)) => {
                    check_duplicates(&entries, &mut dups);
                    Some((
                        Node {
                            kind: NodeKind::Map(entries),
                            span: Span::from_markers(start, span.end),
                        },
                        anchor,
                    ))
                }
                _ => None,
            },
            Event::DocumentEnd => break,
            _ => None,
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            Some(Frame::Seq(items, _, _)) => items.push(node),
            Some(Frame::Map(entries, pending, _, _)) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => *pending = Some(node),
            },
            None => root = Some(node),
        }
    }
    Ok((root, dups))
}

fn check_duplicates(entries: &[(Node, Node)], out: &mut Vec<TreeError>) {
    for (i, (key, _)) in entries.iter().enumerate() {
        let Some(name) = key.as_str() else { continue };
        if let Some((first, _)) = entries[..i].iter().find(|(k, _)| k.as_str() == Some(name)) {
            out.push(TreeError {
                span: key.span,
                message: format!(
                    "duplicate key '{name}' (first given on line {})",
                    first.span.start.line
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_paths() {
        let src = "a: 1\nlist:\n  - name: adam\n    lr: 0.1\n";
        let (root, dups) = build(src).unwrap();
        let root = root.unwrap();
        assert!(dups.is_empty());
        let path = parse_path("list[0].lr").unwrap();
        let (key, node) = root.find(&path).unwrap();
        assert_eq!(node.as_str(), Some("0.1"));
        assert_eq!(node.span.start, Pos { line: 4, column: 9 });
        assert_eq!(node.span.width(), 3);
        assert_eq!(key.unwrap().start, Pos { line: 4, column: 5 });
        assert!(root.find(&parse_path("list[3]").unwrap()).is_none());
    }

    #[test]
    fn resolves_core_schema() {
        assert_eq!(resolve("1e-3", true), Resolved::Float(1e-3));
        assert_eq!(resolve("-2", true), Resolved::Int(-2));
        assert_eq!(resolve("42", true), Resolved::UInt(42));
        assert_eq!(resolve(".5", true), Resolved::Float(0.5));
        assert_eq!(resolve("inf", true), Resolved::Str);
        assert_eq!(resolve("-.inf", true), Resolved::Float(f64::NEG_INFINITY));
        assert_eq!(resolve("42", false), Resolved::Str);
        assert_eq!(resolve("~", true), Resolved::Null);
        assert_eq!(resolve("1.2.3", true), Resolved::Str);
        assert_eq!(resolve("e5", true), Resolved::Str);
    }

    #[test]
    fn anchors_and_duplicates() {
        let (root, dups) = build("a: &x [1, 2]\nb: *x\na: 3\n").unwrap();
        let root = root.unwrap();
        assert!(matches!(&root.get("b").unwrap().kind, NodeKind::Seq(v) if v.len() == 2));
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].span.start, Pos { line: 3, column: 1 });
    }
}
