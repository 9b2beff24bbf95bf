//! Back-propagation on the command line: `gradscope grad --json` reports every let-bound
//! intermediate's value and adjoint and the tape, `--trace` prints the sweep step by step,
//! `--dot` writes a graph (and is refused where an output would be), and the headless report
//! of a layered model carries per-layer gradient-flow figures.

use crate::{gradscope, text};

const NET: &str = "z1 = 0.5*w1 - w2 + b1\nh1 = tanh(z1)\nz2 = 2*w3 + h1*w4\nh2 = sigmoid(z2)\nout = v1*h1 + v2*h2 + c\n(out - 1)^2";
const AT: &str = "w1=0.3,w2=-0.2,b1=0.1,w3=0.5,w4=-0.4,v1=0.7,v2=0.6,c=-0.1";

fn json(args: &[&str]) -> serde_json::Value {
    let out = gradscope(args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

/// `d f / d h` for every let name `h`, checked against central differences of `f` with `h`
/// perturbed: computed here by substituting `h`'s value plus or minus a step into the rest of
/// the expression, a computation independent of the program's.
#[test]
fn grad_json_reports_each_intermediates_value_and_adjoint() {
    let report = json(&["grad", NET, "--at", AT, "--json", "--no-hessian"]);
    let inter = report["intermediates"].as_object().expect("an object");
    let names: Vec<&str> = inter.keys().map(String::as_str).collect();
    assert_eq!(names, ["h1", "h2", "out", "z1", "z2"]);
    let point: std::collections::HashMap<&str, f64> = AT
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("k=v");
            (k, v.parse().expect("number"))
        })
        .collect();
    let p = |k: &str| point[k];
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    // The network by hand, each stage a function of the one before, so that any one
    // intermediate can be replaced.
    let z1 = 0.5 * p("w1") - p("w2") + p("b1");
    let from_z1 = |z1: f64| z1.tanh();
    let from_h1 = |h1: f64| 2.0 * p("w3") + h1 * p("w4");
    let from_z2 = |z2: f64| sigmoid(z2);
    let from_h2 = |h1: f64, h2: f64| p("v1") * h1 + p("v2") * h2 + p("c");
    let from_out = |out: f64| (out - 1.0).powi(2);
    let h1 = from_z1(z1);
    let z2 = from_h1(h1);
    let h2 = from_z2(z2);
    let out = from_h2(h1, h2);
    let f_of = |name: &str, v: f64| -> f64 {
        match name {
            "z1" => {
                let h1 = from_z1(v);
                from_out(from_h2(h1, from_z2(from_h1(h1))))
            }
            "h1" => from_out(from_h2(v, from_z2(from_h1(v)))),
            "z2" => from_out(from_h2(h1, from_z2(v))),
            "h2" => from_out(from_h2(h1, v)),
            _ => from_out(v),
        }
    };
    let values = [("z1", z1), ("h1", h1), ("z2", z2), ("h2", h2), ("out", out)];
    for (name, v) in values {
        let got = &inter[name];
        let value = got["value"].as_f64().expect("value");
        assert!((value - v).abs() < 1e-14, "{name}: {value} vs {v}");
        let h = 1e-6;
        let fd = (f_of(name, v + h) - f_of(name, v - h)) / (2.0 * h);
        let adjoint = got["adjoint"].as_f64().expect("adjoint");
        assert!(
            (adjoint - fd).abs() < 1e-7,
            "{name}: adjoint {adjoint} vs {fd}"
        );
    }
    // The tape: every node with its op, inputs, partials and constants; the inputs first.
    let tape = report["tape"].as_array().expect("tape rows");
    assert_eq!(tape[0]["op"], "input");
    let mul = tape
        .iter()
        .find(|r| r["expression"] == "0.5·w1")
        .expect("the scaled input is one row");
    assert_eq!(mul["constants"], serde_json::json!([0.5]));
    assert_eq!(mul["partials"], serde_json::json!([0.5]));
    let last = tape.last().expect("rows");
    assert_eq!(last["adjoint"], 1.0);
}

#[test]
fn grad_trace_prints_one_chain_rule_step_a_line() {
    let out = gradscope(&[
        "grad",
        "r = y - x^2\n(1 - x)^2 + 100 * r^2",
        "--at",
        "x=-1.5,y=2",
        "--trace",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "    1  forward   t2 = x^2 = (-1.5)^2 = 2.25",
        "    8  seed      ā[f] = 1",
        "   12  backward  ā[r] += ā[t6] · ∂t6/∂r = 100 × (-0.5) = -50  (ā[r] is now -50)",
        "   17  backward  ā[x] += ā[t2] · ∂t2/∂x = 50 × (-3) = -150  (ā[x] is now -155)",
        "       result    ∇f = (ā[y], ā[x]) = (-50, -155)",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    let out = gradscope(&["grad", "x^2", "--at", "x=1", "--trace", "--json"]);
    assert_eq!(out.status.code(), Some(2), "--trace and --json conflict");
}

#[test]
fn grad_dot_writes_a_graph_and_refuses_bad_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("g.dot");
    let shown = path.to_string_lossy().into_owned();
    let out = gradscope(&[
        "grad",
        "x * sin(y) + x",
        "--at",
        "x=2,y=0.5",
        "--dot",
        &shown,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dot = std::fs::read_to_string(&path).expect("written");
    assert!(dot.starts_with("digraph gradscope {") && dot.trim_end().ends_with('}'));
    // Two inputs, sin, the product, the sum; one edge per local partial.
    assert_eq!(dot.matches(" [label=\"{ ").count(), 5, "{dot}");
    assert_eq!(dot.matches(" -> ").count(), 5, "{dot}");
    assert!(dot.contains("grad 1.479"), "d/dx = sin(0.5) + 1: {dot}");
    let bad = dir.path().join("g.svg");
    let out = gradscope(&["grad", "x", "--at", "x=1", "--dot", &bad.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--dot"), "{}", text(&out.stderr));
    assert!(!bad.exists());
    let missing = dir.path().join("nowhere").join("g.dot");
    let out = gradscope(&[
        "grad",
        "x",
        "--at",
        "x=1",
        "--dot",
        &missing.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs `scenario` headless for `steps` steps and returns its JSON report (cut short, its
/// expectations may fail: exit code 1).
fn headless(scenario: &str, steps: &str) -> serde_json::Value {
    let args = [
        "--headless",
        "--format",
        "json",
        "--no-timing",
        "--steps",
        steps,
        scenario,
    ];
    let out = gradscope(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

/// An MLP run's report carries one gradient-flow entry per weight layer; its update ratio is
/// `‖W₅ − W₄‖ / ‖W₄‖`, recomputed here from the final parameters of a 4-step and a 5-step run
/// of the same seeded scenario. Other objectives get no `layers` key.
#[test]
fn headless_mlp_reports_carry_per_layer_gradient_flow() {
    let four = headless("scenarios/xor_mlp.yaml", "4");
    let five = headless("scenarios/xor_mlp.yaml", "5");
    let run = &five["runs"][0];
    let layers = run["layers"].as_array().expect("an MLP run has layers");
    let units: Vec<u64> = layers
        .iter()
        .map(|l| l["units"].as_u64().unwrap())
        .collect();
    assert_eq!(units, [8, 8, 1], "layers 2-8-8-1");
    for l in layers {
        for key in ["weight_grad_norm", "delta_norm", "saturated_fraction"] {
            let v = l[key].as_f64().expect(key);
            assert!(v.is_finite() && v >= 0.0, "{key} = {v}");
        }
        assert!(l["saturated_fraction"].as_f64().unwrap() <= 1.0);
    }
    let params = |r: &serde_json::Value| -> Vec<f64> {
        r["final_params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (before, after) = (params(&four["runs"][0]), params(run));
    // W1 (8x2) is the first block; W2 (8x8) follows b1 (8).
    for (layer, range) in [(0, 0..16), (1, 24..88)] {
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let delta: Vec<f64> = before[range.clone()]
            .iter()
            .zip(&after[range.clone()])
            .map(|(a, b)| b - a)
            .collect();
        let want = norm(&delta) / norm(&before[range]);
        let got = layers[layer]["update_ratio"]
            .as_f64()
            .expect("after a step");
        assert!(
            (got - want).abs() <= 1e-12 * want,
            "layer {layer}: {got} vs {want}"
        );
    }
    let rosenbrock = headless("scenarios/rosenbrock.yaml", "3");
    for run in rosenbrock["runs"].as_array().expect("runs") {
        assert!(run.get("layers").is_none(), "no layers for an expression");
    }
}

/// One SGD step (lr 0.5) on the back-propagation-by-hand scenario gives the weights the
/// classic walk-through publishes (Mazur, "A Step by Step Backpropagation Example").
#[test]
fn backprop_by_hand_takes_the_published_first_step() {
    let report = headless("scenarios/backprop_by_hand.yaml", "1");
    let sgd = &report["runs"][0];
    assert_eq!(sgd["label"], "sgd");
    let published = [
        0.149780716,
        0.19956143,
        0.24975114,
        0.29950229,
        0.35891648,
        0.408666186,
        0.511301270,
        0.561370121,
    ];
    let got = sgd["final_params"].as_array().expect("params");
    assert_eq!(got.len(), 8);
    for (k, (g, p)) in got.iter().zip(published).enumerate() {
        let g = g.as_f64().expect("number");
        assert!((g - p).abs() < 1e-8, "w{}: {g} vs {p}", k + 1);
    }
}

/// The vanishing-gradient scenario shows what its description says: at the start the error
/// signal reaching the first sigmoid layer is under 1e-4 of the output's, while with tanh and
/// Xavier initialisation at the same depth it stays within a factor of ten.
#[test]
fn the_vanishing_gradient_scenarios_show_the_difference() {
    let ratio = |file: &str| {
        let report = headless(file, "1");
        let layers = report["runs"][0]["layers"]
            .as_array()
            .expect("layers")
            .clone();
        let delta = |l: &serde_json::Value| l["delta_norm"].as_f64().expect("delta_norm");
        let (first, last) = (&layers[0], &layers[layers.len() - 1]);
        // Shrinking from each layer to the one before it, all the way down.
        let monotone = layers.windows(2).all(|w| delta(&w[0]) < delta(&w[1]));
        (delta(first) / delta(last), monotone)
    };
    let (sigmoid, shrinks) = ratio("scenarios/vanishing_gradients.yaml");
    assert!(sigmoid < 1e-4 && shrinks, "sigmoid: |δ1|/|δL| = {sigmoid}");
    let (tanh, _) = ratio("scenarios/vanishing_gradients_tanh.yaml");
    assert!(tanh > 0.1, "tanh + Xavier: |δ1|/|δL| = {tanh}");
}
