//! Scenarios: the bundled scenarios and the valid and invalid fixtures, mutated (byte flips,
//! line deletions and duplications, values swapped between keys, numbers replaced by extremes,
//! deep nesting, odd Unicode, control characters, truncation, anchors and aliases, tags,
//! several documents, complex keys, flow and block forms swapped, CR line ends, long strings),
//! then loaded and built the way the binary and the explorer do (`scenario::load_and_build` on a
//! file, or `load_str_and_build` on text).
//!
//! A rejected scenario must give at least one error, each naming the file and a line and
//! column inside it (line 1 to the number of lines, column 1 to one past the end of that line),
//! with a message, rendered as `file:line:column`: what the binary prints before exiting 2.
//! An accepted one runs [`STEPS`] steps (its `max_steps` overridden, as `--steps` does), after
//! which every run must have stopped with its history ending at its last step; its headless
//! report (table, CSV, JSON) and trajectory export are made, the table must be safe to print
//! (no control characters), and some accepted scenarios of up to 64 parameters are also opened
//! in the explorer (a short random script, see [`super::tui`]) or plotted.

use std::ops::Range;
use std::path::{Path, PathBuf};

use gradscope::headless::{self, ScenarioReport};
use gradscope::scenario::{self, Built, Overrides, ScenarioErrors};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::{Fuzz, STEPS, acts_on_terminal, corpus, limits, preview};

/// Generated cases in `cargo test`.
const CASES: u64 = 800;

/// Longest mutant: a little over the suite's scenario file limit.
const MAX_LEN: usize = (1 << 20) + 4096;

/// How the loader is reached.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Entry {
    /// `load_and_build` on a file (what the binary and the explorer's `o` and reload do).
    File,
    /// `load_str_and_build` on text (the built-in default's path).
    Text,
}

/// What a case came to.
#[derive(Debug, Default)]
struct Tally {
    accepted: u64,
    rejected: u64,
    explored: u64,
    plotted: u64,
}

/// Every scenario file the suite starts from: name and bytes.
fn sources() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        "scenarios",
        "tests/scenarios/valid",
        "tests/scenarios/invalid",
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("a scenario folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).expect("readable scenario");
            out.push((
                format!(
                    "{dir}/{}",
                    f.file_name().expect("a file name").to_string_lossy()
                ),
                bytes,
            ));
        }
    }
    assert!(out.len() > 60, "only {} scenarios to mutate", out.len());
    out
}

/// Replacements for numbers: zero, negatives, the ends of `f64` and beyond, integers past
/// every integer type, and YAML's spellings of NaN and infinity.
const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "1e400",
    "-1e400",
    ".nan",
    ".inf",
    "-.inf",
    ".NaN",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "-9223372036854775809",
    "4294967296",
    "1e-320",
    "-0",
    "0x7fffffff",
    "0o777",
    "1_000",
    "+1",
    "1e3",
    "2.5",
    "1.0",
];

/// Characters few files contain: BOM, zero-width, bidi overrides, Unicode line breaks,
/// combining marks, astral and full-width characters.
const UNICODE: &[&str] = &[
    "\u{feff}", "\u{200b}", "\u{202e}", "\u{2066}", "\u{85}", "\u{2028}", "\u{2029}", "é",
    "e\u{301}", "😀", "𝔁", "１２", "\u{a0}", "\u{fffd}", "ß", "İ", "\u{3000}",
];

/// Control characters, raw and as YAML escapes inside double quotes.
const CONTROLS: &[&str] = &[
    "\r",
    "\t",
    "\u{1b}[31m",
    "\u{7}",
    "\u{b}",
    "\u{c}",
    "\u{7f}",
    "\u{0}",
    "\u{1b}]0;x\u{7}",
    "\"\\e[2J\\0\\a\"",
    "\"\\u202e\\x1b\"",
    "\r\n",
    "\u{9b}",
];

/// The value spans of `key: value` pairs, block or flow (`{a: 1, b: [2, 3]}`).
fn values(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = bytes[i..].windows(2).position(|w| w == b": ") {
        let mut start = i + k + 2;
        while start < bytes.len() && bytes[start] == b' ' {
            start += 1;
        }
        let mut end = start;
        let mut depth = 0_i32;
        // Values longer than this are skipped: scanning every nested value of a deep mapping
        // to its end would take time quadratic in the nesting.
        let limit = (start + 400).min(bytes.len());
        while end < limit {
            match bytes[end] {
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth > 0 => depth -= 1,
                b',' | b']' | b'}' | b'\n' if depth == 0 => break,
                b'\n' => break,
                b'#' if depth == 0 && end > start && bytes[end - 1] == b' ' => break,
                _ => {}
            }
            end += 1;
        }
        // Stopped at a delimiter (always ASCII, so on a character boundary) or at the end.
        let ended = end < limit || end == bytes.len();
        if ended {
            let trimmed = text[start..end].trim_end().len();
            if trimmed > 0 && !matches!(bytes[start], b'|' | b'>') {
                out.push(start..start + trimmed);
            }
        }
        i = (start + 1).min(text.len());
        if i >= text.len() {
            break;
        }
    }
    out
}

/// The spans of numbers: runs of digits, signs, points and exponents holding a digit, not
/// part of a word.
fn numbers(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let part = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if part(bytes[i]) && (i == 0 || !word(bytes[i - 1])) {
            let mut end = i;
            while end < bytes.len() && part(bytes[end]) {
                end += 1;
            }
            let digit = bytes[i..end].iter().any(u8::is_ascii_digit);
            if digit && (end == bytes.len() || !word(bytes[end])) {
                out.push(i..end);
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The start offsets of the lines.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&i| i < text.len())
        .collect()
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The text with one random line (0-based `index`) replaced by `f(line)`.
fn edit_line(text: &str, index: usize, f: impl FnOnce(&str) -> String) -> String {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
    if let Some(line) = lines.get_mut(index) {
        *line = f(line);
    }
    lines.concat()
}

/// Nesting `depth` deep, in flow or block form, indented for a value at `indent`.
fn nesting(rng: &mut ChaCha8Rng, depth: usize, indent: usize) -> String {
    // Block form under a value far along a long line would be megabytes of indentation.
    let forms = if indent > 80 { 3 } else { 4 };
    match rng.random_range(0..forms) {
        0 => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth)),
        2 => format!("{}1", "- ".repeat(depth)),
        _ => {
            let mut s = String::new();
            for d in 0..depth.min(400) {
                s.push('\n');
                s.push_str(&" ".repeat(indent + 2 * (d + 1)));
                s.push_str("a:");
            }
            s.push_str(" 1");
            s
        }
    }
}

/// One random mutation of a scenario's text.
#[allow(clippy::too_many_lines)]
fn mutate_text(rng: &mut ChaCha8Rng, text: &str, others: &[(String, Vec<u8>)]) -> String {
    let starts = line_starts(text);
    let line = if starts.is_empty() {
        0
    } else {
        rng.random_range(0..starts.len())
    };
    let vals = values(text);
    let nums = numbers(text);
    let at = boundary(text, rng.random_range(0..=text.len()));
    let insert = |s: &str| format!("{}{s}{}", &text[..at], &text[at..]);
    let replace = |r: &Range<usize>, s: &str| format!("{}{s}{}", &text[..r.start], &text[r.end..]);
    match rng.random_range(0..22) {
        0 => {
            // Delete a line, or several.
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            if !lines.is_empty() {
                let end = (line + rng.random_range(1..4)).min(lines.len());
                lines.drain(line.min(end)..end);
            }
            lines.concat()
        }
        1 => {
            // Duplicate a line (a duplicate key, a second list entry).
            let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
            if let Some(l) = lines.get(line).cloned() {
                let copy = if l.ends_with('\n') {
                    l
                } else {
                    format!("{l}\n")
                };
                lines.insert(line, copy);
            }
            lines.concat()
        }
        2 => {
            // Swap two lines.
            let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
            if lines.len() > 1 {
                let other = rng.random_range(0..lines.len());
                lines.swap(line, other);
                for l in &mut lines {
                    if !l.ends_with('\n') {
                        l.push('\n');
                    }
                }
            }
            lines.concat()
        }
        3 | 4 if vals.len() > 1 => {
            // Swap the values of two keys.
            let a = rng.random_range(0..vals.len());
            let b = rng.random_range(0..vals.len());
            let (a, b) = if vals[a].start <= vals[b].start {
                (&vals[a], &vals[b])
            } else {
                (&vals[b], &vals[a])
            };
            if a.end > b.start {
                return text.to_string();
            }
            format!(
                "{}{}{}{}{}",
                &text[..a.start],
                &text[b.clone()],
                &text[a.end..b.start],
                &text[a.clone()],
                &text[b.end..]
            )
        }
        5 | 6 if !nums.is_empty() => {
            let r = &nums[rng.random_range(0..nums.len())];
            replace(r, pick(rng, EXTREMES))
        }
        7 if !vals.is_empty() => {
            let r = &vals[rng.random_range(0..vals.len())];
            let depth = [2, 20, 64, 65, 128, 129, 500, 5_000, 50_000][rng.random_range(0..9)];
            let indent = text[..r.start]
                .rfind('\n')
                .map_or(r.start, |nl| r.start - nl - 1);
            replace(r, &nesting(rng, depth, indent))
        }
        8 => insert(pick(rng, UNICODE)),
        9 => insert(pick(rng, CONTROLS)),
        10 if !vals.is_empty() => {
            // An anchor on one value and an alias (or an undefined one) on another.
            let a = &vals[rng.random_range(0..vals.len())];
            let b = &vals[rng.random_range(0..vals.len())];
            if a.start < b.start && a.end <= b.start {
                let alias = if rng.random_range(0..4) == 0 {
                    "*nowhere"
                } else {
                    "*a1"
                };
                format!(
                    "{}&a1 {}{}{}",
                    &text[..a.start],
                    &text[a.start..b.start],
                    alias,
                    &text[b.end..]
                )
            } else {
                format!(
                    "{}\nx1: &b [1, 2]\nx2: &c [*b, *b, *b]\nx3: [*c, *c, *c]\n<<: {{k: *c}}\n",
                    text
                )
            }
        }
        11 if !vals.is_empty() => {
            let r = &vals[rng.random_range(0..vals.len())];
            let tag = pick(
                rng,
                &[
                    "!!str ",
                    "!!int ",
                    "!!float ",
                    "!!binary ",
                    "!custom ",
                    "!!map ",
                    "!!seq ",
                    "!!null ",
                    "!!bool ",
                    "!<tag:x,2000:y> ",
                    "!!timestamp ",
                ],
            );
            format!("{}{tag}{}", &text[..r.start], &text[r.start..])
        }
        12 => match rng.random_range(0..5) {
            0 => format!("{text}\n---\n{text}"),
            1 => format!("---\n{text}\n...\n"),
            2 => format!("%YAML 1.2\n---\n{text}"),
            3 => format!("%TAG ! tag:x,2000:\n--- !x\n{text}"),
            _ => format!("{text}\n---\n"),
        },
        13 => {
            // A complex key in the mapping of the chosen line.
            let indent: String = text[starts.get(line).copied().unwrap_or(0)..]
                .chars()
                .take_while(|c| *c == ' ')
                .collect();
            let key = pick(rng, &["[a, b]", "{k: v}", "? x", "name", "|\n  block"]);
            edit_line(text, line, |l| format!("{indent}? {key}\n{indent}: 1\n{l}"))
        }
        14 => {
            // Flow to block: `key: {a: 1, b: 2}` becomes an indented mapping.
            let start = starts.get(line).copied().unwrap_or(0);
            let this = &text[start..text[start..].find('\n').map_or(text.len(), |e| start + e)];
            if let (Some(open), Some(close)) = (this.find(['{', '[']), this.rfind(['}', ']'])) {
                if open < close {
                    let indent = this.chars().take_while(|c| *c == ' ').count() + 2;
                    let block = this[open + 1..close]
                        .split(", ")
                        .map(|item| {
                            let bullet = if this.as_bytes()[open] == b'[' {
                                "- "
                            } else {
                                ""
                            };
                            format!("\n{}{bullet}{}", " ".repeat(indent), item.trim())
                        })
                        .collect::<String>();
                    return format!(
                        "{}{}{}{}",
                        &text[..start],
                        &this[..open],
                        block,
                        &text[start + this.len()..]
                    );
                }
            }
            // Block to flow: a key and its more indented lines become one flow mapping.
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let indent = |l: &str| l.chars().take_while(|c| *c == ' ').count();
            let Some(head) = lines.get(line) else {
                return text.to_string();
            };
            let mut end = line + 1;
            while end < lines.len() && indent(lines[end]) > indent(head) {
                end += 1;
            }
            let items: Vec<&str> = lines[line + 1..end].iter().map(|l| l.trim()).collect();
            let mut out = lines[..line].concat();
            out.push_str(head.trim_end());
            out.push_str(&format!(" {{{}}}\n", items.join(", ")));
            out.push_str(&lines[end..].concat());
            out
        }
        15 if !others.is_empty() => {
            // A line from another scenario.
            let (_, other) = &others[rng.random_range(0..others.len())];
            let other = String::from_utf8_lossy(other);
            let lines: Vec<&str> = other.split_inclusive('\n').collect();
            if lines.is_empty() {
                return text.to_string();
            }
            let piece = lines[rng.random_range(0..lines.len())];
            let start = starts.get(line).copied().unwrap_or(0);
            format!("{}{piece}{}", &text[..start], &text[start..])
        }
        16 => {
            // A typo in a key: a letter dropped, doubled or changed.
            let start = starts.get(line).copied().unwrap_or(0);
            let Some(colon) = text[start..].find(':').map(|c| start + c) else {
                return text.to_string();
            };
            let key_start = text[start..colon]
                .find(|c: char| c.is_alphanumeric())
                .map_or(colon, |k| start + k);
            if key_start >= colon {
                return text.to_string();
            }
            let i = boundary(text, rng.random_range(key_start..colon));
            let c = text[i..].chars().next().unwrap_or('x');
            let end = i + c.len_utf8();
            match rng.random_range(0..3) {
                0 => format!("{}{}", &text[..i], &text[end..]),
                1 => format!("{}{c}{}", &text[..i], &text[i..]),
                _ => format!(
                    "{}{}{}",
                    &text[..i],
                    pick(rng, &["_", "x", "-", "A"]),
                    &text[end..]
                ),
            }
        }
        17 => match rng.random_range(0..4) {
            0 => text.replace('\n', "\r\n"),
            1 => text.replace('\n', "\r"),
            2 => format!("\u{feff}{text}"),
            _ => text.replace("  ", "\t"),
        },
        18 if !vals.is_empty() => {
            let r = &vals[rng.random_range(0..vals.len())];
            let long = match rng.random_range(0..3) {
                0 => "x".repeat(20_000),
                1 => format!("\"{}\"", "\\u202e\\e[1m".repeat(200)),
                _ => format!("'{}'", "é".repeat(5_000)),
            };
            replace(r, &long)
        }
        19 if !vals.is_empty() => {
            let r = &vals[rng.random_range(0..vals.len())];
            replace(
                r,
                pick(
                    rng,
                    &[
                        "~", "", "null", "[]", "{}", "''", "\"\"", "-", "?", "&x", "*x",
                    ],
                ),
            )
        }
        20 => {
            // A key at the top level or in a mapping that has none of it.
            let start = starts.get(line).copied().unwrap_or(0);
            let indent: String = text[start..].chars().take_while(|c| *c == ' ').collect();
            let key = pick(
                rng,
                &[
                    "seed: 1",
                    "engine: forward",
                    "view: {plane: decision}",
                    "view: {levels: 4294967296, trail: 1, log_scale: true}",
                    "view: {levels: 100, x_range: [-1e308, 1e308], y_range: [-1e-300, 1e-300]}",
                    "view: {plane: [0, 0], x_range: [5, -5]}",
                    "view: {plane: {params: [0, 99]}, show: [nobody]}",
                    "view: {plane: pca, trail: 18446744073709551615}",
                    "stop: {max_steps: 2}",
                    "expect: {}",
                    "optimizers: []",
                    "objective: null",
                    "clip: {norm: 1, value: 1}",
                    "schedule: {kind: step, step_size: 0}",
                    "test_fraction: 1",
                    "batch_size: 1",
                    "init: {file: /dev/zero}",
                ],
            );
            format!("{}{indent}{key}\n{}", &text[..start], &text[start..])
        }
        _ => text.to_string(),
    }
}

/// One random mutation of a scenario's bytes: a flip, a random byte, or a cut.
fn mutate_bytes(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        bytes.push(rng.random());
        return;
    }
    let at = rng.random_range(0..bytes.len());
    match rng.random_range(0..3) {
        0 => bytes[at] ^= 1 << rng.random_range(0..8),
        1 => bytes[at] = rng.random(),
        _ => bytes.truncate(at),
    }
}

/// A mutated scenario: 1 to 3 mutations of a random source.
fn generate(rng: &mut ChaCha8Rng, sources: &[(String, Vec<u8>)]) -> (String, Vec<u8>) {
    // Three in four start from a valid scenario, so that enough mutants still load and run.
    let invalid = rng.random_range(0..4) == 0;
    let pool: Vec<&(String, Vec<u8>)> = sources
        .iter()
        .filter(|(name, _)| name.contains("/invalid/") == invalid)
        .collect();
    let (name, original) = pool[rng.random_range(0..pool.len())];
    let mut bytes = original.clone();
    let mutations = [1, 1, 1, 1, 1, 1, 2, 2, 2, 3][rng.random_range(0..10)];
    for _ in 0..mutations {
        if rng.random_range(0..5) == 0 {
            mutate_bytes(rng, &mut bytes);
        } else {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            bytes = mutate_text(rng, &text, sources).into_bytes();
        }

        // Past the suite's file limit (1 MiB) a file is refused unread; more is only slower.
        bytes.truncate(MAX_LEN);
    }
    (name.clone(), bytes)
}

/// The folder fuzzed scenario files are written to: `<dir>/s/t/case.yaml`, with the test data
/// copied to `<dir>/data` so the fixtures' `../../data/` paths resolve.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    std::fs::create_dir_all(dir.path().join("data")).expect("data folder");
    std::fs::create_dir_all(dir.path().join("s/t")).expect("scenario folder");
    for entry in std::fs::read_dir(data).expect("tests/data") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let name = path.file_name().expect("a file name");
            std::fs::copy(&path, dir.path().join("data").join(name)).expect("data copied");
        }
    }
    dir
}

fn overrides() -> Overrides {
    Overrides {
        max_steps: Some(STEPS),
        limits: Some(limits()),
        ..Overrides::default()
    }
}

/// Loads, builds and (if accepted) runs one scenario; checks what the module doc promises.
fn check(
    bytes: &[u8],
    entry: Entry,
    dir: &Path,
    rng: &mut ChaCha8Rng,
    tally: &mut Tally,
) -> Result<(), String> {
    let (file, text, result) = match entry {
        Entry::File => {
            let path = dir.join("s/t/case.yaml");
            std::fs::write(&path, bytes).map_err(|e| format!("cannot write the case: {e}"))?;
            let text = String::from_utf8_lossy(bytes).into_owned();
            let result = scenario::load_and_build(&path, &overrides());
            (path.display().to_string(), text, result)
        }
        Entry::Text => {
            let text = String::from_utf8_lossy(bytes).replace("../../data/", "tests/data/");
            let result = scenario::load_str_and_build(&text, "fuzz.yaml", &overrides());
            ("fuzz.yaml".to_string(), text, result)
        }
    };
    match result {
        Err(errors) => {
            tally.rejected += 1;
            located(&errors, &file, &text)
        }
        Ok(built) => {
            tally.accepted += 1;
            run(built, dir, rng, tally)
        }
    }
}

/// Every error names `file` and a position inside `text`.
fn located(errors: &ScenarioErrors, file: &str, text: &str) -> Result<(), String> {
    if errors.is_empty() {
        return Err("rejected without an error".into());
    }
    // The loader drops a leading BOM; positions count from after it. Lines end as YAML ends
    // them: at a line feed, a CR LF pair, or a lone CR.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let unified: String = {
        let mut chars = text.chars().peekable();
        let mut out = String::with_capacity(text.len());
        while let Some(c) = chars.next() {
            out.push(if c == '\r' && chars.peek() != Some(&'\n') {
                '\n'
            } else {
                c
            });
        }
        out
    };
    let lines: Vec<&str> = unified.split('\n').collect();
    for e in errors.errors() {
        let shown = format!("{}:{}:{}", e.file, e.line, e.column);
        let rendered = e.to_string();
        let fail = |why: String| Err(format!("{why}\n{}", preview(&rendered, 600)));
        if e.file != file {
            return fail(format!("the error names '{}', not '{file}'", e.file));
        }
        let Some(line) = lines.get(e.line.wrapping_sub(1)) else {
            return fail(format!("{shown}: line {} of {}", e.line, lines.len()));
        };
        let width = line.chars().count();
        if e.column == 0 || e.column > width + 1 {
            return fail(format!("{shown}: column {} of a line of {width}", e.column));
        }
        if e.message.trim().is_empty() {
            return fail(format!("{shown}: no message"));
        }
        if !rendered.contains(&shown) {
            return fail(format!("{shown} is not in the message"));
        }
    }
    Ok(())
}

/// A few steps of an accepted scenario, its report and exports.
fn run(built: Built, dir: &Path, rng: &mut ChaCha8Rng, tally: &mut Tally) -> Result<(), String> {
    let Built {
        scenario,
        mut session,
        view,
    } = built;
    for _ in 0..STEPS {
        session.step_all();
    }
    if !session.is_finished() {
        return Err(format!(
            "runs still going after {STEPS} steps with max_steps {STEPS}"
        ));
    }
    for run in session.runs() {
        let last = run.history().last().map(|p| p.step);
        if run.steps() > STEPS || last != Some(run.steps()) {
            return Err(format!(
                "run '{}': {} steps, history ends at {last:?}",
                run.label(),
                run.steps()
            ));
        }
    }
    let report = ScenarioReport::new(&session, &scenario.expect, false);
    let table = report.render_table();
    if let Some(c) = table.chars().find(|&c| c != '\n' && acts_on_terminal(c)) {
        return Err(format!("the report table holds {c:?}:\n{table}"));
    }
    let _ = report.render_csv_rows();
    serde_json::to_string(&report).map_err(|e| format!("the JSON report: {e}"))?;
    headless::write_trajectory(&dir.join("out.csv"), &[&session])
        .map_err(|e| format!("the trajectory: {e}"))?;
    // The explorer and the plot evaluate the loss on a whole grid: kept to small objectives,
    // whose labels, names and views are what is fuzzed here (the explorer has its own suite).
    if session.objective().dim() > 64 {
        return Ok(());
    }
    match rng.random_range(0..24) {
        0 | 1 => {
            tally.explored += 1;
            super::tui::explore(session, view, rng)
        }
        2 => {
            tally.plotted += 1;
            let out = dir.join("out.svg");
            headless::plot::write_plot(&out, &[(&session, &view)])
                .map_err(|e| format!("the plot: {e}"))?;
            let svg = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
            roxmltree::Document::parse(&svg).map_err(|e| format!("the plot's SVG: {e}"))?;
            Ok(())
        }
        _ => Ok(()),
    }
}

#[test]
fn mutated_scenarios_load_and_run_or_are_refused_at_a_place_in_the_file() {
    let sources = sources();
    let dir = workspace();
    let mut fuzz = Fuzz::new("scenario", CASES);
    let mut tally = Tally::default();
    for (name, bytes) in corpus("scenario") {
        let mut rng = fuzz.rng(u64::MAX);
        for entry in [Entry::File, Entry::Text] {
            fuzz.case(&format!("corpus {name} {entry:?}"), &bytes, || {
                check(&bytes, entry, dir.path(), &mut rng, &mut tally)
            });
        }
    }
    for i in fuzz.cases() {
        let mut rng = fuzz.rng(i);
        let (source, bytes) = generate(&mut rng, &sources);
        let entry = if rng.random_range(0..4) == 0 {
            Entry::Text
        } else {
            Entry::File
        };
        fuzz.case(
            &format!("case {i} (from {source}, {entry:?})"),
            &bytes,
            || check(&bytes, entry, dir.path(), &mut rng, &mut tally),
        );
    }
    eprintln!("fuzz scenario: {tally:?}");
    let total = tally.accepted + tally.rejected;
    let alone = fuzz.only.is_some();
    fuzz.finish();
    // Both outcomes must be common, or the suite tests one path only.
    assert!(
        alone || (tally.accepted * 10 >= total && tally.rejected * 10 >= total),
        "{tally:?}"
    );
}
