//! "Did you mean …?": the nearest valid name to a misspelt one, shared by the expression parser
//! and the scenario loader.

/// The candidate nearest to `name`, if it is close enough to be a plausible typo.
///
/// A case-insensitive exact match wins; otherwise the smallest optimal-string-alignment
/// distance (a transposition counts as one edit), accepted only within `max(1, len / 3)` edits
/// so that short names do not "suggest" unrelated ones. Ties go to the earlier candidate.
///
/// ```
/// use gradscope::expr::suggest;
/// assert_eq!(suggest("sinn", &["sin", "cos", "tan"]).as_deref(), Some("sin"));
/// assert_eq!(suggest("lgo", &["log", "exp"]).as_deref(), Some("log"));
/// assert_eq!(suggest("banana", &["sin", "cos"]), None);
/// ```
#[must_use]
pub fn suggest(name: &str, candidates: &[&str]) -> Option<String> {
    let lower = name.to_lowercase();
    if let Some(c) = candidates.iter().find(|c| c.to_lowercase() == lower) {
        return Some((*c).to_string());
    }
    let limit = (lower.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (strsim::osa_distance(&lower, &c.to_lowercase()), *c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_within_the_limit() {
        let funcs = [
            "exp", "ln", "log", "sqrt", "sin", "cos", "sigmoid", "softplus",
        ];
        assert_eq!(suggest("sinn", &funcs).as_deref(), Some("sin"));
        assert_eq!(suggest("SQRT", &funcs).as_deref(), Some("sqrt"));
        assert_eq!(suggest("sigmod", &funcs).as_deref(), Some("sigmoid"));
        assert_eq!(suggest("softpuls", &funcs).as_deref(), Some("softplus"));
        assert_eq!(suggest("lg", &funcs).as_deref(), Some("ln"));
        assert_eq!(suggest("softmax", &funcs), None);
        assert_eq!(suggest("tanh", &funcs), None);
        assert_eq!(suggest("x", &[]), None);
    }
}
