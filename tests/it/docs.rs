//! Every YAML example in `docs/scenarios.md` loads and builds: a documented key the loader
//! refuses, or a documented value it cannot honour, fails here. Examples that show one key
//! (a `model:` line, a `schedule:` line, ...) are placed in a small scenario around them.

use std::path::Path;

use gradscope::scenario::{Overrides, load_and_build};

const DOCS: &str = include_str!("../../docs/scenarios.md");

/// The fenced ```yaml blocks of the document, in order.
fn yaml_blocks(doc: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```yaml") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// A block split into its top-level entries: a line at column 0 and the indented lines under it.
fn entries(block: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in block.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            out.push(String::new());
        }
        if let Some(last) = out.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    out
}

const EXPR: &str = "objective:\n  expr: \"(1-x)^2 + 100*(y-x^2)^2\"\n  start: {x: -1.5, y: 2}\n  \
                    minimum: [1, 1]\n";
const RUN: &str = "optimizers: [adam]\nstop: {max_steps: 3}\n";

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}\n")).collect()
}

/// The data a documented model trains on, and its loss.
fn data_for_model(model: &str) -> &'static str {
    match () {
        () if model.contains("mlp") || model.contains("softmax") => {
            "  loss: cross_entropy\n  data: {kind: spirals, n: 60, classes: 3}\n"
        }
        () if model.contains("logistic") => "  loss: bce_logits\n  data: {kind: moons, n: 60}\n",
        () if model.contains("custom") => "  loss: mse\n  data: {kind: sine, n: 60}\n",
        () => "  loss: mse\n  data: {kind: linear, n: 60}\n",
    }
}

/// The model and loss a documented dataset is fitted with.
fn model_for_data(data: &str) -> &'static str {
    match () {
        () if data.contains("spirals") => {
            "  model: {kind: softmax, classes: 3}\n  loss: cross_entropy\n"
        }
        () if data.contains("blobs") => {
            "  model: {kind: softmax, classes: 4}\n  loss: cross_entropy\n"
        }
        () if data.contains("csv") => {
            "  model: {kind: softmax, classes: 3}\n  loss: cross_entropy\n"
        }
        () if data.contains("linear") || data.contains("sine") || data.contains("inline") => {
            "  model: {kind: linear}\n  loss: mse\n"
        }
        () => "  model: {kind: logistic}\n  loss: bce_logits\n",
    }
}

/// An `expect:` example lists every check at once, for objectives of both kinds; each check is
/// tried on its own, a model's checks on a classifier. Other entries stay whole.
fn expectations_apart(entry: &str) -> Vec<String> {
    if !entry.starts_with("expect:") {
        return vec![entry.to_string()];
    }
    let mut lines = entry.lines().skip(1);
    let run = lines.next().unwrap_or("");
    lines
        .map(|check| {
            let expect = format!("expect:\n{run}\n{check}\n");
            if check.contains("accuracy") {
                format!(
                    "objective:\n  model: {{kind: logistic}}\n  loss: bce_logits\n  \
                     data: {{kind: moons, n: 60}}\n{RUN}{expect}"
                )
            } else {
                expect
            }
        })
        .collect()
}

/// A whole scenario around one documented entry.
fn scenario_around(entry: &str) -> String {
    let key = entry.split(':').next().unwrap_or("").trim();
    match key {
        _ if entry.starts_with("objective:") && entry.contains("expect:") => entry.to_string(),
        "name" | "objective" if entry.contains("optimizers:") => entry.to_string(),
        "objective" => format!("{entry}{RUN}"),
        "model" => format!(
            "objective:\n{}{}{RUN}",
            indent(entry, "  "),
            data_for_model(entry)
        ),
        "data" => format!(
            "objective:\n{}{}{RUN}",
            indent(entry, "  "),
            model_for_data(entry)
        ),
        "schedule" | "clip" => format!(
            "{EXPR}optimizers:\n  - name: sgd\n    lr: 0.001\n{}stop: {{max_steps: 3}}\n",
            indent(entry, "    ")
        ),
        // Batch settings need data: those examples run on a small model.
        "optimizers"
            if ["batch_size", "shuffle", "drop_last"]
                .iter()
                .any(|k| entry.contains(k)) =>
        {
            format!(
                "objective:\n  model: {{kind: logistic}}\n  loss: bce_logits\n  \
                 data: {{kind: moons, n: 64}}\n{entry}stop: {{max_steps: 3}}\n"
            )
        }
        "optimizers" => format!("{EXPR}{entry}stop: {{max_steps: 3}}\n"),
        "stop" => format!("{EXPR}optimizers: [adam]\n{entry}"),
        "view" => format!("{EXPR}optimizers: [adam, sgd]\nstop: {{max_steps: 3}}\n{entry}"),
        _ => format!("{EXPR}{RUN}{entry}"),
    }
}

fn check(dir: &Path, i: usize, yaml: &str) -> Result<(), String> {
    let path = dir.join(format!("example_{i}.yaml"));
    std::fs::write(&path, yaml).map_err(|e| e.to_string())?;
    load_and_build(&path, &Overrides::default())
        .map(|_| ())
        .map_err(|e| format!("{e}\n--- the scenario:\n{yaml}"))
}

#[test]
fn every_documented_example_loads_and_builds() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The documented CSV example reads `data/iris.csv` beside the scenario.
    std::fs::create_dir(dir.path().join("data")).expect("data dir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/iris.csv"),
        dir.path().join("data/iris.csv"),
    )
    .expect("iris copied");
    let blocks = yaml_blocks(DOCS);
    assert!(
        blocks.len() >= 10,
        "only {} yaml blocks found",
        blocks.len()
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for block in &blocks {
        let whole = block.starts_with("objective:") || block.starts_with("name:");
        let examples = if whole {
            vec![block.clone()]
        } else {
            entries(block)
                .into_iter()
                .flat_map(|e| expectations_apart(&e))
                .collect()
        };
        for entry in examples {
            checked += 1;
            if let Err(e) = check(dir.path(), checked, &scenario_around(&entry)) {
                failures.push(e);
            }
        }
    }
    assert!(checked >= 30, "only {checked} examples found");
    assert!(
        failures.is_empty(),
        "{} of {checked} documented examples fail:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_wrong_example_would_be_caught() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = scenario_around("view: {levels: 20, trial: 5}\n");
    let e = check(dir.path(), 0, &bad).expect_err("an unknown key fails");
    assert!(e.contains("did you mean 'trail'"), "{e}");
}
