//! Nearest-name suggestions for typos in keys and names ("did you mean 'adam'?").

/// Most candidates a suggestion is sought among: past this (a scenario's thousands of labels
/// or variables) no typo is guessed, so a file of many mistakes costs time linear in its size.
const MAX_CANDIDATES: usize = 4096;

/// Most names an "expected one of" line lists.
const MAX_LISTED: usize = 24;

/// The candidate closest to `input`, when it is close enough to be a likely typo.
///
/// Jaro-Winkler catches dropped or doubled letters in longer names and Damerau-Levenshtein
/// catches transpositions in short ones (`mpl` → `mlp`); a name that is itself valid gets no suggestion.
pub fn nearest<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let candidates: Vec<&str> = candidates.into_iter().take(MAX_CANDIDATES + 1).collect();
    if candidates.len() > MAX_CANDIDATES {
        return None;
    }
    let lowered = input.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate == input {
            return None;
        }
        let other = candidate.to_lowercase();
        let jw = strsim::jaro_winkler(&lowered, &other);
        let edits = strsim::damerau_levenshtein(&lowered, &other);
        let close = lowered == other
            || jw >= 0.82
            || (edits <= 1 && lowered.chars().count() >= 2)
            || (edits <= 2 && lowered.chars().count() >= 5);
        if !close {
            continue;
        }
        // A case-only difference or a single edit outranks a merely similar prefix.
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

/// `one of: a, b, c` for an "expected one of" line.
pub fn one_of<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    format!("one of: {}", short_list(names))
}

/// `a, b, c`, or the first few and how many more: a message names at most [`MAX_LISTED`], so
/// a scenario of a million variables cannot make each of its errors megabytes long.
pub fn short_list<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let mut names = names.into_iter();
    let listed: Vec<&str> = names.by_ref().take(MAX_LISTED).collect();
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

    #[test]
    fn suggests_close_names_only() {
        let opts = [
            "sgd", "adam", "adamw", "adamax", "nadam", "lbfgs", "rmsprop",
        ];
        assert_eq!(nearest("adma", opts).as_deref(), Some("adam"));
        assert_eq!(nearest("rmsprp", opts).as_deref(), Some("rmsprop"));
        assert_eq!(nearest("Adam", opts).as_deref(), Some("adam"));
        assert_eq!(nearest("zzzzzz", opts), None);
        assert_eq!(nearest("mpl", ["mlp", "linear"]).as_deref(), Some("mlp"));
        assert_eq!(nearest("lrr", ["lr", "momentum"]).as_deref(), Some("lr"));
        assert_eq!(nearest("adam", opts), None);
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..30).map(|i| format!("n{i}")).collect();
        let line = one_of(names.iter().map(String::as_str));
        assert!(line.starts_with("one of: n0, n1, "), "{line}");
        assert!(line.ends_with("n23, ... (6 more)"), "{line}");
        let many: Vec<String> = (0..5000).map(|i| format!("label{i}")).collect();
        assert_eq!(nearest("label1x", many.iter().map(String::as_str)), None);
        assert_eq!(
            nearest("label1x", many[..100].iter().map(String::as_str)).as_deref(),
            Some("label1")
        );
    }
}
