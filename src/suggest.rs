//! "Did you mean …?": the one policy for suggesting the nearest valid name to a misspelt one,
//! used by every error that names a choice (scenario keys and kinds, optimizer and
//! hyperparameter names, expression functions and variables, CSV columns, activations), and
//! the short lists of alternatives those errors print.

/// Most candidates a suggestion is sought among: past this (a scenario's thousands of labels
/// or variables) no typo is guessed, so a file of many mistakes costs time linear in its size.
const MAX_CANDIDATES: usize = 4096;

/// Most names an "expected one of" line lists.
const MAX_LISTED: usize = 24;

/// The candidate closest to `input`, when it is close enough to be a likely typo; `None` when
/// `input` is itself a candidate.
///
/// Case is ignored (`RMSProp` → `rmsprop`). Damerau–Levenshtein catches dropped, doubled,
/// swapped or changed letters in short names (one edit below five characters, `mpl` → `mlp`,
/// two from five on), and Jaro–Winkler catches longer names with a common start
/// (`levenberg` → `levenberg_marquardt`). A case-only difference beats one edit, which beats a
/// merely similar name; ties go to the earlier candidate.
///
/// ```
/// use gradscope::suggest::nearest;
/// assert_eq!(nearest("adma", ["sgd", "adam"]).as_deref(), Some("adam"));
/// assert_eq!(nearest("sinn", &["sin", "cos", "tan"]).as_deref(), Some("sin"));
/// assert_eq!(nearest("banana", ["sin", "cos"]), None);
/// assert_eq!(nearest("adam", ["adam", "adamw"]), None);
/// ```
pub fn nearest<I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let candidates: Vec<I::Item> = candidates.into_iter().take(MAX_CANDIDATES + 1).collect();
    if candidates.len() > MAX_CANDIDATES {
        return None;
    }
    let lowered = input.to_lowercase();
    let length = lowered.chars().count();
    let mut best: Option<(f64, &str)> = None;
    for candidate in &candidates {
        let candidate = candidate.as_ref();
        if candidate == input {
            return None;
        }
        let other = candidate.to_lowercase();
        let jw = strsim::jaro_winkler(&lowered, &other);
        let edits = strsim::damerau_levenshtein(&lowered, &other);
        let close = lowered == other
            || jw >= 0.82
            || (edits <= 1 && length >= 2)
            || (edits <= 2 && length >= 5);
        if !close {
            continue;
        }
        let score = if lowered == other {
            3.0
        } else if edits <= 1 {
            2.0 + jw
        } else {
            jw
        };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// ` (did you mean 'x'?)` for a message, or nothing.
#[must_use]
pub fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}

/// `one of: a, b, c` for an "expected one of" line.
pub fn one_of<I>(names: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    format!("one of: {}", short_list(names))
}

/// `a, b, c`, or the first few and how many more: a message names at most [`MAX_LISTED`], so
/// a scenario of a million variables cannot make each of its errors megabytes long.
pub fn short_list<I>(names: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut names = names.into_iter();
    let listed: Vec<String> = names
        .by_ref()
        .take(MAX_LISTED)
        .map(|n| n.as_ref().to_string())
        .collect();
    let more = names.count();
    if more == 0 {
        listed.join(", ")
    } else {
        format!("{}, ... ({more} more)", listed.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases each of the former policies (scenario keys, the optimizer registry, the
    /// expression language, CSV columns) was tested with: one policy satisfies all of them.
    #[test]
    fn suggests_close_names_only() {
        let opts = [
            "sgd", "adam", "adamw", "adamax", "nadam", "lbfgs", "rmsprop",
        ];
        assert_eq!(nearest("adma", opts).as_deref(), Some("adam"));
        assert_eq!(nearest("rmsprp", opts).as_deref(), Some("rmsprop"));
        assert_eq!(nearest("Adam", opts).as_deref(), Some("adam"));
        assert_eq!(nearest("RMSProp", opts).as_deref(), Some("rmsprop"));
        assert_eq!(nearest("zzzzzz", opts), None);
        assert_eq!(nearest("xyz", opts), None);
        assert_eq!(nearest("adam", opts), None);
        assert_eq!(nearest("mpl", ["mlp", "linear"]).as_deref(), Some("mlp"));
        assert_eq!(nearest("lrr", ["lr", "momentum"]).as_deref(), Some("lr"));
        assert_eq!(
            nearest("levenberg", ["newton", "levenberg_marquardt"]).as_deref(),
            Some("levenberg_marquardt")
        );
        let funcs = [
            "exp", "ln", "log", "sqrt", "sin", "cos", "sigmoid", "softplus",
        ];
        assert_eq!(nearest("sinn", funcs).as_deref(), Some("sin"));
        assert_eq!(nearest("SQRT", funcs).as_deref(), Some("sqrt"));
        assert_eq!(nearest("sigmod", funcs).as_deref(), Some("sigmoid"));
        assert_eq!(nearest("softpuls", funcs).as_deref(), Some("softplus"));
        assert_eq!(nearest("lgo", funcs).as_deref(), Some("log"));
        assert_eq!(nearest("lg", funcs).as_deref(), Some("ln"));
        assert_eq!(nearest("softmax", funcs), None);
        assert_eq!(nearest("tanh", funcs), None);
        assert_eq!(nearest("x", [""; 0]), None);
        let columns = ["x1", "x2", "note value", "label"];
        assert_eq!(nearest("x3", columns).as_deref(), Some("x1"));
        assert_eq!(nearest("lable", columns).as_deref(), Some("label"));
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..30).map(|i| format!("n{i}")).collect();
        let line = one_of(&names);
        assert!(line.starts_with("one of: n0, n1, "), "{line}");
        assert!(line.ends_with("n23, ... (6 more)"), "{line}");
        let many: Vec<String> = (0..5000).map(|i| format!("label{i}")).collect();
        assert_eq!(nearest("label1x", &many), None);
        assert_eq!(nearest("label1x", &many[..100]).as_deref(), Some("label1"));
        assert_eq!(did_you_mean(Some("adam")), " (did you mean 'adam'?)");
        assert_eq!(did_you_mean(None), "");
    }
}
