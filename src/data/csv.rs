//! Loading a [`Dataset`] from a CSV file: a header row of column names, then one sample a line.
//!
//! The syntax is the `csv` crate's ([`records`] is the one place that calls it): fields are
//! separated by one byte (a comma unless the scenario's `delimiter` says otherwise), a field may
//! be wrapped in double quotes (a doubled `""` inside is a literal quote), whitespace around
//! fields is ignored, blank lines are skipped, `\r\n` line ends and a UTF-8 byte-order mark
//! are accepted. A quoted field may not run over a line break: a dataset's values never hold
//! one, so that is an unclosed quote. Every error names the file, the 1-based line and, where
//! there is one, the 1-based column (the field's number).
//!
//! A class-label column holds class indices (`0, 1, 2, ...`) or class names (`setosa`,
//! `versicolor`, ...: the first data row decides which), and the number of classes is either
//! fixed by the caller (the model's outputs) or taken from the data ([`Labels`]). Names are
//! numbered in sorted order, so the numbering does not depend on the order of the rows.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use thiserror::Error;

use super::read::{DATA_FILE_LIMIT, ReadError, read_text_limited};
use super::{Dataset, Task, class_labels};
use crate::valid::{Problems, Validate};

/// A CSV dataset as a scenario's `data` names it: `{kind: csv, path: iris.csv, features:
/// [sepal_length, ...], target: species, delimiter: ";"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSpec {
    /// The file; a scenario's relative path is relative to the scenario file.
    pub path: PathBuf,
    /// Feature column names, in order.
    pub features: Vec<String>,
    /// Target column name.
    pub target: String,
    /// Field separator, one byte (default `,`).
    #[serde(default = "comma", deserialize_with = "one_byte")]
    pub delimiter: u8,
}

fn comma() -> u8 {
    b','
}

/// A delimiter: one character that is one byte (ASCII), as the `csv` crate takes it.
fn one_byte<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let text = String::deserialize(d)?;
    match text.as_bytes() {
        [b] => Ok(*b),
        _ => Err(serde::de::Error::custom(format!(
            "a delimiter is one byte (an ASCII character such as ',', ';' or a tab), found \
             '{}' ({} bytes)",
            text.escape_debug(),
            text.len()
        ))),
    }
}

impl Validate for CsvSpec {
    fn validate(&self, p: &mut Problems) {
        if self.features.is_empty() {
            p.push(
                "features",
                "'features' is empty",
                Some("at least one column name".into()),
            );
        }
        if matches!(self.delimiter, b'"' | b'\n' | b'\r') {
            p.push(
                "delimiter",
                format!(
                    "'{}' cannot separate fields: it quotes fields or ends lines",
                    char::from(self.delimiter).escape_debug()
                ),
                Some("a byte such as ',', ';' or a tab".into()),
            );
        }
    }
}

/// What the target columns hold, and so how they are read and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// Real values, in one or more columns.
    Values,
    /// Class labels in one column: `Some(k)` when the model fixes the number of classes,
    /// `None` to take it from the data (the largest index plus one, or the number of names).
    Classes(Option<usize>),
}

/// Most classes a file may imply when the model does not fix the count.
pub const MAX_DERIVED_CLASSES: usize = 1 << 16;

impl From<Task> for Labels {
    fn from(task: Task) -> Labels {
        match task {
            Task::Regression => Labels::Values,
            Task::Binary => Labels::Classes(Some(2)),
            Task::Multiclass(k) => Labels::Classes(Some(k)),
        }
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Labels::Values => write!(f, "regression"),
            Labels::Classes(Some(k)) => write!(f, "{}", Task::classes(*k)),
            Labels::Classes(None) => write!(f, "classification"),
        }
    }
}

/// What went wrong reading a CSV file; every message starts with `file:line[:column]`.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CsvError {
    #[error("{file}: file not found")]
    NotFound { file: String },
    #[error("{file}: cannot read the file: {reason}")]
    Unreadable { file: String, reason: String },
    /// Not a regular file, or too large: see [`ReadError`].
    #[error("{0}")]
    Refused(ReadError),
    #[error("{file}: the file is empty (expected a header row of column names)")]
    Empty { file: String },
    #[error("{file}:{line}: no data rows after the header")]
    NoRows { file: String, line: usize },
    #[error("{file}:{line}: unknown column '{name}'{}; the columns are: {}",
        suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default(),
        some_columns(columns))]
    UnknownColumn {
        file: String,
        line: usize,
        name: String,
        suggestion: Option<String>,
        columns: Vec<String>,
    },
    #[error("{file}:{line}: column '{name}' is chosen twice")]
    DuplicateColumn {
        file: String,
        line: usize,
        name: String,
    },
    #[error("{file}:{line}: no feature columns (every column is a target)")]
    NoFeatures { file: String, line: usize },
    #[error("{file}:{line}: expected {labels} to have one target column, got {got}")]
    TargetCount {
        file: String,
        line: usize,
        labels: Labels,
        got: usize,
    },
    #[error("{file}:{line}: expected {expected} fields (as in the header), got {got}")]
    FieldCount {
        file: String,
        line: usize,
        expected: usize,
        got: usize,
    },
    #[error("{file}:{line}:{column}: unclosed quote")]
    UnclosedQuote {
        file: String,
        line: usize,
        column: usize,
    },
    #[error("{file}:{line}:{column}: value '{value}' in column '{name}' is not a finite number")]
    NotNumeric {
        file: String,
        line: usize,
        column: usize,
        name: String,
        value: String,
    },
    #[error("{file}:{line}:{column}: missing value in column '{name}'")]
    Missing {
        file: String,
        line: usize,
        column: usize,
        name: String,
    },
    #[error("{file}:{line}:{column}: target '{value}' in column '{name}' is not valid for {task}")]
    BadLabel {
        file: String,
        line: usize,
        column: usize,
        name: String,
        value: String,
        task: Task,
    },
    #[error("{file}:{line}:{column}: target '{value}' in column '{name}' is not a class label \
             (the first row's label is a number, so every label is a class index: a whole \
             number from 0 to {})", MAX_DERIVED_CLASSES - 1)]
    NotALabel {
        file: String,
        line: usize,
        column: usize,
        name: String,
        value: String,
    },
    #[error("{file}:{line}:{column}: target '{value}' in column '{name}' is class name number \
             {}, but there are {k} classes ({}); the names so far: {}", k + 1, class_labels(*k),
             seen.join(", "))]
    TooManyNames {
        file: String,
        line: usize,
        column: usize,
        name: String,
        value: String,
        k: usize,
        seen: Vec<String>,
    },
}

/// The columns for a message: all of them, or the first 24 and how many more.
fn some_columns(columns: &[String]) -> String {
    let shown: Vec<&str> = columns.iter().take(24).map(String::as_str).collect();
    match columns.len().saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{}, ... ({more} more)", shown.join(", ")),
    }
}

impl From<ReadError> for CsvError {
    fn from(e: ReadError) -> CsvError {
        match e {
            ReadError::NotFound { file } => CsvError::NotFound { file },
            ReadError::Unreadable { file, reason } => CsvError::Unreadable { file, reason },
            other => CsvError::Refused(other),
        }
    }
}

/// Reads `path` into a dataset. `features` names the feature columns in the order wanted
/// (empty: every column that is not a target, in file order); `targets` names the target
/// columns (exactly one for classification). Files larger than [`DATA_FILE_LIMIT`] and
/// anything but a regular file are refused (see [`load_csv_limited`]).
pub fn load_csv(
    path: &Path,
    features: &[&str],
    targets: &[&str],
    labels: impl Into<Labels>,
) -> Result<Dataset, CsvError> {
    load_csv_limited(path, features, targets, labels, b',', DATA_FILE_LIMIT, "")
}

/// [`load_csv`] with fields separated by `delimiter`, reading at most `limit` bytes; `hint`
/// ends the too-large message.
pub fn load_csv_limited(
    path: &Path,
    features: &[&str],
    targets: &[&str],
    labels: impl Into<Labels>,
    delimiter: u8,
    limit: u64,
    hint: &str,
) -> Result<Dataset, CsvError> {
    let file = path.display().to_string();
    let text = read_text_limited(path, limit, hint)?;
    parse_delimited(&text, &file, features, targets, labels, delimiter)
}

/// Class labels as they are read: indices checked as they come, or names numbered in order of
/// appearance and renumbered in sorted order at the end.
enum LabelReader {
    /// Not decided: no row read yet.
    Start,
    /// Class indices; the largest so far.
    Indices(usize),
    /// Class names, with their number in order of appearance.
    Names(BTreeMap<String, usize>),
}

impl LabelReader {
    /// Reads one label. `fixed` is the class count the caller requires, if any.
    fn read(
        &mut self,
        text: &str,
        fixed: Option<usize>,
        at: impl Fn() -> (String, usize, usize, String),
    ) -> Result<f64, CsvError> {
        if matches!(self, LabelReader::Start) {
            *self = if text.parse::<f64>().is_ok() {
                LabelReader::Indices(0)
            } else {
                LabelReader::Names(BTreeMap::new())
            };
        }
        match self {
            LabelReader::Indices(max) => {
                let y = text.parse::<f64>().ok().filter(|y| y.is_finite());
                let (file, line, column, name) = at();
                if let Some(k) = fixed {
                    let task = Task::classes(k);
                    return match y {
                        Some(y) if task.accepts(y) => {
                            *max = (*max).max(y as usize);
                            Ok(y)
                        }
                        _ => Err(CsvError::BadLabel {
                            file,
                            line,
                            column,
                            name,
                            value: text.to_owned(),
                            task,
                        }),
                    };
                }
                match y {
                    Some(y) if Task::Multiclass(MAX_DERIVED_CLASSES).accepts(y) => {
                        *max = (*max).max(y as usize);
                        Ok(y)
                    }
                    _ => Err(CsvError::NotALabel {
                        file,
                        line,
                        column,
                        name,
                        value: text.to_owned(),
                    }),
                }
            }
            LabelReader::Names(names) => {
                let next = names.len();
                let index = *names.entry(text.to_owned()).or_insert(next);
                let limit = fixed.unwrap_or(MAX_DERIVED_CLASSES);
                if index >= limit {
                    let (file, line, column, name) = at();
                    names.remove(text);
                    let mut seen: Vec<String> = names.keys().cloned().collect();
                    seen.truncate(12);
                    return Err(CsvError::TooManyNames {
                        file,
                        line,
                        column,
                        name,
                        value: text.to_owned(),
                        k: limit,
                        seen,
                    });
                }
                Ok(index as f64)
            }
            LabelReader::Start => Ok(0.0),
        }
    }

    /// The class count, and for names the renumbering from appearance order to sorted order.
    fn finish(self, fixed: Option<usize>) -> (usize, Option<Vec<f64>>) {
        match self {
            LabelReader::Start => (fixed.unwrap_or(2), None),
            LabelReader::Indices(max) => (fixed.unwrap_or(max + 1), None),
            LabelReader::Names(names) => {
                let mut rank = vec![0.0; names.len()];
                // BTreeMap iterates in sorted order: the i-th name gets class i.
                for (sorted, (_, &appeared)) in names.iter().enumerate() {
                    rank[appeared] = sorted as f64;
                }
                (fixed.unwrap_or(names.len()), Some(rank))
            }
        }
    }
}

/// [`load_csv`] on text already in memory; `file` is the name used in error messages.
pub fn parse_csv(
    text: &str,
    file: &str,
    features: &[&str],
    targets: &[&str],
    labels: impl Into<Labels>,
) -> Result<Dataset, CsvError> {
    parse_delimited(text, file, features, targets, labels, b',')
}

/// [`parse_csv`] with fields separated by `delimiter`.
pub fn parse_delimited(
    text: &str,
    file: &str,
    features: &[&str],
    targets: &[&str],
    labels: impl Into<Labels>,
    delimiter: u8,
) -> Result<Dataset, CsvError> {
    let labels = labels.into();
    let mut lines = records(text, file, delimiter);
    let (header_line, header) = lines.next().ok_or_else(|| CsvError::Empty {
        file: file.to_owned(),
    })??;

    // The first column of each name, found through a map: files can have many columns.
    let mut by_name: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(header.len());
    for (i, h) in header.iter().enumerate() {
        by_name.entry(h.as_str()).or_insert(i);
    }
    let lookup = |name: &str| -> Result<usize, CsvError> {
        by_name
            .get(name)
            .copied()
            .ok_or_else(|| CsvError::UnknownColumn {
                file: file.to_owned(),
                line: header_line,
                name: name.to_owned(),
                suggestion: crate::suggest::nearest(name, &header),
                columns: header.clone(),
            })
    };
    let target_cols = targets
        .iter()
        .map(|t| lookup(t))
        .collect::<Result<Vec<_>, _>>()?;
    let fixed = match labels {
        Labels::Values => None,
        Labels::Classes(k) => k,
    };
    let classes = labels != Labels::Values;
    if classes && target_cols.len() != 1 || target_cols.is_empty() {
        return Err(CsvError::TargetCount {
            file: file.to_owned(),
            line: header_line,
            labels,
            got: target_cols.len(),
        });
    }
    let feature_cols: Vec<usize> = if features.is_empty() {
        (0..header.len())
            .filter(|c| !target_cols.contains(c))
            .collect()
    } else {
        features
            .iter()
            .map(|f| lookup(f))
            .collect::<Result<_, _>>()?
    };
    if feature_cols.is_empty() {
        return Err(CsvError::NoFeatures {
            file: file.to_owned(),
            line: header_line,
        });
    }
    let mut chosen: Vec<usize> = feature_cols.iter().chain(&target_cols).copied().collect();
    chosen.sort_unstable();
    if let Some(w) = chosen.windows(2).find(|w| w[0] == w[1]) {
        return Err(CsvError::DuplicateColumn {
            file: file.to_owned(),
            line: header_line,
            name: header[w[0]].clone(),
        });
    }

    let mut data = Dataset {
        features: Vec::new(),
        n_features: feature_cols.len(),
        targets: Vec::new(),
        n_targets: target_cols.len(),
        task: Task::Regression,
        feature_names: feature_cols.iter().map(|&c| header[c].clone()).collect(),
        target_names: target_cols.iter().map(|&c| header[c].clone()).collect(),
    };
    let mut reader = LabelReader::Start;
    for record in lines {
        let (line, fields) = record?;
        if fields.len() != header.len() {
            return Err(CsvError::FieldCount {
                file: file.to_owned(),
                line,
                expected: header.len(),
                got: fields.len(),
            });
        }
        let value = |c: usize| -> Result<f64, CsvError> {
            let text = &fields[c];
            let (column, name) = (c + 1, header[c].clone());
            if text.is_empty() {
                return Err(CsvError::Missing {
                    file: file.to_owned(),
                    line,
                    column,
                    name,
                });
            }
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(CsvError::NotNumeric {
                    file: file.to_owned(),
                    line,
                    column,
                    name,
                    value: text.clone(),
                }),
            }
        };
        for &c in &feature_cols {
            data.features.push(value(c)?);
        }
        for &c in &target_cols {
            let y = if classes {
                let text = &fields[c];
                if text.is_empty() {
                    return Err(CsvError::Missing {
                        file: file.to_owned(),
                        line,
                        column: c + 1,
                        name: header[c].clone(),
                    });
                }
                reader.read(text, fixed, || {
                    (file.to_owned(), line, c + 1, header[c].clone())
                })?
            } else {
                value(c)?
            };
            data.targets.push(y);
        }
    }
    if data.is_empty() {
        return Err(CsvError::NoRows {
            file: file.to_owned(),
            line: header_line,
        });
    }
    if classes {
        let (k, renumber) = reader.finish(fixed);
        if let Some(rank) = renumber {
            for y in &mut data.targets {
                *y = rank[*y as usize];
            }
        }
        data.task = Task::classes(k.max(2));
    }
    Ok(data)
}

/// The records of `text`, each with the line it starts on and its fields (unquoted and
/// trimmed); blank lines are skipped. A field holding a line break, or a last record whose
/// quotes do not pair, is an unclosed quote.
pub fn records<'a>(
    text: &'a str,
    file: &'a str,
    delimiter: u8,
) -> impl Iterator<Item = Result<(usize, Vec<String>), CsvError>> + 'a {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut done = false;
    std::iter::from_fn(move || {
        while !done {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => {
                    done = true;
                    return None;
                }
                Err(e) => {
                    done = true;
                    return Some(Err(CsvError::Unreadable {
                        file: file.to_owned(),
                        reason: e.to_string(),
                    }));
                }
            }
            let line = record.position().map_or(1, |p| p.line() as usize);
            let start = record.position().map_or(0, |p| p.byte() as usize);
            let end = reader.position().byte() as usize;
            let raw = text.get(start..end.min(text.len())).unwrap_or("");
            // An odd number of quotes in a record is one left open; so is a line break inside
            // a field (the quote swallowed the lines after it).
            let open = raw.bytes().filter(|&b| b == b'"').count() % 2 == 1;
            if let Some(c) = record
                .iter()
                .position(|f| f.contains(['\n', '\r']))
                .or_else(|| open.then(|| record.len().saturating_sub(1)))
            {
                done = true;
                return Some(Err(CsvError::UnclosedQuote {
                    file: file.to_owned(),
                    line,
                    column: c + 1,
                }));
            }
            if record.len() == 1 && record[0].is_empty() {
                continue;
            }
            return Some(Ok((line, record.iter().map(str::to_owned).collect())));
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    fn load_err(name: &str, features: &[&str], targets: &[&str], task: Task) -> String {
        let path = fixture(name);
        let err = load_csv(&path, features, targets, task).unwrap_err();
        let msg = err.to_string();
        let file = path.display().to_string();
        assert!(msg.starts_with(&file), "{msg}");
        msg[file.len()..].to_owned()
    }

    #[test]
    fn good_file_loads() {
        let d = load_csv(
            &fixture("good.csv"),
            &["x2", "x1"],
            &["label"],
            Task::Binary,
        )
        .unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(d.n_features, 2);
        assert_eq!(d.feature_names, vec!["x2", "x1"]);
        assert_eq!(d.target_names, vec!["label"]);
        assert_eq!(d.row(0), &[2.5, 1.0]);
        assert_eq!(d.row(2), &[-3.0, 1e-3]);
        assert_eq!(d.targets, vec![0.0, 1.0, 1.0, 0.0]);
        // Empty feature list: every non-target column, in file order.
        let all = load_csv(&fixture("good.csv"), &[], &["label"], Task::Binary).unwrap();
        assert_eq!(all.feature_names, vec!["x1", "x2", "note value"]);
        assert_eq!(all.row(1), &[2.0, 0.5, 7.0]);
        let reg = load_csv(
            &fixture("good.csv"),
            &["x1"],
            &["x2", "label"],
            Task::Regression,
        );
        assert_eq!(reg.unwrap().target(0), &[2.5, 0.0]);
    }

    #[test]
    fn error_cases_name_file_line_and_column() {
        let t = Task::Binary;
        let missing = load_err("no_such_file.csv", &[], &["y"], t);
        assert_eq!(missing, ": file not found");
        assert_eq!(
            load_err("empty.csv", &[], &["y"], t),
            ": the file is empty (expected a header row of column names)"
        );
        assert_eq!(
            load_err("good.csv", &["x1", "x3"], &["label"], t),
            ":1: unknown column 'x3' (did you mean 'x1'?); the columns are: x1, x2, note value, label"
        );
        assert_eq!(
            load_err("good.csv", &["x1"], &["lable"], t),
            ":1: unknown column 'lable' (did you mean 'label'?); the columns are: x1, x2, note value, label"
        );
        assert_eq!(
            load_err("good.csv", &["x1"], &["zzzzzz"], t),
            ":1: unknown column 'zzzzzz'; the columns are: x1, x2, note value, label"
        );
        assert_eq!(
            load_err("wrong_fields.csv", &[], &["y"], t),
            ":4: expected 3 fields (as in the header), got 2"
        );
        assert_eq!(
            load_err("not_numeric.csv", &[], &["y"], t),
            ":3:2: value 'abc' in column 'b' is not a finite number"
        );
        assert_eq!(
            load_err("missing_value.csv", &[], &["y"], t),
            ":3:1: missing value in column 'a'"
        );
        assert_eq!(
            load_err("bad_label.csv", &[], &["y"], t),
            ":2:3: target '2' in column 'y' is not valid for binary classification (labels 0 or 1)"
        );
        assert_eq!(
            load_err("header_only.csv", &[], &["y"], t),
            ":1: no data rows after the header"
        );
    }

    #[test]
    fn class_names_are_numbered_in_sorted_order() {
        let text = "a,species\n1,setosa\n2,virginica\n3,versicolor\n4,setosa\n";
        let d = parse_csv(text, "mem", &[], &["species"], Labels::Classes(None)).unwrap();
        assert_eq!(d.targets, vec![0.0, 2.0, 1.0, 0.0]);
        assert_eq!(d.task, Task::Multiclass(3));
        let yes_no = parse_csv("a,y\n1,yes\n2,no\n", "mem", &[], &["y"], Task::Binary).unwrap();
        assert_eq!(
            (yes_no.targets, yes_no.task),
            (vec![1.0, 0.0], Task::Binary)
        );
        // The model fixes 2 classes: a third name is refused where it first appears.
        let err = parse_csv(
            "a,y\n1,cat\n2,dog\n3,cat\n4,eel\n",
            "mem",
            &[],
            &["y"],
            Labels::Classes(Some(2)),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "mem:5:2: target 'eel' in column 'y' is class name number 3, but there are 2 \
             classes (labels 0 or 1); the names so far: cat, dog"
        );
    }

    #[test]
    fn class_indices_give_the_count_unless_the_model_does() {
        let text = "a,y\n1,0\n2,4\n3,2\n";
        let d = parse_csv(text, "mem", &[], &["y"], Labels::Classes(None)).unwrap();
        assert_eq!(d.task, Task::Multiclass(5));
        assert_eq!(d.targets, vec![0.0, 4.0, 2.0]);
        let err = parse_csv(text, "mem", &[], &["y"], Labels::Classes(Some(3))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mem:3:2: target '4' in column 'y' is not valid for 3-class classification \
             (labels 0, 1 or 2)"
        );
        let err = parse_csv(
            "a,y\n1,0\n2,1.5\n",
            "mem",
            &[],
            &["y"],
            Labels::Classes(None),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mem:3:2: target '1.5' in column 'y' is not a class label"),
            "{err}"
        );
        let err =
            parse_csv("a,y\n1,0\n2,\n", "mem", &[], &["y"], Labels::Classes(None)).unwrap_err();
        assert_eq!(err.to_string(), "mem:3:2: missing value in column 'y'");
        // Only one class present: still at least two.
        let one = parse_csv("a,y\n1,0\n", "mem", &[], &["y"], Labels::Classes(None)).unwrap();
        assert_eq!(one.task, Task::Binary);
    }

    #[test]
    fn the_iris_table_loads_with_its_species_names() {
        let d = load_csv(
            &fixture("iris.csv"),
            &[],
            &["species"],
            Labels::Classes(Some(3)),
        )
        .unwrap();
        assert_eq!((d.len(), d.n_features), (150, 4));
        assert_eq!(d.class_counts(), Some(vec![50, 50, 50]));
        assert_eq!(d.targets[0], 0.0, "Iris-setosa sorts first");
        assert_eq!(d.targets[149], 2.0, "Iris-virginica sorts last");
    }

    #[test]
    fn a_wide_file_lists_some_of_its_columns() {
        let header: Vec<String> = (0..1000).map(|i| format!("c{i}")).collect();
        let text = format!("{}\n{}\n", header.join(","), vec!["1"; 1000].join(","));
        let err = parse_csv(&text, "wide", &["c1", "cc"], &["c0"], Task::Regression).unwrap_err();
        let msg = err.to_string();
        assert!(msg.ends_with("c22, c23, ... (976 more)"), "{msg}");
        let d = parse_csv(&text, "wide", &["c999", "c1"], &["c0"], Task::Regression).unwrap();
        assert_eq!(d.feature_names, ["c999", "c1"]);
    }

    #[test]
    fn special_and_oversized_files_are_refused() {
        if cfg!(unix) {
            let err = load_csv(Path::new("/dev/zero"), &[], &["y"], Task::Binary).unwrap_err();
            assert!(
                matches!(err, CsvError::Refused(ReadError::NotRegular { .. })),
                "{err}"
            );
        }
        let err = load_csv_limited(
            &fixture("good.csv"),
            &[],
            &["label"],
            Task::Binary,
            b',',
            8,
            "!",
        )
        .unwrap_err();
        assert!(err.to_string().ends_with("at most 8 B is read!"), "{err}");
    }

    #[test]
    fn field_splitting() {
        let all = |text: &str, delimiter: u8| -> Result<Vec<(usize, Vec<String>)>, CsvError> {
            records(text, "f.csv", delimiter).collect()
        };
        // A quote opens a quoted field as its first character; spaces around fields go.
        let r = all("a,b,c,d\n 1 ,\"a,b\",\"say \"\"hi\"\"\" ,\n", b',').unwrap();
        assert_eq!(
            r[1],
            (
                2,
                vec!["1".into(), "a,b".into(), "say \"hi\"".into(), String::new()]
            )
        );
        // blank and whitespace-only lines are skipped; lines are the file's
        let r = all("x;y\r\n\r\n   \n1;\"2;3\"\n", b';').unwrap();
        assert_eq!(
            r,
            [
                (1, vec!["x".into(), "y".into()]),
                (4, vec!["1".into(), "2;3".into()])
            ]
        );
        let err = all("a,b\n1,\"abc", b',').unwrap_err();
        assert_eq!(err.to_string(), "f.csv:2:2: unclosed quote");
        let err = all("a,b\n1,\"abc\n3,4\n5,6\n", b',').unwrap_err();
        assert_eq!(err.to_string(), "f.csv:2:2: unclosed quote");
    }

    #[test]
    fn any_one_byte_delimiter_reads_the_same_data() {
        let comma = parse_csv("a,b,y\n1,2.5,0\n3,4,1\n", "c", &[], &["y"], Task::Binary).unwrap();
        for d in [b';', b'\t', b'|', b' '] {
            let text = "a,b,y\n1,2.5,0\n3,4,1\n".replace(',', &char::from(d).to_string());
            let other = parse_delimited(&text, "d", &[], &["y"], Task::Binary, d).unwrap();
            assert_eq!(other.features, comma.features, "{}", char::from(d));
            assert_eq!(other.targets, comma.targets);
        }
        // The wrong delimiter reads one column per line: the column names say so.
        let err = parse_delimited("a;y\n1;0\n", "d", &[], &["y"], Task::Binary, b',').unwrap_err();
        assert!(matches!(err, CsvError::UnknownColumn { .. }), "{err}");
    }

    #[test]
    fn in_memory_and_selection_errors() {
        let text = "\u{feff}a,b,y\r\n\r\n1,2,0\r\n";
        let d = parse_csv(text, "mem", &[], &["y"], Task::Binary).unwrap();
        assert_eq!(d.features, vec![1.0, 2.0]);
        let err = parse_csv(text, "mem", &["a", "a"], &["y"], Task::Binary).unwrap_err();
        assert_eq!(err.to_string(), "mem:1: column 'a' is chosen twice");
        let err = parse_csv(text, "mem", &[], &["a", "y"], Task::Binary).unwrap_err();
        assert!(matches!(err, CsvError::TargetCount { got: 2, .. }));
        let err = parse_csv("a\n1\n", "mem", &[], &["a"], Task::Regression).unwrap_err();
        assert!(matches!(err, CsvError::NoFeatures { .. }));
        let err = parse_csv("a,y\ninf,1\n", "mem", &[], &["y"], Task::Regression).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mem:2:1: value 'inf' in column 'a' is not a finite number"
        );
    }
}
