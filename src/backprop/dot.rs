//! A computation graph in Graphviz DOT, as micrograd's `draw_dot` draws one: a record per node
//! (name, operation, value, gradient), an edge per tape edge labelled with its local partial,
//! inputs on the left and the output on the right (`rankdir=LR`), the output drawn with a
//! double border. Render it with `dot -Tsvg graph.dot > graph.svg`.

use std::fmt::Write as _;

use super::graph::Graph;
use super::{exact, short};

/// The graph as a DOT document. Values and gradients are written with 4 significant digits
/// on the node and exactly in its tooltip.
///
/// ```
/// use gradscope::backprop::{Graph, dot};
/// use gradscope::expr::Expression;
/// let f = Expression::parse("x * y").unwrap();
/// let text = dot::to_dot(&Graph::new(&f, &[2.0, 3.0]));
/// assert!(text.starts_with("digraph gradscope {"));
/// assert!(text.contains("n0 -> n2 [label=\"∂ 3\"]"));
/// ```
#[must_use]
pub fn to_dot(graph: &Graph) -> String {
    let mut s = String::from("digraph gradscope {\n");
    let _ = writeln!(s, "  rankdir=LR;");
    let _ = writeln!(s, "  label=\"{}\";", quoted(graph.source.trim()));
    let _ = writeln!(s, "  node [shape=record, fontname=\"Helvetica\"];");
    let _ = writeln!(s, "  edge [fontname=\"Helvetica\", fontsize=10];");
    for (i, node) in graph.nodes.iter().enumerate() {
        let (value, grad) = (node.view.value, node.view.adjoint);
        let label = format!(
            "{{ {} | {} | value {} | grad {} }}",
            record(&node.name),
            record(&graph.written(i)),
            record(&short(value)),
            record(&short(grad))
        );
        let tooltip = format!("value = {}, gradient = {}", exact(value), exact(grad));
        let mut attrs = format!(
            "label=\"{}\", tooltip=\"{}\"",
            quoted(&label),
            quoted(&tooltip)
        );
        if graph.output == Some(i) {
            attrs.push_str(", peripheries=2");
        }
        if node.is_input() {
            attrs.push_str(", style=filled, fillcolor=\"#dbe9f6\"");
        }
        let _ = writeln!(s, "  n{i} [{attrs}];");
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        for (&p, &w) in node.view.inputs.iter().zip(&node.view.partials) {
            let _ = writeln!(s, "  n{p} -> n{i} [label=\"∂ {}\"];", quoted(&short(w)));
        }
    }
    s.push_str("}\n");
    s
}

/// Text escaped for a record label field: its structure characters get a backslash.
fn record(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '{' | '}' | '|' | '<' | '>' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text for a double-quoted DOT string: quotes and backslashes escaped, line breaks as `\n`,
/// other control characters dropped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::expr::Expression;

    /// A small structural check of a DOT document: one `digraph NAME {` header and a closing
    /// `}`, every statement a graph attribute, a node `nK [...]` or an edge `nA -> nB [...]`
    /// ending in `;`, quotes and brackets balanced, every edge between declared nodes.
    /// Returns the nodes and edges it found.
    pub(crate) fn check_dot(text: &str) -> Result<(usize, usize), String> {
        let mut lines = text.lines();
        let head = lines.next().ok_or("empty")?;
        if !(head.starts_with("digraph ") && head.ends_with('{')) {
            return Err(format!("bad header {head:?}"));
        }
        let body: Vec<&str> = lines.collect();
        if body.last() != Some(&"}") {
            return Err("no closing brace".into());
        }
        let mut nodes = std::collections::HashSet::new();
        let mut edges = Vec::new();
        for line in &body[..body.len() - 1] {
            let stmt = line.trim();
            let Some(stmt) = stmt.strip_suffix(';') else {
                return Err(format!("statement without ';': {stmt:?}"));
            };
            // Quotes balanced (ignoring escaped ones), brackets balanced outside quotes.
            let (mut in_quote, mut escaped, mut depth) = (false, false, 0i32);
            for c in stmt.chars() {
                match (in_quote, escaped, c) {
                    (_, true, _) => escaped = false,
                    (true, false, '\\') => escaped = true,
                    (_, false, '"') => in_quote = !in_quote,
                    (false, false, '[') => depth += 1,
                    (false, false, ']') => depth -= 1,
                    _ => {}
                }
            }
            if in_quote || depth != 0 {
                return Err(format!("unbalanced: {stmt:?}"));
            }
            let head = stmt.split(['[', '=']).next().unwrap_or("").trim();
            let id = |t: &str| -> Result<usize, String> {
                t.trim()
                    .strip_prefix('n')
                    .and_then(|k| k.parse().ok())
                    .ok_or(format!("bad node id {t:?}"))
            };
            if let Some((a, b)) = head.split_once("->") {
                edges.push((id(a)?, id(b)?));
            } else if head.starts_with('n') && stmt.contains('[') && head != "node" {
                nodes.insert(id(head)?);
            } else if !["rankdir", "label", "node", "edge"].contains(&head) {
                return Err(format!("unknown statement {stmt:?}"));
            }
        }
        for (a, b) in &edges {
            if !nodes.contains(a) || !nodes.contains(b) {
                return Err(format!("edge n{a} -> n{b} names an undeclared node"));
            }
        }
        Ok((nodes.len(), edges.len()))
    }

    #[test]
    fn the_dot_document_parses_and_has_every_node_and_edge() {
        let f = Expression::parse("r = y - x^2 # \"quoted\" {x|y}\n(1 - x)^2 + 100 * r^2").unwrap();
        let g = Graph::new(&f, &[2.0, -1.5]);
        let text = to_dot(&g);
        let edges: usize = g.nodes.iter().map(|n| n.view.inputs.len()).sum();
        assert_eq!(check_dot(&text), Ok((g.nodes.len(), edges)));
        assert!(
            text.contains("label=\"{ r | y - t2 | value -0.25 | grad -50 }\""),
            "{text}"
        );
        assert!(text.contains("peripheries=2"));
        assert!(text.contains(r#"\"quoted\" {x|y}"#), "{text}");
        assert!(check_dot("digraph g {\n  n0 -> n1;\n}").is_err());
        assert!(check_dot("digraph g {\n  n0 [label=\"a];\n}").is_err());
    }
}
