//! The scenarios shipped with gradscope and the data files they read, compiled into the binary
//! so `gradscope NAME`, `gradscope list` and the explorer's `o` list work from any directory
//! after `cargo install`. Files on disk still win: a path that exists is read from disk.

/// `(name, YAML source)` of each named file of `scenarios/`.
macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../scenarios/", $name, ".yaml")))),*]
    };
}

/// `(name, YAML source)` of every file in `scenarios/`, sorted by name (a test checks the list
/// against the directory).
pub const BUNDLED: &[(&str, &str)] = bundled![
    "ackley",
    "backprop_by_hand",
    "beale",
    "booth",
    "breast_cancer",
    "forward_vs_reverse",
    "gd_vs_sgd",
    "goldstein_price",
    "himmelblau",
    "ill_conditioned",
    "least_squares_lm",
    "linear_regression",
    "logistic_regression",
    "lr_schedules",
    "muon_vs_adamw",
    "noise_ball",
    "noise_scale",
    "rastrigin",
    "rastrigin_gradient_free",
    "rosenbrock",
    "saddle",
    "schedule_free_vs_cosine",
    "sine_fit",
    "six_hump_camel",
    "softmax_blobs",
    "spirals_mlp",
    "two_moons_mlp",
    "vanishing_gradients",
    "vanishing_gradients_tanh",
    "xor_mlp",
];

/// `(path as a bundled scenario names it, text)` of each data file of `scenarios/data/`.
pub const BUNDLED_DATA: &[(&str, &str)] = &[(
    "data/breast_cancer.csv",
    include_str!("../../scenarios/data/breast_cancer.csv"),
)];

/// The bundled data file a scenario's relative `path` names (`data/breast_cancer.csv`), when no
/// file exists at that path: a bundled scenario run from a directory without `data/`.
#[must_use]
pub fn data(path: &std::path::Path) -> Option<&'static str> {
    if path.is_absolute() || path.exists() {
        return None;
    }
    let parts = |p: &std::path::Path| -> Vec<std::ffi::OsString> {
        p.components()
            .filter(|c| *c != std::path::Component::CurDir)
            .map(|c| c.as_os_str().to_owned())
            .collect()
    };
    let wanted = parts(path);
    BUNDLED_DATA
        .iter()
        .find(|(name, _)| parts(std::path::Path::new(name)) == wanted)
        .map(|(_, text)| *text)
}

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
    fn every_data_file_is_bundled_and_read_only_when_missing_on_disk() -> std::io::Result<()> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/data");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".csv"))
            .map(|n| format!("data/{n}"))
            .collect();
        on_disk.sort();
        let bundled: Vec<&str> = BUNDLED_DATA.iter().map(|(n, _)| *n).collect();
        assert_eq!(bundled, on_disk);
        for (name, text) in BUNDLED_DATA {
            let file = std::fs::read_to_string(format!("{dir}/../{name}"))?;
            assert_eq!(*text, file, "{name}");
        }
        // Tests run in the crate's folder, where `data/` does not exist but `scenarios/data/`
        // does: the first is served from the binary, the second from disk.
        assert!(data(std::path::Path::new("data/breast_cancer.csv")).is_some());
        assert!(data(std::path::Path::new("./data/breast_cancer.csv")).is_some());
        assert!(data(std::path::Path::new("scenarios/data/breast_cancer.csv")).is_none());
        assert!(data(std::path::Path::new("data/other.csv")).is_none());
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
