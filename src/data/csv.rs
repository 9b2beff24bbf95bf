//! Loading a [`Dataset`] from a CSV file: a header row of column names, then one sample a line.
//!
//! Hand-rolled for the simple files this tool reads (the `csv` crate would add a dependency for
//! features we do not need): fields are separated by commas, a field may be wrapped in double
//! quotes (a doubled `""` inside is a literal quote; quoted fields may hold commas but not line
//! breaks), whitespace around unquoted fields is ignored, blank lines are skipped, `\r\n` line
//! ends and a UTF-8 byte-order mark are accepted. Every error names the file, the 1-based line
//! and, where there is one, the 1-based column. Only [`split_fields`] knows the syntax, so
//! swapping in the `csv` crate would replace that one function.
//!
//! A class-label column holds class indices (`0, 1, 2, ...`) or class names (`setosa`,
//! `versicolor`, ...: the first data row decides which), and the number of classes is either
//! fixed by the caller (the model's outputs) or taken from the data ([`Labels`]). Names are
//! numbered in sorted order, so the numbering does not depend on the order of the rows.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use thiserror::Error;

use super::read::{DATA_FILE_LIMIT, ReadError, read_text_limited};
use super::{Dataset, Task, class_labels};

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
    load_csv_limited(path, features, targets, labels, DATA_FILE_LIMIT, "")
}

/// [`load_csv`] reading at most `limit` bytes; `hint` ends the too-large message.
pub fn load_csv_limited(
    path: &Path,
    features: &[&str],
    targets: &[&str],
    labels: impl Into<Labels>,
    limit: u64,
    hint: &str,
) -> Result<Dataset, CsvError> {
    let file = path.display().to_string();
    let text = read_text_limited(path, limit, hint)?;
    parse_csv(&text, &file, features, targets, labels)
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
    let labels = labels.into();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());
    let (header_line, header_text) = lines.next().ok_or_else(|| CsvError::Empty {
        file: file.to_owned(),
    })?;
    let header: Vec<String> = split_fields(header_text, file, header_line)?
        .into_iter()
        .map(|f| f.text)
        .collect();

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
    for (line, row) in lines {
        let fields = split_fields(row, file, line)?;
        if fields.len() != header.len() {
            return Err(CsvError::FieldCount {
                file: file.to_owned(),
                line,
                expected: header.len(),
                got: fields.len(),
            });
        }
        let value = |c: usize| -> Result<f64, CsvError> {
            let text = &fields[c].text;
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
                let text = &fields[c].text;
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

/// One field of a line, unquoted and trimmed.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub text: String,
    /// 1-based column (character position) where the field starts.
    pub start: usize,
}

/// Splits one line into fields: the only place that knows the CSV syntax.
pub fn split_fields(line: &str, file: &str, line_no: usize) -> Result<Vec<Field>, CsvError> {
    let chars: Vec<char> = line.chars().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let start = i + 1;
        while i < chars.len() && chars[i] != ',' && chars[i].is_whitespace() {
            i += 1;
        }
        let mut text = String::new();
        if i < chars.len() && chars[i] == '"' {
            let quote_col = i + 1;
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(CsvError::UnclosedQuote {
                            file: file.to_owned(),
                            line: line_no,
                            column: quote_col,
                        });
                    }
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        text.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        text.push(c);
                        i += 1;
                    }
                }
            }
            // Anything between the closing quote and the comma is kept (trimmed), so a stray
            // `"1"x` surfaces as a non-numeric value rather than vanishing.
            let mut rest = String::new();
            while i < chars.len() && chars[i] != ',' {
                rest.push(chars[i]);
                i += 1;
            }
            text.push_str(rest.trim());
        } else {
            while i < chars.len() && chars[i] != ',' {
                text.push(chars[i]);
                i += 1;
            }
            text = text.trim().to_owned();
        }
        fields.push(Field { text, start });
        if i >= chars.len() {
            return Ok(fields);
        }
        i += 1; // the comma
    }
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
        let err = load_csv_limited(&fixture("good.csv"), &[], &["label"], Task::Binary, 8, "!")
            .unwrap_err();
        assert!(err.to_string().ends_with("at most 8 B is read!"), "{err}");
    }

    #[test]
    fn field_splitting() {
        let f = split_fields(r#" 1 ,"a,b", "say ""hi""" ,"#, "f", 1).unwrap();
        let texts: Vec<&str> = f.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(texts, vec!["1", "a,b", "say \"hi\"", ""]);
        assert_eq!(f[1].start, 5);
        let err = split_fields(r#"1,"abc"#, "f.csv", 7).unwrap_err();
        assert_eq!(err.to_string(), "f.csv:7:3: unclosed quote");
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
