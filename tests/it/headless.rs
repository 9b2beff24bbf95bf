//! The real binary, headless: every bundled scenario meets its expectations, malformed scenario
//! files exit 2 with a located message, output is deterministic, exports are valid files, and
//! `gradscope grad` prints and fails as documented.

use crate::{gradscope, text};
use std::path::{Path, PathBuf};

fn files_in(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture folder exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Runs one bundled scenario and asserts exit code 0 (every expectation holds).
fn bundled(name: &str) {
    let path = format!("scenarios/{name}.yaml");
    let out = gradscope(&["--headless", &path, "--no-timing"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name}: stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ok "),
        "{name} states no expectation:\n{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn every_bundled_scenario_is_tested_here() {
    let listed = include_str!("headless.rs");
    for path in files_in("scenarios") {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        assert!(
            listed.contains(&format!("fn {stem}()")),
            "add a test for scenarios/{stem}.yaml"
        );
    }
    assert!(files_in("scenarios").len() >= 18);
}

#[test]
fn lr_schedules() {
    bundled("lr_schedules");
}
#[test]
fn ackley() {
    bundled("ackley");
}
#[test]
fn gd_vs_sgd() {
    bundled("gd_vs_sgd");
}
#[test]
fn noise_ball() {
    bundled("noise_ball");
}
#[test]
fn noise_scale() {
    bundled("noise_scale");
}
#[test]
fn breast_cancer() {
    bundled("breast_cancer");
}
#[test]
fn beale() {
    bundled("beale");
}
#[test]
fn booth() {
    bundled("booth");
}
#[test]
fn forward_vs_reverse() {
    bundled("forward_vs_reverse");
}
#[test]
fn goldstein_price() {
    bundled("goldstein_price");
}
#[test]
fn himmelblau() {
    bundled("himmelblau");
}
#[test]
fn ill_conditioned() {
    bundled("ill_conditioned");
}
#[test]
fn least_squares_lm() {
    bundled("least_squares_lm");
}
#[test]
fn linear_regression() {
    bundled("linear_regression");
}
#[test]
fn logistic_regression() {
    bundled("logistic_regression");
}
#[test]
fn muon_vs_adamw() {
    bundled("muon_vs_adamw");
}
#[test]
fn rastrigin() {
    bundled("rastrigin");
}
#[test]
fn rastrigin_gradient_free() {
    bundled("rastrigin_gradient_free");
}
#[test]
fn rosenbrock() {
    bundled("rosenbrock");
}
#[test]
fn saddle() {
    bundled("saddle");
}
#[test]
fn schedule_free_vs_cosine() {
    bundled("schedule_free_vs_cosine");
}
#[test]
fn sine_fit() {
    bundled("sine_fit");
}
#[test]
fn six_hump_camel() {
    bundled("six_hump_camel");
}
#[test]
fn softmax_blobs() {
    bundled("softmax_blobs");
}
#[test]
fn spirals_mlp() {
    bundled("spirals_mlp");
}
#[test]
fn two_moons_mlp() {
    bundled("two_moons_mlp");
}
#[test]
fn xor_mlp() {
    bundled("xor_mlp");
}
#[test]
fn backprop_by_hand() {
    bundled("backprop_by_hand");
}
#[test]
fn vanishing_gradients() {
    bundled("vanishing_gradients");
}
#[test]
fn vanishing_gradients_tanh() {
    bundled("vanishing_gradients_tanh");
}

#[test]
fn every_malformed_scenario_exits_2_with_a_located_message_and_no_panic() {
    let invalid = files_in("tests/scenarios/invalid");
    assert!(invalid.len() >= 25);
    for path in invalid {
        let rel = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&path)
            .to_path_buf();
        let rel = rel.to_string_lossy().into_owned();
        let out = gradscope(&["--headless", &rel]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{rel}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{rel}: nothing may be printed on stdout"
        );
        assert!(!stderr.contains("panicked"), "{rel}: {stderr}");
        let located = stderr.lines().any(|l| {
            l.trim_start().starts_with(&format!("--> {rel}:")) && l.matches(':').count() >= 2
        });
        assert!(located, "{rel}: no file:line:column in\n{stderr}");
        assert!(stderr.contains("error: "), "{rel}: {stderr}");
    }
}

#[test]
fn typos_get_suggestions_from_the_real_registry() {
    let out = gradscope(&["--headless", "tests/scenarios/invalid/41_many_errors.yaml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("41_many_errors.yaml:6:11"), "{stderr}");
    assert!(stderr.contains("did you mean 'adam'?"), "{stderr}");
    assert!(stderr.contains("did you mean 'momentum'?"), "{stderr}");
    assert!(stderr.contains("7 errors in"), "{stderr}");
}

#[test]
fn missing_file_and_bad_plot_name_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("t.csv");
    let csv = csv.to_str().expect("utf-8 path");
    let out = gradscope(&[
        "--headless",
        "scenarios/booth.yaml",
        "no/such.yaml",
        "--trajectory",
        csv,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no/such.yaml"),
        "{}",
        text(&out.stderr)
    );
    assert!(!Path::new(csv).exists(), "nothing may be half-written");
    let out = gradscope(&["--headless", "scenarios/booth.yaml", "--plot", "out.gif"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(".svg or .png"));
}

#[test]
fn failing_expectations_exit_1_and_list_expected_vs_got() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("impossible.yaml");
    std::fs::write(
        &path,
        "objective:\n  expr: \"x^2 + 1\"\n  start: {x: 3}\noptimizers:\n  - name: gd\n    lr: 0.1\n\
         stop:\n  max_steps: 10\nexpect:\n  gd:\n    final_loss_below: 0.5\n",
    )
    .expect("write scenario");
    let out = gradscope(&["--headless", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("final_loss_below expected < 5.000000e-1, got"),
        "{stderr}"
    );
}

#[test]
fn json_is_byte_identical_across_runs_and_seed_changes_stochastic_results() {
    let args = [
        "--headless",
        "scenarios/rastrigin_gradient_free.yaml",
        "--format",
        "json",
        "--no-timing",
    ];
    let a = gradscope(&args);
    let b = gradscope(&args);
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
    let json: serde_json::Value = serde_json::from_slice(&a.stdout).expect("valid JSON");
    for key in ["scenario", "engine", "seed", "runs", "expectations"] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    let run = &json["runs"][0];
    for key in [
        "label",
        "optimizer",
        "hyperparameters",
        "status",
        "steps",
        "evaluations",
        "final_loss",
        "best_loss",
        "final_params",
        "accuracy",
    ] {
        assert!(run.get(key).is_some(), "run misses {key}");
    }
    assert!(run.get("timing").is_none());
    let mut with_seed = args.to_vec();
    with_seed.extend(["--seed", "99"]);
    let c = gradscope(&with_seed);
    assert_ne!(
        a.stdout, c.stdout,
        "the genetic algorithm must depend on the seed"
    );
}

#[test]
fn steps_override_and_engine_override_apply() {
    let out = gradscope(&[
        "--headless",
        "scenarios/rastrigin.yaml",
        "--steps",
        "7",
        "--engine",
        "forward",
        "--format",
        "json",
        "--no-timing",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["engine"], "forward");
    for run in json["runs"].as_array().expect("runs") {
        assert_eq!(run["steps"], 7);
    }
}

#[test]
fn csv_format_has_a_header_and_a_row_per_run() {
    let out = gradscope(&[
        "--headless",
        "scenarios/booth.yaml",
        "scenarios/beale.yaml",
        "--format",
        "csv",
        "--no-timing",
    ]);
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("scenario,label,optimizer,status,steps"));
    assert_eq!(lines.len(), 1 + 4 + 4, "{stdout}");
    let width = lines[0].split(',').count();
    assert!(
        lines.iter().all(|l| l.split(',').count() == width),
        "{stdout}"
    );
}

#[test]
fn trajectory_csv_and_plots_are_valid_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("t.csv");
    let svg = dir.path().join("p.svg");
    let png = dir.path().join("p.png");
    let out = gradscope(&[
        "--headless",
        "scenarios/booth.yaml",
        "--trajectory",
        csv.to_str().expect("utf-8"),
        "--plot",
        svg.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let body = std::fs::read_to_string(&csv).expect("trajectory written");
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("scenario,label,step,loss,x,y"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 10);
    for r in &rows {
        assert_eq!(r.len(), 6);
        assert!(
            r[2].parse::<u64>().is_ok()
                && r[3].parse::<f64>().is_ok()
                && r[4].parse::<f64>().is_ok()
        );
    }
    assert!(rows.iter().any(|r| r[1] == "newton" && r[2] == "0"));
    let svg_text = std::fs::read_to_string(&svg).expect("svg written");
    assert!(svg_text.starts_with("<svg") && svg_text.trim_end().ends_with("</svg>"));
    assert!(svg_text.contains("Booth"));
    let out = gradscope(&[
        "--headless",
        "scenarios/xor_mlp.yaml",
        "--steps",
        "20",
        "--plot",
        png.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        text(&out.stderr)
    );
    let bytes = std::fs::read(&png).expect("png written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn grad_prints_every_engine_and_the_hessian() {
    let out = gradscope(&["grad", "(1-x)^2 + 100*(y-x^2)^2", "--at", "x=-1.5,y=2"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("value = 1.25000000000000000e1"), "{stdout}");
    assert!(stdout.contains("-1.5500000000000000e2"), "{stdout}");
    assert!(stdout.contains("forward vs reverse  0.000e0"), "{stdout}");
    assert!(stdout.contains("condition number"), "{stdout}");
}

/// An infinite slope (`sqrt` at 0) stays in its own row, and the differences count a row where
/// finite differences fail (`NaN` against `inf`) instead of skipping it.
#[test]
fn grad_at_an_infinite_slope_reports_it_without_hiding_disagreement() {
    let out = gradscope(&["grad", "x + sqrt(y)", "--at", "x=1,y=0"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let row = |name: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row {name} in {stdout}"));
        line.split_whitespace().skip(1).map(str::to_owned).collect()
    };
    assert_eq!(row("x"), ["1.0000000000000000e0"; 3], "{stdout}");
    assert_eq!(row("y"), ["inf", "inf", "NaN"], "{stdout}");
    assert!(stdout.contains("forward vs reverse  0.000e0"), "{stdout}");
    assert!(stdout.contains("forward vs finite   inf"), "{stdout}");
}

#[test]
fn grad_json_has_the_documented_fields() {
    let out = gradscope(&["grad", "x*y + sin(x)", "--at", "x=0.5,y=-2", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["vars"], serde_json::json!(["x", "y"]));
    let x: f64 = 0.5;
    assert_eq!(json["value"].as_f64(), Some(x * -2.0 + x.sin()));
    assert_eq!(
        json["gradient"]["forward"][0].as_f64(),
        Some(-2.0 + x.cos())
    );
    assert_eq!(
        json["gradient"]["reverse"][0].as_f64(),
        Some(-2.0 + x.cos())
    );
    assert!((json["gradient"]["finite"][1].as_f64().expect("number") - 0.5).abs() < 1e-8);
    assert_eq!(json["hessian"][0][1].as_f64(), Some(1.0));
    assert_eq!(json["eigenvalues"].as_array().map(Vec::len), Some(2));
}

#[test]
fn grad_bad_input_exits_2_with_a_message() {
    let out = gradscope(&["grad", "x + y", "--at", "x=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("variable y not given with --at"),
        "{}",
        text(&out.stderr)
    );
    let out = gradscope(&["grad", "sinn(x)", "--at", "x=1"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains('^') && stderr.contains("sin"), "{stderr}");
    let out = gradscope(&["grad", "x^2", "--at", "x=abc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad --at entry 'x=abc'"));
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    // Several scenarios with several runs each (seven optimizers on Rosenbrock, MLPs on
    // minibatches), in every format: one thread steps them round-robin, more threads side by
    // side, and the report must not tell which.
    let scenarios = [
        "scenarios/rosenbrock.yaml",
        "scenarios/two_moons_mlp.yaml",
        "scenarios/softmax_blobs.yaml",
        "scenarios/rastrigin_gradient_free.yaml",
    ];
    for format in ["table", "json", "csv"] {
        let run = |threads: &str| {
            let mut args = vec!["--headless"];
            args.extend(scenarios);
            args.extend(["--format", format, "--no-timing", "--threads", threads]);
            gradscope(&args)
        };
        let one = run("1");
        assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
        assert!(one.stdout.len() > 200, "{}", text(&one.stdout));
        for threads in ["2", "3"] {
            let many = run(threads);
            assert_eq!(many.status.code(), Some(0), "{}", text(&many.stderr));
            assert_eq!(
                text(&one.stdout),
                text(&many.stdout),
                "{format} with {threads} threads"
            );
        }
    }
    let zero = gradscope(&["--headless", "scenarios/booth.yaml", "--threads", "0"]);
    assert_eq!(zero.status.code(), Some(2), "{}", text(&zero.stderr));
}

/// Gradient passes are counted per run with each run's own engine: forward ceil(n/chunk) a
/// gradient, reverse 1, finite 2n, and Newton's Hessians at n(n+1)/2 passes each.
#[test]
fn gradient_passes_are_counted_per_engine() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("engines.yaml");
    std::fs::write(
        &file,
        "name: engines\nobjective:\n  expr: \"(x-1)^2 + (y+2)^2 + (z-3)^2\"\n  start: {x: 0, y: 0, z: 0}\n\
         optimizers:\n  - {name: adam, label: fwd, engine: {kind: forward, chunk: 2}}\n\
         \x20 - {name: adam, label: rev, engine: reverse}\n  - {name: adam, label: fd, engine: finite}\n\
         \x20 - {name: newton, label: newton}\nstop:\n  max_steps: 5\n",
    )?;
    let path = file.to_string_lossy().into_owned();
    let out = gradscope(&["--headless", &path, "--format", "json", "--no-timing"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let runs = json
        .pointer("/0/runs")
        .or_else(|| json.pointer("/runs"))
        .and_then(|r| r.as_array())
        .ok_or("no runs in the report")?;
    let field = |label: &str, key: &str| -> Option<u64> {
        let run = runs.iter().find(|r| r["label"] == label)?;
        run.pointer(key)?.as_u64()
    };
    for (label, per_gradient) in [("fwd", 2), ("rev", 1), ("fd", 6)] {
        let gradients = field(label, "/evaluations/gradient").ok_or(label)?;
        assert!(gradients > 0, "{label}");
        assert_eq!(
            field(label, "/gradient_passes"),
            Some(gradients * per_gradient),
            "{label}"
        );
    }
    let hessians = field("newton", "/evaluations/hessian").ok_or("newton")?;
    let gradients = field("newton", "/evaluations/gradient").ok_or("newton")?;
    assert!(hessians > 0);
    assert_eq!(
        field("newton", "/gradient_passes"),
        Some(hessians * 6 + gradients),
        "a Hessian of 3 variables costs 3·4/2 = 6 passes"
    );
    // The table shows the same column.
    let out = gradscope(&["--headless", &path, "--no-timing"]);
    assert!(
        text(&out.stdout).contains("passes"),
        "{}",
        text(&out.stdout)
    );
    Ok(())
}

/// Bundled scenarios open by name and are listed from a directory without `scenarios/`.
#[test]
fn bundled_scenarios_work_from_any_directory() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gradscope"))
            .args(args)
            .current_dir(dir.path())
            .output()
    };
    let out = run(&["--headless", "booth", "--no-timing"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("scenario: Booth"),
        "{}",
        text(&out.stdout)
    );
    // A bundled scenario that reads a bundled data file (scenarios/data/) finds it too.
    // Its expectations hold too: the whole table was read.
    let out = run(&["--headless", "breast_cancer", "--no-timing"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("scenario: Breast cancer (real data)"),
        "{}",
        text(&out.stdout)
    );
    // A data file on disk still wins over the bundled one: a copy with a changed first row is
    // read from the temporary folder, so the loss differs.
    let bundled_report = text(&out.stdout);
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/data/breast_cancer.csv"
    ))?;
    std::fs::create_dir(dir.path().join("data"))?;
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    lines.truncate(200);
    std::fs::write(
        dir.path().join("data/breast_cancer.csv"),
        lines.join("\n") + "\n",
    )?;
    let out = run(&["--headless", "breast_cancer", "--no-timing"])?;
    // Exit 1 would be expectations missed on the smaller table; 2 a file not read.
    assert_ne!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("scenario: Breast cancer (real data)"));
    assert_ne!(text(&out.stdout), bundled_report);
    let out = run(&["list"])?;
    let listed = text(&out.stdout);
    for name in ["two_moons_mlp", "rosenbrock", "forward_vs_reverse"] {
        assert!(listed.contains(name), "{listed}");
    }
    Ok(())
}
