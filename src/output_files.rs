//! The files the binary writes (`--trajectory`, `--plot`, `--log`), checked before anything
//! runs: each must carry its documented extension, its folder must exist, and none may be one of
//! the inputs (a scenario file, or a CSV data or init file a scenario reads), so a slip on the
//! command line can never overwrite the file being run. Identity is the file's, not its name's:
//! `./a.yaml`, `a.yaml` and a link to it are the same file.

use std::path::{Path, PathBuf};

use gradscope::model::Init;
use gradscope::scenario::{DataSpec, Objective, Scenario};

/// An output file named on the command line.
pub struct Output<'a> {
    /// The flag that names it, e.g. `--plot`.
    pub flag: &'static str,
    pub path: &'a Path,
    /// Accepted extensions (lower case), or none for any name.
    pub extensions: &'static [&'static str],
}

/// An input: what it is (for the message) and where.
pub struct Input {
    pub what: &'static str,
    pub path: PathBuf,
}

/// Checks an output's name alone: its extension and that its folder exists.
pub fn check_name(output: &Output<'_>) -> Result<(), String> {
    let Output {
        flag,
        path,
        extensions,
    } = output;
    let shown = path.display();
    if !extensions.is_empty() {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !ext.is_some_and(|e| extensions.contains(&e.as_str())) {
            let names: Vec<String> = extensions.iter().map(|e| format!(".{e}")).collect();
            return Err(format!(
                "error: {flag} '{shown}': expected a file name ending in {}",
                names.join(" or ")
            ));
        }
    }
    if path.is_dir() {
        return Err(format!("error: {flag} '{shown}' is a folder, not a file"));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(format!(
            "error: {flag} '{shown}': the folder '{}' does not exist",
            dir.display()
        )),
        _ => Ok(()),
    }
}

/// Refuses an output that is one of the inputs.
pub fn check_not_input(output: &Output<'_>, inputs: &[Input]) -> Result<(), String> {
    for input in inputs {
        // Either side missing cannot be the same file (the inputs were read, so they exist).
        if same_file::is_same_file(output.path, &input.path).unwrap_or(false) {
            return Err(format!(
                "error: {} '{}' is {} '{}'; refusing to overwrite an input",
                output.flag,
                output.path.display(),
                input.what,
                input.path.display()
            ));
        }
    }
    Ok(())
}

/// The scenario file and the files it reads (paths already resolved against its folder).
pub fn inputs_of(file: &Path, scenario: &Scenario) -> Vec<Input> {
    let mut inputs = vec![Input {
        what: "the scenario file",
        path: file.to_path_buf(),
    }];
    if let Objective::Model(m) = &scenario.objective {
        if let DataSpec::Csv(c) = &m.data {
            inputs.push(Input {
                what: "the CSV data file",
                path: c.path.clone(),
            });
        }
        if let Init::File(f) = &m.init {
            inputs.push(Input {
                what: "the init file",
                path: f.clone(),
            });
        }
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output<'a>(
        flag: &'static str,
        path: &'a Path,
        extensions: &'static [&'static str],
    ) -> Output<'a> {
        Output {
            flag,
            path,
            extensions,
        }
    }

    #[test]
    fn extensions_are_checked_case_insensitively() {
        let csv: &[&str] = &["csv"];
        assert!(check_name(&output("--trajectory", Path::new("t.CSV"), csv)).is_ok());
        let err = check_name(&output("--trajectory", Path::new("t.yaml"), csv));
        assert_eq!(
            err.err().as_deref(),
            Some("error: --trajectory 't.yaml': expected a file name ending in .csv")
        );
        let plot: &[&str] = &["svg", "png"];
        let err = check_name(&output("--plot", Path::new("noext"), plot));
        assert!(err.is_err_and(|e| e.contains(".svg or .png")));
        assert!(check_name(&output("--log", Path::new("any.name"), &[])).is_ok());
    }

    #[test]
    fn a_missing_folder_or_a_folder_is_refused() {
        let err = check_name(&output("--log", Path::new("no/such/folder/x.log"), &[]));
        assert!(err.is_err_and(|e| e.contains("the folder 'no/such/folder' does not exist")));
        let err = check_name(&output("--log", Path::new("src"), &[]));
        assert!(err.is_err_and(|e| e.contains("is a folder")));
    }

    #[test]
    fn the_same_file_under_another_name_is_an_input() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let scenario = dir.path().join("s.yaml");
        std::fs::write(&scenario, "name: x\n")?;
        let inputs = [Input {
            what: "the scenario file",
            path: scenario.clone(),
        }];
        let dotted = dir.path().join(".").join("s.yaml");
        let err = check_not_input(&output("--log", &dotted, &[]), &inputs);
        assert!(err.is_err_and(|e| e.contains("is the scenario file")));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&scenario, &link)?;
            assert!(check_not_input(&output("--trajectory", &link, &[]), &inputs).is_err());
        }
        let other = dir.path().join("new.csv");
        assert!(check_not_input(&output("--trajectory", &other, &[]), &inputs).is_ok());
        Ok(())
    }
}
