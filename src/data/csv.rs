//! Loading a [`Dataset`] from a CSV file: a header row of column names, then one sample a line.
//!
//! Hand-rolled for the simple files this tool reads (the `csv` crate would add a dependency for
//! features we do not need): fields are separated by commas, a field may be wrapped in double
//! quotes (a doubled `""` inside is a literal quote; quoted fields may hold commas but not line
//! breaks), whitespace around unquoted fields is ignored, blank lines are skipped, `\r\n` line
//! ends and a UTF-8 byte-order mark are accepted. Every error names the file, the 1-based line
//! and, where there is one, the 1-based column. Only [`split_fields`] knows the syntax, so
//! swapping in the `csv` crate would replace that one function.

use std::path::Path;

use thiserror::Error;

use super::{Dataset, Task};

/// What went wrong reading a CSV file; every message starts with `file:line[:column]`.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CsvError {
    #[error("{file}: file not found")]
    NotFound { file: String },
    #[error("{file}: cannot read the file: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file}: the file is empty (expected a header row of column names)")]
    Empty { file: String },
    #[error("{file}:{line}: no data rows after the header")]
    NoRows { file: String, line: usize },
    #[error("{file}:{line}: unknown column '{name}'{}; the columns are: {}",
        suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default(),
        columns.join(", "))]
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
    #[error("{file}:{line}: expected {task} to have one target column, got {got}")]
    TargetCount {
        file: String,
        line: usize,
        task: Task,
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
}

/// Reads `path` into a dataset. `features` names the feature columns in the order wanted
/// (empty: every column that is not a target, in file order); `targets` names the target
/// columns (exactly one for classification).
pub fn load_csv(
    path: &Path,
    features: &[&str],
    targets: &[&str],
    task: Task,
) -> Result<Dataset, CsvError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CsvError::NotFound { file: file.clone() }
        } else {
            CsvError::Unreadable {
                file: file.clone(),
                reason: e.to_string(),
            }
        }
    })?;
    parse_csv(&text, &file, features, targets, task)
}

/// [`load_csv`] on text already in memory; `file` is the name used in error messages.
pub fn parse_csv(
    text: &str,
    file: &str,
    features: &[&str],
    targets: &[&str],
    task: Task,
) -> Result<Dataset, CsvError> {
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

    let lookup = |name: &str| -> Result<usize, CsvError> {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| CsvError::UnknownColumn {
                file: file.to_owned(),
                line: header_line,
                name: name.to_owned(),
                suggestion: nearest(name, &header).map(str::to_owned),
                columns: header.clone(),
            })
    };
    let target_cols = targets
        .iter()
        .map(|t| lookup(t))
        .collect::<Result<Vec<_>, _>>()?;
    if task != Task::Regression && target_cols.len() != 1 || target_cols.is_empty() {
        return Err(CsvError::TargetCount {
            file: file.to_owned(),
            line: header_line,
            task,
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
        task,
        feature_names: feature_cols.iter().map(|&c| header[c].clone()).collect(),
        target_names: target_cols.iter().map(|&c| header[c].clone()).collect(),
    };
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
            let y = value(c)?;
            if !task.accepts(y) {
                return Err(CsvError::BadLabel {
                    file: file.to_owned(),
                    line,
                    column: c + 1,
                    name: header[c].clone(),
                    value: fields[c].text.clone(),
                    task,
                });
            }
            data.targets.push(y);
        }
    }
    if data.is_empty() {
        return Err(CsvError::NoRows {
            file: file.to_owned(),
            line: header_line,
        });
    }
    Ok(data)
}

/// The candidate closest to `name` (normalised Damerau–Levenshtein, case-insensitive), if it is
/// close enough to be a plausible typo.
#[must_use]
pub fn nearest<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    // Reversed so that `max_by`, which keeps the last of equal maxima, prefers the first column.
    candidates
        .iter()
        .rev()
        .map(|c| {
            (
                c,
                strsim::normalized_damerau_levenshtein(&lower, &c.to_lowercase()),
            )
        })
        .filter(|&(_, score)| score >= 0.4)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c.as_str())
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
