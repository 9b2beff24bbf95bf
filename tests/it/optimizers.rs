//! The torch.optim optimizers that need more than numbers and pairs, through the real binary:
//! `null` inside a tuple, triples and named options in scenario files and reports, located
//! errors for a bad option, and `sparse_adam`'s reason for not being offered.

use crate::{gradscope, text};

/// Writes `yaml` to a temporary scenario file and runs it headless with `args`.
fn run_scenario(yaml: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, yaml).expect("written");
    let path = path.to_string_lossy().into_owned();
    let mut all = vec!["--headless", path.as_str(), "--no-timing"];
    all.extend_from_slice(args);
    let out = gradscope(&all);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

const MLP: &str = "objective:
  model: {kind: mlp, layers: [2, 4, 3, 1], activation: tanh}
  loss: bce_logits
  data: {kind: moons, n: 40, noise: 0.1}
stop: {max_steps: 5}
";

#[test]
fn tuples_with_none_triples_and_names_reach_the_runs_and_the_report() {
    let yaml = format!(
        "{MLP}optimizers:
  - name: adafactor
    eps: [null, 0.002]
    beta2_decay: -0.5
  - name: muon
    ns_coefficients: [3.0, -3.2, 1.2]
    adjust_lr_fn: match_rms_adamw
    ns_dtype: float64
    adamw_betas: [0.8, 0.99]
  - name: asgd
    t0: 2
"
    );
    let (code, stdout, stderr) = run_scenario(&yaml, &["--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON report");
    let hyper = |run: usize, name: &str| report["runs"][run]["hyperparameters"][name].clone();
    assert_eq!(hyper(0, "eps"), serde_json::json!([null, 0.002]));
    assert_eq!(
        hyper(1, "ns_coefficients"),
        serde_json::json!([3.0, -3.2, 1.2])
    );
    assert_eq!(
        hyper(1, "adjust_lr_fn"),
        serde_json::json!("match_rms_adamw")
    );
    assert_eq!(hyper(1, "ns_dtype"), serde_json::json!("float64"));
    assert_eq!(hyper(2, "t0"), serde_json::json!(2.0));
    for run in 0..3 {
        assert_eq!(report["runs"][run]["steps"], 5, "{stdout}");
    }
}

#[test]
fn a_misspelt_option_is_located_and_suggested() {
    let yaml = format!("{MLP}optimizers:\n  - name: muon\n    adjust_lr_fn: match_rms_adam\n");
    let (code, stdout, stderr) = run_scenario(&yaml, &[]);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stderr.contains("'adjust_lr_fn' of 'muon' got 'match_rms_adam'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean 'match_rms_adamw'?"),
        "{stderr}"
    );
    assert!(stderr.contains("scenario.yaml:8:19"), "{stderr}");
}

#[test]
fn none_only_fits_where_torch_takes_it() {
    for (line, want) in [
        (
            "    ns_coefficients: [null, 1.0, 2.0]",
            "'ns_coefficients' of 'muon' got a list",
        ),
        ("    adamw_betas: [null, 0.99]", "got '(None, 0.99)'"),
        (
            "    ns_coefficients: [1.0, 2.0]",
            "expected three numbers, each finite",
        ),
    ] {
        let yaml = format!("{MLP}optimizers:\n  - name: muon\n{line}\n");
        let (code, _, stderr) = run_scenario(&yaml, &[]);
        assert_eq!(code, Some(2), "{line}: {stderr}");
        assert!(stderr.contains(want), "{line}: {stderr}");
        assert!(stderr.contains("scenario.yaml:8:"), "{line}: {stderr}");
    }
    let yaml = format!("{MLP}optimizers:\n  - name: adafactor\n    eps: [null, -1]\n");
    let (code, _, stderr) = run_scenario(&yaml, &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("the first None or >= 0 and the second >= 0"),
        "{stderr}"
    );
}

#[test]
fn sparse_adam_says_why_it_is_not_offered() {
    let yaml = format!("{MLP}optimizers:\n  - name: adam\n  - name: sparse_adam\n");
    let (code, _, stderr) = run_scenario(&yaml, &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("optimizer 'sparse_adam' is not offered: torch.optim.SparseAdam"),
        "{stderr}"
    );
    assert!(stderr.contains("sparse gradients"), "{stderr}");
    assert!(!stderr.contains("unknown optimizer"), "{stderr}");
    assert!(stderr.contains("scenario.yaml:8:11"), "{stderr}");
    let list = gradscope(&["list"]);
    let listing = text(&list.stdout);
    for name in ["adafactor ", "asgd ", "muon "] {
        assert!(
            listing.lines().any(|l| l.starts_with(name)),
            "{name}\n{listing}"
        );
    }
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("sparse_adam") && l.contains("not offered")),
        "{listing}"
    );
}

/// Prodigy's distance estimate `d` and step size `dlr` as the run records them step by step and
/// the JSON report samples them, against the authors' `prodigyopt` on Rosenbrock (the fixture
/// of the optimizer's own test, which records both after every step).
#[test]
fn prodigy_d_over_time_is_reported_and_matches_prodigyopt() {
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "../fixtures/optim/modern/prodigy__rosenbrock.json"
    ))
    .expect("the fixture parses");
    assert_eq!(fixture["function"], "rosenbrock");
    let hypers: String = fixture["hyperparameters"]
        .as_object()
        .expect("a mapping")
        .iter()
        .map(|(k, v)| format!("    {k}: {v}\n"))
        .collect();
    let steps = fixture["params"].as_array().expect("a list").len();
    let yaml = format!(
        "objective:\n  expr: \"(1 - x)^2 + 100*(y - x^2)^2\"\n  start: [-1.2, 1.0]\n\
         optimizers:\n  - name: prodigy\n{hypers}stop: {{max_steps: {steps}}}\n"
    );
    let (code, stdout, stderr) = run_scenario(&yaml, &["--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON report");
    for name in ["d", "dlr"] {
        let want: Vec<f64> = fixture["state"][name]
            .as_array()
            .expect("recorded per step")
            .iter()
            .filter_map(serde_json::Value::as_f64)
            .collect();
        assert_eq!(want.len(), steps);
        let traced = &report["runs"][0]["traced"][name];
        let series = traced["series"].as_array().expect("a sampled series");
        // every step's point is in the history; the report keeps 50, first and last included
        assert_eq!(series.len(), 50, "{traced}");
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-10 * want.abs();
        let mut last_step = 0;
        for pair in series {
            let step = pair[0].as_u64().expect("a step");
            let got = pair[1].as_f64().expect("a value");
            assert!(step > last_step, "{traced}");
            last_step = step;
            let w = want[usize::try_from(step).expect("small") - 1];
            assert!(
                close(got, w),
                "{name} at step {step}: {got} but prodigyopt {w}"
            );
        }
        assert_eq!(last_step, steps as u64);
        let last = traced["final"].as_f64().expect("a final value");
        assert!(close(last, want[steps - 1]), "{name}: {last}");
    }
    // d grew from d0 by orders of magnitude: the series shows the estimate at work
    let d = &report["runs"][0]["traced"]["d"]["series"];
    let first = d[0][1].as_f64().unwrap_or(f64::NAN);
    let last = d[49][1].as_f64().unwrap_or(f64::NAN);
    assert!(last > 100.0 * first, "{first} → {last}");
}
