//! Reading a scenario: bytes → text → YAML syntax check (`serde_yaml`) → located tree
//! (`saphyr-parser`) → typed [`Scenario`], every problem turned into a [`ScenarioError`].

use std::path::{Path, PathBuf};

use super::catalog::Catalog;
use super::decode::{Diag, decode};
use super::error::{ScenarioError, ScenarioErrors};
use super::schema::{DataSpec, InitSpec, Objective, Scenario};
use super::tree::{self, Pos, Span};

const EMPTY: &str = "the file is empty; expected a mapping with `objective` and `optimizers`";

/// Builds located errors for one source text.
struct Reporter<'a> {
    file: &'a str,
    source: &'a str,
}

impl Reporter<'_> {
    fn error(&self, diag: Diag) -> ScenarioError {
        let line = diag.span.start.line.max(1);
        let source_line = self
            .source
            .lines()
            .nth(line - 1)
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string();
        ScenarioError {
            file: self.file.to_string(),
            line,
            column: diag.span.start.column.max(1),
            width: diag.span.width(),
            message: diag.message,
            expected: diag.expected,
            suggestion: diag.suggestion,
            source_line,
        }
    }

    fn errors(&self, mut diags: Vec<Diag>) -> ScenarioErrors {
        diags.sort_by_key(|d| (d.span.start, d.message.clone()));
        diags.dedup();
        ScenarioErrors(diags.into_iter().map(|d| self.error(d)).collect())
    }
}

fn at(line: usize, column: usize) -> Span {
    let p = Pos { line, column };
    Span { start: p, end: p }
}

fn diag(span: Span, message: impl Into<String>, expected: Option<&str>) -> Diag {
    Diag {
        span,
        message: message.into(),
        expected: expected.map(str::to_string),
        suggestion: None,
    }
}

fn single(file: &str, diag_: Diag) -> ScenarioErrors {
    ScenarioErrors(vec![ScenarioError {
        file: file.to_string(),
        line: diag_.span.start.line,
        column: diag_.span.start.column,
        width: 1,
        message: diag_.message,
        expected: diag_.expected,
        suggestion: diag_.suggestion,
        source_line: String::new(),
    }])
}

/// Position of byte `offset` in `bytes` (1-based line and character column).
fn position_of(bytes: &[u8], offset: usize) -> Span {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    at(line, column)
}

/// Loads a scenario from raw bytes; `file` names it in messages.
pub fn load_bytes(
    bytes: &[u8],
    file: &str,
    catalog: Option<&dyn Catalog>,
) -> Result<Scenario, ScenarioErrors> {
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        return Err(single(
            file,
            diag(
                position_of(bytes, nul),
                format!("the file is binary, not text (it has a NUL byte at offset {nul})"),
                Some("a YAML scenario in UTF-8 text"),
            ),
        ));
    }
    let source = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let offset = e.valid_up_to();
            let byte = bytes.get(offset).copied().unwrap_or(0);
            let span = position_of(bytes, offset);
            let lossy = String::from_utf8_lossy(bytes);
            let rep = Reporter {
                file,
                source: &lossy,
            };
            return Err(ScenarioErrors(vec![rep.error(diag(
                span,
                format!("the file is not valid UTF-8 (byte 0x{byte:02x} at offset {offset})"),
                Some("a YAML scenario in UTF-8 text"),
            ))]));
        }
    };
    load_source(source, file, catalog)
}

fn load_source(
    source: &str,
    file: &str,
    catalog: Option<&dyn Catalog>,
) -> Result<Scenario, ScenarioErrors> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let rep = Reporter { file, source };
    // serde_yaml (libyaml) gives the familiar syntax messages; duplicates are left to the tree,
    // which knows which key repeats.
    if let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(source) {
        let message = e.to_string();
        if !message.starts_with("duplicate entry") {
            let span = e.location().map_or(Span::TOP, |l| at(l.line(), l.column()));
            return Err(rep.errors(vec![syntax_diag(source, span, &message)]));
        }
    }
    let (root, dups) = match tree::build(source) {
        Ok(r) => r,
        Err(e) => return Err(rep.errors(vec![syntax_diag(source, e.span, &e.message)])),
    };
    let root = match root {
        Some(r) if !r.is_null() => r,
        _ => return Err(rep.errors(vec![diag(Span::TOP, EMPTY, None)])),
    };
    let default_name = Path::new(file)
        .file_stem()
        .map_or_else(|| file.to_string(), |s| s.to_string_lossy().into_owned());
    let mut diags: Vec<Diag> = dups
        .into_iter()
        .map(|d| diag(d.span, d.message, Some("each key once per mapping")))
        .collect();
    match decode(&root, &default_name, catalog) {
        Ok(s) if diags.is_empty() => Ok(s),
        Ok(_) => Err(rep.errors(diags)),
        Err(more) => {
            diags.extend(more);
            Err(rep.errors(diags))
        }
    }
}

/// A syntax error, its location suffixes removed (the caret shows where) and tabs explained.
fn syntax_diag(source: &str, span: Span, message: &str) -> Diag {
    let mut text = String::new();
    let mut rest = message;
    while let Some(i) = rest.find(" at line ") {
        text.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let skip = after
            .find(|c: char| !(c.is_ascii_digit() || c == ' ' || "column".contains(c)))
            .unwrap_or(after.len());
        rest = &after[skip..];
    }
    text.push_str(rest);
    let on_tab = source
        .lines()
        .nth(span.start.line.saturating_sub(1))
        .and_then(|l| l.chars().nth(span.start.column.saturating_sub(1)))
        == Some('\t');
    let (message, expected) = if on_tab {
        (
            format!("YAML syntax error: {text} (a tab)"),
            Some("spaces for indentation; YAML does not allow tabs there"),
        )
    } else {
        (format!("YAML syntax error: {text}"), None)
    };
    diag(span, message, expected)
}

/// Loads a scenario from text without registry checks; `file` names it in messages.
pub fn load_str(source: &str, file: &str) -> Result<Scenario, ScenarioErrors> {
    load_source(source, file, None)
}

/// Loads a scenario from text, checking optimizer names, hyperparameters and expressions
/// against `catalog`.
pub fn load_str_with(
    source: &str,
    file: &str,
    catalog: &dyn Catalog,
) -> Result<Scenario, ScenarioErrors> {
    load_source(source, file, Some(catalog))
}

/// Loads a scenario file without registry checks. Relative `csv` and `init: {file}` paths
/// are resolved against the scenario's folder.
pub fn load_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioErrors> {
    load_file_inner(path.as_ref(), None)
}

/// Loads a scenario file, checking it against `catalog`.
pub fn load_file_with(
    path: impl AsRef<Path>,
    catalog: &dyn Catalog,
) -> Result<Scenario, ScenarioErrors> {
    load_file_inner(path.as_ref(), Some(catalog))
}

fn load_file_inner(path: &Path, catalog: Option<&dyn Catalog>) -> Result<Scenario, ScenarioErrors> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        single(
            &file,
            diag(
                Span::TOP,
                format!("cannot read '{file}': {e}"),
                Some("a readable scenario file"),
            ),
        )
    })?;
    let mut scenario = load_bytes(&bytes, &file, catalog)?;
    if let Some(dir) = path.parent() {
        resolve_paths(&mut scenario, dir);
    }
    Ok(scenario)
}

fn resolve_paths(s: &mut Scenario, dir: &Path) {
    let join = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    };
    if let Objective::Model(m) = &mut s.objective {
        if let DataSpec::Csv(c) = &mut m.data {
            join(&mut c.path);
        }
        if let InitSpec::File(f) = &mut m.init {
            join(f);
        }
    }
}
