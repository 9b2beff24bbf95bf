//! Nearest-name suggestions for typos in keys and names ("did you mean 'adam'?").

/// The candidate closest to `input`, when it is close enough to be a likely typo.
///
/// Jaro-Winkler catches dropped or doubled letters in longer names and Damerau-Levenshtein
/// catches transpositions in short ones (`mpl` → `mlp`); a name that is itself valid gets no suggestion.
pub fn nearest<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
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

/// `a, b, c` for an "expected one of" line.
pub fn one_of<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let all: Vec<&str> = names.into_iter().collect();
    format!("one of: {}", all.join(", "))
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
}
