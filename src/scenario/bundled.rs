//! The scenarios shipped with gradscope, compiled into the binary so `gradscope NAME`, `gradscope
//! list` and the explorer's `o` list work from any directory after `cargo install`. Files on
//! disk still win: a path that exists is read from disk.

/// `(name, YAML source)` of every file in `scenarios/`, sorted by name (a test checks the list
/// against the directory).
pub const BUNDLED: &[(&str, &str)] = &[
    ("ackley", include_str!("../../scenarios/ackley.yaml")),
    ("beale", include_str!("../../scenarios/beale.yaml")),
    ("booth", include_str!("../../scenarios/booth.yaml")),
    (
        "forward_vs_reverse",
        include_str!("../../scenarios/forward_vs_reverse.yaml"),
    ),
    (
        "goldstein_price",
        include_str!("../../scenarios/goldstein_price.yaml"),
    ),
    (
        "himmelblau",
        include_str!("../../scenarios/himmelblau.yaml"),
    ),
    (
        "ill_conditioned",
        include_str!("../../scenarios/ill_conditioned.yaml"),
    ),
    (
        "least_squares_lm",
        include_str!("../../scenarios/least_squares_lm.yaml"),
    ),
    (
        "linear_regression",
        include_str!("../../scenarios/linear_regression.yaml"),
    ),
    (
        "logistic_regression",
        include_str!("../../scenarios/logistic_regression.yaml"),
    ),
    (
        "muon_vs_adamw",
        include_str!("../../scenarios/muon_vs_adamw.yaml"),
    ),
    ("rastrigin", include_str!("../../scenarios/rastrigin.yaml")),
    (
        "rastrigin_gradient_free",
        include_str!("../../scenarios/rastrigin_gradient_free.yaml"),
    ),
    (
        "rosenbrock",
        include_str!("../../scenarios/rosenbrock.yaml"),
    ),
    ("saddle", include_str!("../../scenarios/saddle.yaml")),
    (
        "schedule_free_vs_cosine",
        include_str!("../../scenarios/schedule_free_vs_cosine.yaml"),
    ),
    ("sine_fit", include_str!("../../scenarios/sine_fit.yaml")),
    (
        "six_hump_camel",
        include_str!("../../scenarios/six_hump_camel.yaml"),
    ),
    (
        "softmax_blobs",
        include_str!("../../scenarios/softmax_blobs.yaml"),
    ),
    (
        "spirals_mlp",
        include_str!("../../scenarios/spirals_mlp.yaml"),
    ),
    (
        "two_moons_mlp",
        include_str!("../../scenarios/two_moons_mlp.yaml"),
    ),
    ("xor_mlp", include_str!("../../scenarios/xor_mlp.yaml")),
];

/// The bundled scenario called `name` (`two_moons_mlp`, also `two_moons_mlp.yaml` or
/// `scenarios/two_moons_mlp.yaml`): its file name as errors show it, and its source.
#[must_use]
pub fn find(name: &str) -> Option<(String, &'static str)> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base
        .strip_suffix(".yaml")
        .or_else(|| base.strip_suffix(".yml"))
        .unwrap_or(base);
    BUNDLED
        .iter()
        .find(|(n, _)| *n == stem)
        .map(|(n, source)| (format!("{n}.yaml (built in)"), *source))
}

/// Loads and builds a scenario file, or, when no file has that path, the bundled scenario of
/// that name (`gradscope two_moons_mlp` from any directory).
pub fn load_and_build(
    path: &std::path::Path,
    overrides: &super::Overrides,
) -> Result<super::Built, super::ScenarioErrors> {
    match find(&path.to_string_lossy()) {
        Some((file, source)) if !path.exists() => {
            super::load_str_and_build(source, &file, overrides)
        }
        _ => super::load_and_build(path, overrides),
    }
}

/// The bundled names, for "did you mean" and lists.
#[must_use]
pub fn names() -> Vec<&'static str> {
    BUNDLED.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_scenarios_is_bundled_and_nothing_else() -> std::io::Result<()> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".yaml").map(str::to_owned)
            })
            .collect();
        on_disk.sort();
        assert_eq!(names(), on_disk);
        for (name, source) in BUNDLED {
            let on_disk = std::fs::read_to_string(format!("{dir}/{name}.yaml"))?;
            assert_eq!(*source, on_disk, "{name}");
        }
        Ok(())
    }

    #[test]
    fn names_are_found_with_or_without_directory_and_extension() {
        for name in [
            "two_moons_mlp",
            "two_moons_mlp.yaml",
            "scenarios/two_moons_mlp.yaml",
        ] {
            let found = find(name).map(|(file, _)| file);
            assert_eq!(
                found.as_deref(),
                Some("two_moons_mlp.yaml (built in)"),
                "{name}"
            );
        }
        assert_eq!(find("two_moon"), None);
    }
}
