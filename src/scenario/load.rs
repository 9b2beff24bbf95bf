//! Reading a scenario: a bounded read of a regular file → text → a streaming pre-check
//! (nesting depth, unterminated quotes) → YAML syntax check (`serde_yaml`) → located tree
//! (`saphyr-parser`) → typed [`Scenario`] → command-line [`Overrides`] → resource check
//! ([`budget`](super::budget)), every problem turned into a [`ScenarioError`].

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::budget::{self, Limits};
use super::decode::{Diag, MAX_DIAGS, decode};
use super::error::{ScenarioError, ScenarioErrors};
use super::schema::{DataSpec, Objective, Scenario};
use super::tree::{self, Node, Pos, Span};
use crate::ad::Engine;
use crate::data::read::{check_file, read_limited};
use crate::model::Init;

/// What the command line changes about a scenario: settings that replace the file's, and
/// whether the resource limits are lifted (`--allow-large`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub engine: Option<Engine>,
    pub max_steps: Option<u64>,
    /// Lift the resource limits to the machine's memory (see [`Limits`]).
    pub allow_large: bool,
    /// Limits to check against instead of this machine's (`allow_large` is then ignored):
    /// for callers that must bound the work more tightly than the machine allows, such as the
    /// fuzz tests, which build thousands of mutated scenarios.
    pub limits: Option<Limits>,
}

impl Overrides {
    /// Replaces the file's settings with the command line's.
    pub fn apply(&self, s: &mut Scenario) {
        if let Some(seed) = self.seed {
            s.seed = seed;
        }
        if let Some(engine) = self.engine {
            s.engine = engine;
        }
        if let Some(steps) = self.max_steps {
            s.stop.max_steps = steps;
        }
    }

    /// The resource limits in force on this machine.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
            .clone()
            .unwrap_or_else(|| Limits::for_machine(self.allow_large))
    }
}

/// Most errors reported for one file.
pub const MAX_REPORTED: usize = 50;

const EMPTY: &str = "the file is empty; expected a mapping with `objective` and `optimizers`";

/// Builds located errors for one source text.
struct Reporter<'a> {
    file: &'a str,
    source: &'a str,
}

impl Reporter<'_> {
    fn error(&self, diag: Diag) -> ScenarioError {
        let (line, column) = inside(
            self.source,
            diag.span.start.line.max(1),
            diag.span.start.column.max(1),
        );
        let (source_line, source_from) =
            crate::diagnostic::excerpt(self.source.lines().nth(line - 1).unwrap_or(""), column);
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            width: diag.span.width(),
            message: diag.message,
            expected: diag.expected,
            suggestion: diag.suggestion,
            source_line,
            source_from,
        }
    }

    /// The errors in source order, at most [`MAX_REPORTED`] of them: a generated file can have
    /// a million, and the last one shown says how many more there are.
    fn errors(&self, mut diags: Vec<Diag>) -> ScenarioErrors {
        diags.sort_by_key(|d| (d.span.start, d.message.clone()));
        diags.dedup();
        let omitted = diags.len().saturating_sub(MAX_REPORTED);
        if omitted > 0 {
            // The decoder stops recording at `MAX_DIAGS`: past it the count is a lower bound.
            let at_least = if diags.len() >= MAX_DIAGS {
                "at least "
            } else {
                ""
            };
            diags.truncate(MAX_REPORTED);
            if let Some(last) = diags.last_mut() {
                last.message = format!(
                    "{} (and {at_least}{omitted} more error(s) after this one, not shown)",
                    last.message
                );
            }
        }
        ScenarioErrors(diags.into_iter().map(|d| self.error(d)).collect())
    }
}

/// A parser's position moved onto the text: saphyr puts the end of a file whose last line has
/// no line break on a line after the last (libyaml does too, but its positions are taken from
/// its byte offset); the end of the last line is where that is.
fn inside(source: &str, line: usize, column: usize) -> (usize, usize) {
    let lines = source.split('\n').count();
    if line > lines {
        let last = source.rsplit('\n').next().unwrap_or("");
        return (lines, last.chars().count() + 1);
    }
    let width = source
        .split('\n')
        .nth(line - 1)
        .map_or(0, |l| l.chars().count());
    (line, column.min(width + 1))
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
        source_from: 1,
    }])
}

/// The text with every lone carriage return made a line feed. YAML ends a line at a line feed,
/// a CR LF pair or a lone CR, and so does every position the loader reports: rewriting lone
/// CRs (classic Mac line ends, or a stray one) before anything reads the text makes both
/// parsers, the checks that scan lines and the excerpts under an error count the same lines.
/// YAML folds every line break in a value into a line feed, so no value changes.
pub(crate) fn unify_line_breaks(source: &str) -> Cow<'_, str> {
    let bytes = source.as_bytes();
    let lone = |i: usize| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n');
    if !(0..bytes.len()).any(lone) {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(if c == '\r' && chars.peek() != Some(&'\n') {
            '\n'
        } else {
            c
        });
    }
    Cow::Owned(out)
}

/// Position of byte `offset` in `bytes` (1-based line and character column), lines ending as
/// in [`unify_line_breaks`].
fn position_of(bytes: &[u8], offset: usize) -> Span {
    let before = &bytes[..offset.min(bytes.len())];
    let ends_line =
        |i: usize| bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
    let line = (0..before.len()).filter(|&i| ends_line(i)).count() + 1;
    let line_start = (0..before.len()).rposition(ends_line).map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    at(line, column)
}

/// A scenario loaded to be run, with what the build step needs to place its own errors: the
/// file's name, its text and its located tree.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub file: String,
    pub source: String,
    pub root: Node,
}

/// Loads a scenario from raw bytes; `file` names it in messages. The resource limits are this
/// machine's defaults.
pub fn load_bytes(bytes: &[u8], file: &str) -> Result<Scenario, ScenarioErrors> {
    load_bytes_inner(bytes, file, &Overrides::default(), None).map(|(s, _)| s)
}

fn load_bytes_inner(
    bytes: &[u8],
    file: &str,
    overrides: &Overrides,
    dir: Option<&Path>,
) -> Result<(Scenario, Node), ScenarioErrors> {
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
    load_source(source, file, overrides, dir)
}

fn tree_diag(e: tree::TreeError) -> Diag {
    Diag {
        span: e.span,
        message: e.message,
        expected: e.expected,
        suggestion: None,
    }
}

/// `dir` is the scenario's folder, against which relative data paths are resolved (`None`:
/// the working directory).
fn load_source(
    source: &str,
    file: &str,
    overrides: &Overrides,
    dir: Option<&Path>,
) -> Result<(Scenario, Node), ScenarioErrors> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let unified = unify_line_breaks(source);
    let source: &str = &unified;
    let rep = Reporter { file, source };
    // Before any full parse: nesting too deep to parse quickly, and quotes left open.
    if let Err(e) = tree::precheck(source) {
        return Err(rep.errors(vec![tree_diag(e)]));
    }
    // serde_yaml (libyaml) gives the familiar syntax messages. `IgnoredAny` builds nothing and
    // takes any number (a `Value` refuses integers beyond 64 bits, which the decoder reports
    // better, with the field's range).
    if let Err(e) = serde_yaml::from_str::<serde::de::IgnoredAny>(source) {
        // From the byte offset, not libyaml's line and column: libyaml (YAML 1.1) also ends
        // lines at NEL, LS and PS, and puts the end of a file without a final line break on a
        // line after the last.
        let span = e
            .location()
            .map_or(Span::TOP, |l| position_of(source.as_bytes(), l.index()));
        return Err(rep.errors(vec![syntax_diag(source, span, &e.to_string())]));
    }
    let (root, dups) = match tree::build(source) {
        Ok(r) => r,
        Err(e) if e.expected.is_some() => return Err(rep.errors(vec![tree_diag(e)])),
        Err(e) => return Err(rep.errors(vec![syntax_diag(source, e.span, &e.message)])),
    };
    let root = match root {
        Some(r) if !r.is_null() => r,
        _ => return Err(rep.errors(vec![diag(Span::TOP, EMPTY, None)])),
    };
    let default_name = Path::new(file)
        .file_stem()
        .map_or_else(|| file.to_string(), |s| s.to_string_lossy().into_owned());
    let mut diags: Vec<Diag> = dups.into_iter().take(MAX_DIAGS).map(tree_diag).collect();
    match decode(&root, &default_name) {
        Ok(mut s) if diags.is_empty() => {
            overrides.apply(&mut s);
            let limits = overrides.limits();
            let mut over = check_files(&s, &root, dir, &limits);
            over.extend(budget::check(&s, &root, &limits, None));
            if over.is_empty() {
                Ok((s, root))
            } else {
                Err(rep.errors(over))
            }
        }
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

/// Loads a scenario from text; `file` names it in messages.
pub fn load_str(source: &str, file: &str) -> Result<Scenario, ScenarioErrors> {
    load_source(source, file, &Overrides::default(), None).map(|(s, _)| s)
}

/// A run's `schedule` and `average` written as a scenario writes them (YAML flow text such as
/// `{kind: cosine, T_max: 500}`, or `none`), read and checked for `optimizer` in a run of
/// `max_steps` steps exactly as a file's would be (the TUI's editor uses it). The error is the
/// loader's message and what it expected, without a location (there is no file).
pub fn run_options(
    optimizer: &str,
    schedule: &str,
    average: &str,
    max_steps: u64,
) -> Result<crate::session::RunSpec, String> {
    let entry = |key: &str, text: &str| {
        let text = text.trim();
        if matches!(text, "" | "none" | "None" | "null" | "~") {
            String::new()
        } else {
            format!("    {key}: {text}\n")
        }
    };
    let source = format!(
        "objective: {{expr: \"x^2\", start: [1]}}\noptimizers:\n  - name: {optimizer}\n{}{}\
         stop: {{max_steps: {max_steps}}}\n",
        entry("schedule", schedule),
        entry("average", average),
    );
    let scenario = load_str(&source, "editor").map_err(|e| match e.0.first() {
        Some(first) => match &first.expected {
            Some(expected) => format!("{}; expected {expected}", first.message),
            None => first.message.clone(),
        },
        None => "not a schedule".to_owned(),
    })?;
    let mut spec = scenario
        .optimizers
        .into_iter()
        .next()
        .ok_or_else(|| "no run".to_owned())?;
    if let Some(s) = &mut spec.schedule {
        s.resolve_total_steps(max_steps);
    }
    Ok(spec)
}

/// Loads a scenario from text as it will be run: the command line's `overrides` applied, and
/// its resources estimated under their limits.
pub fn load_str_for_run(
    source: &str,
    file: &str,
    overrides: &Overrides,
) -> Result<Loaded, ScenarioErrors> {
    let (scenario, root) = load_source(source, file, overrides, None)?;
    Ok(Loaded {
        scenario,
        file: file.to_string(),
        // Lines counted as the loader counts them, for the build step's locations.
        source: unify_line_breaks(source).into_owned(),
        root,
    })
}

/// Loads a scenario file. Relative `csv` and `init: {file}` paths are resolved against the
/// scenario's folder.
pub fn load_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioErrors> {
    load_file_for_run(path.as_ref(), &Overrides::default()).map(|l| l.scenario)
}

/// Loads a scenario file as it will be run (see [`load_str_for_run`]).
pub fn load_file_for_run(path: &Path, overrides: &Overrides) -> Result<Loaded, ScenarioErrors> {
    let file = path.display().to_string();
    let bytes = read_scenario(path, &overrides.limits())?;
    let (mut scenario, root) = load_bytes_inner(&bytes, &file, overrides, path.parent())?;
    if let Some(dir) = path.parent() {
        resolve_paths(&mut scenario, dir);
    }
    Ok(Loaded {
        scenario,
        file,
        source: unify_line_breaks(&String::from_utf8_lossy(&bytes)).into_owned(),
        root,
    })
}

/// Reads a scenario file: a regular file, at most the limit's size.
fn read_scenario(path: &Path, limits: &Limits) -> Result<Vec<u8>, ScenarioErrors> {
    let file = path.display().to_string();
    read_limited(path, limits.scenario_file, limits.file_hint()).map_err(|e| {
        // The error names the file; the message says it once, quoted.
        let text = e.to_string();
        let reason = text.strip_prefix(&format!("{file}: ")).unwrap_or(&text);
        single(
            &file,
            diag(
                Span::TOP,
                format!("cannot read '{file}': {reason}"),
                Some("a readable scenario file"),
            ),
        )
    })
}

/// The files a scenario names (a CSV dataset, an init file), looked at without being read: a
/// missing path, a device, a FIFO, a folder or a file over the size limit is refused here, at
/// its place in the scenario. The build step reads them with the same limits, in case they
/// change in between.
fn check_files(s: &Scenario, root: &tree::Node, dir: Option<&Path>, limits: &Limits) -> Vec<Diag> {
    let Objective::Model(m) = &s.objective else {
        return Vec::new();
    };
    let mut files: Vec<(&Path, &str, &str)> = Vec::new();
    if let DataSpec::Csv(c) = &m.data {
        files.push((&c.path, "objective.data.path", "a CSV file"));
    }
    if let Init::File(f) = &m.init {
        files.push((f, "objective.init.file", "a file of parameter values"));
    }
    let mut out = Vec::new();
    for (path, at_path, what) in files {
        let full = match dir {
            Some(d) if path.is_relative() => d.join(path),
            _ => path.to_path_buf(),
        };
        if super::bundled::data(&full).is_some() {
            continue;
        }
        if let Err(e) = check_file(&full, limits.data_file, limits.file_hint()) {
            let text = e.to_string();
            let shown = full.display().to_string();
            let reason = text.strip_prefix(&format!("{shown}: ")).unwrap_or(&text);
            out.push(diag(
                budget::locate(root, at_path),
                format!("cannot read '{shown}': {reason}"),
                Some(what),
            ));
        }
    }
    out
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
        if let Init::File(f) = &mut m.init {
            join(f);
        }
    }
}
