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

/// A problem found while building the tree: a syntax error, a duplicate key, a key that is not
/// a name, nesting too deep.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeError {
    /// Where.
    pub span: Span,
    /// What.
    pub message: String,
    /// What would have been accepted there.
    pub expected: Option<String>,
}

/// Deepest nesting of lists and mappings a scenario may have. The schema needs about six
/// (`optimizers[0].schedule.then` is four, an inline row five); a chain of `warmup` schedules
/// each `then` the next adds one a link.
pub const MAX_DEPTH: usize = 20;

fn depth_error(at: Pos) -> TreeError {
    TreeError {
        span: Span { start: at, end: at },
        message: format!("the document nests lists and mappings more than {MAX_DEPTH} deep here"),
        expected: Some(format!(
            "at most {MAX_DEPTH} levels of nesting (a scenario needs about 6)"
        )),
    }
}

/// Whether any line after the first of `span` reads like a mapping key or a list item: a
/// quoted string that swallowed those was most likely not closed where it should have been.
fn swallows_keys(source: &str, span: Span) -> bool {
    let looks_like_key = |line: &str| {
        let line = line.trim_start();
        let name_end = line
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(line.len());
        let rest = &line[name_end..];
        (name_end > 0 && (rest == ":" || rest.starts_with(": "))) || line.starts_with("- ")
    };
    source
        .lines()
        .skip(span.start.line)
        .take(span.end.line.saturating_sub(span.start.line))
        .any(looks_like_key)
}

/// Inside a quoted scalar, whether `c` closes it; an escape (`\x` in double quotes, `''` in
/// single ones) is skipped by taking its second character from `rest`.
fn closes_quote<I: Iterator<Item = (usize, char)>>(
    c: char,
    quote: char,
    rest: &mut std::iter::Peekable<I>,
) -> bool {
    match c {
        '\\' if quote == '"' => {
            rest.next();
            false
        }
        '\'' if quote == '\'' && rest.peek().is_some_and(|&(_, n)| n == '\'') => {
            rest.next();
            false
        }
        _ => c == quote,
    }
}

/// Flow nesting (`[`, `{`) deeper than [`MAX_DEPTH`], found by scanning the text itself: the
/// parsers look ahead for a possible `key:` after every opening bracket, so they reach a deep
/// flow only after scanning it whole, in time quadratic in its depth. Brackets inside quotes,
/// comments, block scalars and plain text are skipped; the scan may miss an exotic
/// construct (the parser's own depth check is the backstop) but never counts one too many.
fn flow_depth(source: &str) -> Result<(), TreeError> {
    let mut depth = 0_usize;
    let mut quote: Option<char> = None;
    // While a block scalar (`|`, `>`) runs: the indentation of the line that opened it.
    let mut block_scalar: Option<usize> = None;
    for (i, line) in source.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block_scalar {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        // The last character outside quotes: what decides whether a bracket or quote starts a
        // value (after `:`, `-`, `?`, `,`, an opening bracket, or at the start of a line).
        let mut prev: Option<char> = None;
        // The character just before, whitespace included: `#` starts a comment after a blank.
        let mut before: Option<char> = None;
        let mut chars = line.chars().enumerate().peekable();
        while let Some((j, c)) = chars.next() {
            let after_blank = before.is_none_or(char::is_whitespace);
            before = Some(c);
            if let Some(q) = quote {
                if closes_quote(c, q, &mut chars) {
                    quote = None;
                    prev = Some(c);
                }
                continue;
            }
            let value_start = matches!(prev, None | Some(':' | '-' | '?' | ',' | '[' | '{'));
            match c {
                '#' if after_blank => break,
                '"' | '\'' if value_start => quote = Some(c),
                '[' | '{' if depth > 0 || value_start => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(depth_error(Pos {
                            line: i + 1,
                            column: j + 1,
                        }));
                    }
                }
                // A bracket inside plain text (`x[0]`) is text: what follows is not a value.
                '[' | '{' => {
                    prev = Some('x');
                    continue;
                }
                ']' | '}' if depth > 0 => depth -= 1,
                '|' | '>' if depth == 0 && value_start => {
                    block_scalar = Some(indent);
                    break;
                }
                _ => {}
            }
            if !c.is_whitespace() {
                prev = Some(c);
            }
        }
    }
    Ok(())
}

/// Refuses, before any full parse, what a full parse would choke on or misplace:
/// - nesting deeper than [`MAX_DEPTH`], reported at the first level too deep (libyaml, behind
///   `serde_yaml`, takes time quadratic in the depth: 100,000 nested `[` took over a minute);
/// - an unterminated quoted string, reported where it opens rather than where the parser gave
///   up (the end of the file, or a later line whose own quote closed it).
///
/// Every other syntax error is left to the full parse, which words it better.
pub fn precheck(source: &str) -> Result<(), TreeError> {
    flow_depth(source)?;
    let mut parser = Parser::new_from_str(source);
    let mut depth = 0_usize;
    // The last quoted scalar that spans lines, and its quote character.
    let mut multiline_quote: Option<(Span, char)> = None;
    while let Some(event) = parser.next_event() {
        let (event, span) = match event {
            Ok(e) => e,
            Err(e) => {
                let at = Span::from_markers(*e.marker(), *e.marker());
                // The scanner reports a quoted scalar's errors (the file ends inside it, a line
                // of it is indented less than its key) at its opening quote.
                if e.info().contains("quoted scalar") {
                    if let Some(err) = unclosed_quote(source, at.start) {
                        return Err(err);
                    }
                }
                if let Some((q, quote)) = multiline_quote {
                    if q.end.line == at.start.line && swallows_keys(source, q) {
                        return Err(TreeError {
                            span: Span {
                                start: q.start,
                                end: q.start,
                            },
                            message: format!(
                                "YAML syntax error: the quoted string that opens here is not \
                                 closed on its line; it runs on to line {}, column {}, where the \
                                 YAML breaks ({})",
                                q.end.line,
                                q.end.column,
                                e.info()
                            ),
                            expected: Some(format!("a closing {quote} on line {}", q.start.line)),
                        });
                    }
                }
                return Ok(());
            }
        };
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(depth_error(pos(span.start)));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            Event::Scalar(
                _,
                style @ (ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted),
                ..,
            ) if span.start.line() != span.end.line() => {
                let quote = if style == ScalarStyle::SingleQuoted {
                    '\''
                } else {
                    '"'
                };
                multiline_quote = Some((Span::from_markers(span.start, span.end), quote));
            }
            Event::StreamEnd => break,
            _ => {}
        }
    }
    Ok(())
}

/// The error for a quoted string opening at `open` that the parser could not end: where it
/// opens, and where its closing quote really is, if anywhere.
fn unclosed_quote(source: &str, open: Pos) -> Option<TreeError> {
    let mut lines = source.lines().skip(open.line.saturating_sub(1));
    let first = lines.next()?;
    let mut chars = first.chars().skip(open.column.saturating_sub(1));
    let quote = chars.next().filter(|c| *c == '"' || *c == '\'')?;
    let expected = Some(format!("a closing {quote} on line {}", open.line));
    // Find the closing quote: `\"` escapes in double quotes, `''` in single ones.
    let mut close = None;
    let rest = std::iter::once((open.line, chars.collect::<String>())).chain(
        lines
            .enumerate()
            .map(|(k, l)| (open.line + 1 + k, l.to_string())),
    );
    'lines: for (line, text) in rest {
        let offset = if line == open.line { open.column } else { 0 };
        let mut it = text.chars().enumerate().peekable();
        while let Some((k, c)) = it.next() {
            if closes_quote(c, quote, &mut it) {
                close = Some((line, offset + k + 1));
                break 'lines;
            }
        }
    }
    let message = match close {
        None => "YAML syntax error: this quoted string is never closed (the file ends inside it)"
            .to_string(),
        Some((line, column)) => format!(
            "YAML syntax error: the quoted string that opens here is not closed on its line; the \
             next {quote} is on line {line}, column {column}"
        ),
    };
    Some(TreeError {
        span: Span {
            start: open,
            end: open,
        },
        message,
        expected,
    })
}

/// What a mapping waits for after its last complete entry.
enum Pending {
    /// A key.
    Key,
    /// The value of this key.
    Value(Node),
    /// The value of a key that was refused (not a name): it is dropped.
    Skip,
}

enum Frame {
    Seq(Vec<Node>, Marker, usize),
    Map(Vec<(Node, Node)>, Pending, Marker, usize),
}

/// Parses `source` into its first document's root node (`None` for an empty document), plus
/// the errors that leave the rest readable (duplicate keys, keys that are not names); a syntax
/// error or nesting deeper than [`MAX_DEPTH`] stops the build.
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
            expected: None,
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
                        expected: None,
                    });
                }
            },
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(depth_error(pos(span.start)));
                }
                stack.push(Frame::Seq(Vec::new(), span.start, anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(depth_error(pos(span.start)));
                }
                stack.push(Frame::Map(Vec::new(), Pending::Key, span.start, anchor));
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
            Some(Frame::Map(entries, pending, _, _)) => {
                match std::mem::replace(pending, Pending::Key) {
                    Pending::Value(key) => entries.push((key, node)),
                    Pending::Skip => {}
                    // Every key of the schema is a name: a list or mapping as a key (YAML's
                    // `? [a, b]`) is reported here, once, and its entry dropped.
                    Pending::Key if !matches!(node.kind, NodeKind::Scalar { .. }) => {
                        dups.push(TreeError {
                            span: node.span,
                            message: format!("{} cannot be a key here", node.describe()),
                            expected: Some("a name such as `lr` as the key".into()),
                        });
                        *pending = Pending::Skip;
                    }
                    Pending::Key => *pending = Pending::Value(node),
                }
            }
            None => root = Some(node),
        }
    }
    Ok((root, dups))
}

/// Reports every key given twice in one mapping, in time linear in its size (a generated file
/// may hold a mapping of a million keys).
fn check_duplicates(entries: &[(Node, Node)], out: &mut Vec<TreeError>) {
    let mut seen: HashMap<&str, &Node> = HashMap::with_capacity(entries.len());
    for (key, _) in entries {
        let Some(name) = key.as_str() else { continue };
        if let Some(first) = seen.get(name).copied() {
            out.push(TreeError {
                span: key.span,
                message: format!(
                    "duplicate key '{name}' (first given on line {})",
                    first.span.start.line
                ),
                expected: Some("each key once per mapping".into()),
            });
        } else {
            seen.insert(name, key);
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

    fn precheck_error(src: &str) -> TreeError {
        match precheck(src) {
            Ok(()) => panic!("accepted:\n{src}"),
            Err(e) => e,
        }
    }

    #[test]
    fn deep_nesting_is_refused_at_the_first_level_too_deep() {
        let flow = format!("a: {}", "[".repeat(100_000));
        let e = precheck_error(&flow);
        assert_eq!(
            e.span.start,
            Pos {
                line: 1,
                column: 24
            }
        );
        assert!(e.message.contains("more than 20 deep"), "{}", e.message);
        let maps = "{a: ".repeat(50);
        assert_eq!(
            precheck_error(&maps).span.start,
            Pos {
                line: 1,
                column: 81
            }
        );
        let block = format!("{}x\n", "- ".repeat(50));
        assert_eq!(
            precheck_error(&block).span.start,
            Pos {
                line: 1,
                column: 41
            }
        );
        // Twenty levels are fine.
        let ok = format!("a: {}1{}\n", "[".repeat(19), "]".repeat(19));
        assert!(precheck(&ok).is_ok());
        assert!(build(&ok).is_ok());
    }

    #[test]
    fn brackets_that_do_not_nest_are_not_counted() {
        let deep = "[".repeat(30);
        for src in [
            format!("a: \"{deep}\"\n"),
            format!("a: '{deep} it''s'\n"),
            format!("a: 1 # {deep}\n"),
            format!("a: |\n  {deep}\n  more\nb: 2\n"),
            format!("a: x{deep}\n"),
            format!("a: [\"{deep}\", '{deep}']\n"),
        ] {
            assert!(precheck(&src).is_ok(), "{src}");
        }
    }

    #[test]
    fn every_bundled_and_valid_scenario_passes_the_precheck() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for dir in ["scenarios", "tests/scenarios/valid"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                // `scenarios/data/` holds the bundled scenarios' data files.
                if path.is_dir() {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(precheck(&text).is_ok(), "{}", path.display());
                checked += 1;
            }
        }
        assert!(checked > 20);
    }

    #[test]
    fn unclosed_quotes_are_reported_where_they_open() {
        let e = precheck_error("a: 1\nname: \"oops\nb: [1]\n");
        assert_eq!(e.span.start, Pos { line: 2, column: 7 });
        assert!(e.message.contains("never closed"), "{}", e.message);
        let e = precheck_error("name: \"oops\nobjective: {expr: \"x\"}\n");
        assert_eq!(e.span.start, Pos { line: 1, column: 7 });
        assert!(
            e.message.contains("the next \" is on line 2, column 19"),
            "{}",
            e.message
        );
        assert_eq!(e.expected.as_deref(), Some("a closing \" on line 1"));
        let e = precheck_error("a: 1\nname: 'it''s\n");
        assert_eq!(e.span.start, Pos { line: 2, column: 7 });
        assert_eq!(e.expected.as_deref(), Some("a closing ' on line 2"));
        // A quoted string that spans lines properly is fine.
        assert!(precheck("a: \"one\n  two\"\nb: 1\n").is_ok());
    }

    #[test]
    fn keys_that_are_not_names_are_reported_and_dropped() {
        let (root, errors) = build("a: 1\n? [b, c]\n: 2\nd: 3\n").unwrap();
        let root = root.unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].message, "a list cannot be a key here");
        assert_eq!(errors[0].span.start, Pos { line: 2, column: 3 });
        let NodeKind::Map(entries) = &root.kind else {
            panic!("a mapping")
        };
        let keys: Vec<_> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "d"]);
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
