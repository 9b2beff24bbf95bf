//! The real binary against hostile surroundings and slips on the command line: a closed
//! stdout, a full disk, huge `grad` inputs, outputs that would overwrite inputs, flags out of
//! range, expressions that look like flags, non-finite points, control characters in labels;
//! and `list` and the scenario docs naming every registered optimizer.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::{gradscope, text};

const BIN: &str = env!("CARGO_BIN_EXE_gradscope");

/// The commands that print to stdout, each with the exit status it has when all goes well.
const PRINTING: &[&[&str]] = &[
    &["list"],
    &["grad", "(1-x)^2 + 100*(y-x^2)^2", "--at", "x=-1.5,y=2"],
    &["grad", "x*y", "--at", "x=1,y=2", "--json"],
    &["--headless", "scenarios/booth.yaml", "--no-timing"],
    &["--headless", "scenarios/booth.yaml", "--format", "json"],
    &["--headless", "scenarios/booth.yaml", "--format", "csv"],
    &["--help"],
];

fn assert_no_panic(what: &str, out: &Output) {
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{what}: {stderr}"
    );
    assert_ne!(out.status.code(), Some(101), "{what}: {stderr}");
}

/// stdout is a pipe whose reader is already gone: every write fails with EPIPE.
#[test]
fn a_closed_stdout_ends_the_output_quietly() -> std::io::Result<()> {
    for args in PRINTING {
        let (reader, writer) = std::io::pipe()?;
        drop(reader);
        let out = Command::new(BIN)
            .args(*args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()?;
        assert_no_panic(&args.join(" "), &out);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            text(&out.stderr),
            "",
            "{args:?}: no message for a closed pipe"
        );
    }
    Ok(())
}

/// A failed expectation still exits 1 when the reader has gone: `| head` hides nothing.
#[test]
fn a_closed_stdout_keeps_the_expectation_verdict() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let scenario = dir.path().join("fails.yaml");
    std::fs::write(
        &scenario,
        "objective:\n  expr: \"x^2\"\n  start: [1]\noptimizers:\n  - name: sgd\n    lr: 0.01\n\
         stop: {max_steps: 2}\nexpect:\n  sgd:\n    final_loss_below: 1.0e-9\n",
    )?;
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let out = Command::new(BIN)
        .arg("--headless")
        .arg(&scenario)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()?;
    assert_no_panic("failing expectation", &out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 expectation(s) failed"));
    Ok(())
}

/// Through a shell, as a user types it: the output is far larger than a pipe's buffer, so
/// `head` closes the pipe while gradscope is still writing.
#[test]
fn piping_into_head_is_quiet() -> std::io::Result<()> {
    let n = 1500;
    let expr: Vec<String> = (0..n).map(|i| format!("x{i}^2")).collect();
    let at: Vec<String> = (0..n).map(|i| format!("x{i}=1")).collect();
    let dir = tempfile::tempdir()?;
    let (stderr, status) = (dir.path().join("stderr"), dir.path().join("status"));
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"{ "$0" grad "$1" --at "$2" --no-hessian 2>"$3"; echo $? >"$4"; } | head -1"#)
        .arg(BIN)
        .arg(expr.join(" + "))
        .arg(at.join(","))
        .arg(&stderr)
        .arg(&status)
        .output()?;
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("f = x0^2 + x1^2"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(std::fs::read_to_string(&status)?.trim(), "0");
    assert_eq!(std::fs::read_to_string(&stderr)?, "");
    Ok(())
}

/// stdout is `/dev/full`: every write fails with ENOSPC.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_one_line_and_exit_2() -> std::io::Result<()> {
    for args in PRINTING {
        let full = std::fs::File::options().write(true).open("/dev/full")?;
        let out = Command::new(BIN)
            .args(*args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(full)
            .stderr(Stdio::piped())
            .output()?;
        assert_no_panic(&args.join(" "), &out);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: cannot write") && stderr.contains("No space left"),
            "{args:?}: {stderr}"
        );
    }
    Ok(())
}

/// `x0^2 * x1 + x1^2 * x2 + ...`: every variable used, a Hessian with structure.
fn chain(n: usize) -> (String, String) {
    let expr: Vec<String> = (0..n).map(|i| format!("x{i}^2*x{}", (i + 1) % n)).collect();
    let at: Vec<String> = (0..n).map(|i| format!("x{i}=0.{}", i % 9 + 1)).collect();
    (expr.join(" + "), at.join(","))
}

#[test]
fn grad_skips_the_hessian_when_asked_or_when_there_are_many_variables() {
    let out = gradscope(&["grad", "x^2*y", "--at", "x=1,y=2", "--no-hessian"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Hessian: skipped (--no-hessian was given)"),
        "{stdout}"
    );
    assert!(!stdout.contains("eigenvalues"), "{stdout}");

    let out = gradscope(&["grad", "x^2*y", "--at", "x=1,y=2", "--json", "--no-hessian"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert!(json["hessian"].is_null() && json["eigenvalues"].is_null());
    assert_eq!(json["hessian_skipped"], "--no-hessian was given");

    let (expr, at) = chain(450);
    let out = gradscope(&["grad", &expr, "--at", &at]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Hessian: skipped (450 variables, more than the 200 computed by default"),
        "{}",
        &stdout[stdout.len().saturating_sub(600)..]
    );
    let out = gradscope(&["grad", &expr, "--at", &at, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert!(json["hessian"].is_null());
    assert!(
        json["hessian_skipped"]
            .as_str()
            .is_some_and(|s| s.starts_with("450 variables")),
        "{}",
        json["hessian_skipped"]
    );
    // The gradient itself is all there: d/dx0 = 2 x0 x1 + x449^2.
    let g0 = 2.0 * 0.1 * 0.2 + 0.9_f64 * 0.9;
    let forward = json["gradient"]["forward"].as_array().expect("gradient");
    assert_eq!(forward.len(), 450);
    assert!((forward[0].as_f64().expect("number") - g0).abs() < 1e-12);
}

#[test]
fn grad_computes_a_large_hessian_when_asked_and_summarises_it() {
    // A sum of squares keeps the forced Hessian cheap: 201 variables, a 201 x 201 diagonal.
    let n = 201;
    let expr: Vec<String> = (0..n).map(|i| format!("x{i}^2")).collect();
    let at: Vec<String> = (0..n).map(|i| format!("x{i}=1")).collect();
    let (expr, at) = (expr.join(" + "), at.join(","));
    let out = gradscope(&["grad", &expr, "--at", &at, "--no-hessian", "--hessian"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let hessian = &stdout[stdout.find("Hessian").expect("a Hessian section")..];
    assert!(hessian.contains("201 x 201, summarised"), "{hessian}");
    assert!(
        hessian.contains("201 of 40401 entries non-zero"),
        "{hessian}"
    );
    assert!(hessian.contains("(191 more)"), "{hessian}");
    assert!(hessian.lines().count() < 10, "{hessian}");

    // Small Hessians are printed whole, as before.
    let (expr, at) = chain(3);
    let out = gradscope(&["grad", &expr, "--at", &at]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\nHessian (nested duals)\n"), "{stdout}");
    assert_eq!(stdout.matches("\n  [").count(), 3, "{stdout}");
}

#[test]
fn grad_takes_an_expression_starting_with_a_minus() {
    for args in [
        &["grad", "-x^2 + y", "--at", "x=1,y=2"][..],
        &["grad", "--at", "x=1,y=2", "-x^2 + y"],
        &["grad", "--json", "-x^2 + y", "--at", "x=1,y=2"],
    ] {
        let out = gradscope(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("value = 1.00000000000000000e0") || stdout.contains("\"value\": 1.0"),
            "{args:?}: {stdout}"
        );
    }
}

#[test]
fn grad_refuses_a_point_that_is_not_finite() {
    for value in ["1e400", "-1e400", "inf", "NaN", "infinity"] {
        let at = format!("x={value}");
        let out = gradscope(&["grad", "x^2", "--at", &at]);
        assert_eq!(out.status.code(), Some(2), "{at}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "bad --at entry '{at}': the value is not a finite number"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn grad_chunk_is_checked_like_the_scenario_field() {
    for chunk in ["0", "9"] {
        let out = gradscope(&["grad", "x^2", "--at", "x=1", "--chunk", chunk]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "'chunk' is out of range: {chunk} (expected a whole number in [1, 8])"
            )),
            "{stderr}"
        );
    }
    for chunk in ["1", "8"] {
        let out = gradscope(&["grad", "x^2", "--at", "x=1", "--chunk", chunk, "--json"]);
        assert_eq!(out.status.code(), Some(0));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
        assert_eq!(json["cost"]["chunk"].to_string(), chunk);
    }
}

#[test]
fn steps_zero_is_refused_like_max_steps_zero() -> std::io::Result<()> {
    let out = gradscope(&["--headless", "scenarios/booth.yaml", "--steps", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let flag = text(&out.stderr);
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("zero.yaml");
    std::fs::write(
        &file,
        "objective:\n  expr: \"x^2\"\n  start: [1]\noptimizers: [adam]\nstop: {max_steps: 0}\n",
    )?;
    let out = gradscope(&["--headless", file.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(2));
    let field = text(&out.stderr);
    let wording = "'max_steps' must be at least 1, found 0";
    assert!(flag.contains(wording), "{flag}");
    assert!(field.contains(wording), "{field}");
    let out = gradscope(&[
        "--headless",
        "scenarios/booth.yaml",
        "--steps",
        "1",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["runs"][0]["steps"], 1);
    Ok(())
}

/// A scenario that reads a CSV data file and an init file, in a fresh folder.
fn csv_scenario(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join("data.csv"), "x,y\n0,1\n1,3\n2,5\n3,7\n")?;
    std::fs::write(dir.join("init.csv"), "0.5\n0.1\n")?;
    std::fs::write(
        dir.join("fit.yaml"),
        "name: csv fit\nobjective:\n  model: {kind: linear}\n  loss: mse\n  \
         data: {kind: csv, path: data.csv, features: [x], target: y}\n  \
         init: {file: init.csv}\noptimizers:\n  - name: sgd\n    lr: 0.01\nstop: {max_steps: 5}\n",
    )
}

#[cfg(unix)]
#[test]
fn outputs_never_overwrite_inputs_and_need_their_extension() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    csv_scenario(dir.path())?;
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("the binary runs")
    };
    let before: Vec<Vec<u8>> = ["fit.yaml", "data.csv", "init.csv"]
        .iter()
        .map(|f| std::fs::read(dir.path().join(f)))
        .collect::<Result<_, _>>()?;
    std::os::unix::fs::symlink("fit.yaml", dir.path().join("fit.svg"))?;
    let cases: &[(&[&str], &str)] = &[
        (
            &["--trajectory", "data.csv"],
            "--trajectory 'data.csv' is the CSV data file 'data.csv'; refusing to overwrite an input",
        ),
        (
            &["--trajectory", "./init.csv"],
            "--trajectory './init.csv' is the init file 'init.csv'",
        ),
        (
            &["--plot", "fit.svg"],
            "--plot 'fit.svg' is the scenario file 'fit.yaml'",
        ),
        (
            &["--plot", "fit.yaml"],
            "--plot 'fit.yaml': expected a file name ending in .svg or .png",
        ),
        (
            &["--trajectory", "fit.yaml"],
            "--trajectory 'fit.yaml': expected a file name ending in .csv",
        ),
        (
            &["--trajectory", "t.txt"],
            "--trajectory 't.txt': expected a file name ending in .csv",
        ),
        (
            &["--trajectory", "missing/t.csv"],
            "the folder 'missing' does not exist",
        ),
    ];
    for (extra, message) in cases {
        let mut args = vec!["--headless", "fit.yaml"];
        args.extend_from_slice(extra);
        let out = run(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{extra:?}: nothing ran");
    }
    let after: Vec<Vec<u8>> = ["fit.yaml", "data.csv", "init.csv"]
        .iter()
        .map(|f| std::fs::read(dir.path().join(f)))
        .collect::<Result<_, _>>()?;
    assert_eq!(before, after, "no input was touched");
    // The TUI's --log is checked too, before the terminal is touched.
    let out = run(&["fit.yaml", "--log", "init.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--log 'init.csv' is the init file"));
    // A fresh name works.
    let out = run(&["--headless", "fit.yaml", "--trajectory", "t.CSV"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.path().join("t.CSV").is_file());
    Ok(())
}

#[test]
fn control_characters_in_labels_are_escaped_in_the_table() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("evil.yaml");
    std::fs::write(
        &file,
        "name: \"title\\e]0;pwned\\a\"\nobjective:\n  expr: \"x^2\"\n  start: [1]\n\
         optimizers:\n  - name: adam\n    label: \"red\\e[31m\\u202Eadam\"\nstop: {max_steps: 3}\n",
    )?;
    let out = gradscope(&["--headless", file.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("title\\u{1b}]0;pwned\\u{7}"), "{stdout}");
    assert!(stdout.contains("red\\u{1b}[31m\\u{202e}adam"), "{stdout}");
    assert!(
        !stdout
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{stdout:?}"
    );
    // JSON keeps the label exact (escaped the JSON way).
    let out = gradscope(&[
        "--headless",
        file.to_str().unwrap_or_default(),
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["runs"][0]["label"], "red\u{1b}[31m\u{202e}adam");
    Ok(())
}

#[test]
fn list_and_the_scenario_docs_name_every_optimizer() {
    let out = gradscope(&["list"]);
    assert!(out.status.success());
    let listed = text(&out.stdout);
    let docs = include_str!("../../docs/scenarios.md");
    for &name in gradscope::optim::registry::names() {
        let spec = gradscope::optim::registry::spec(name).expect("registered");
        let line = format!("{name:<20} {}", spec.description);
        assert!(listed.lines().any(|l| l == line), "list lacks '{line}'");
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/scenarios.md lacks `{name}`"
        );
    }
}
