//! Loading scenarios: the bundled files, and two large generated ones (5,000 optimizer entries;
//! an inline dataset of 20,000 rows), from text to a checked `Scenario` (syntax, located tree,
//! decoding, registry and expression checks, resource estimate). Nothing is built or run.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gradscope::scenario;

fn bundled() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&p).expect("readable"))
        })
        .collect()
}

/// 5,000 runs of sgd, one a line.
fn many_runs() -> String {
    let mut src = String::from("objective:\n  expr: \"x^2 + y^2\"\n  start: [1, 2]\noptimizers:\n");
    for i in 0..5000 {
        src.push_str(&format!(
            "  - {{name: sgd, lr: {}, momentum: 0.9}}\n",
            0.001 * f64::from(i + 1)
        ));
    }
    src
}

/// A linear model on 20,000 inline rows of two features and a target.
fn many_rows() -> String {
    let mut src = String::from(
        "objective:\n  model: {kind: linear}\n  loss: mse\n  data:\n    kind: inline\n    rows:\n",
    );
    for i in 0..20_000 {
        let x = f64::from(i) * 1e-3;
        src.push_str(&format!("      - [{x}, {}, {}]\n", x * 0.5, 2.0 * x + 1.0));
    }
    src.push_str("optimizers: [adam]\n");
    src
}

/// Loads as the application does: every check against the real registry.
fn check(src: &str, name: &str) -> Result<scenario::Scenario, scenario::ScenarioErrors> {
    scenario::load_str(src, name)
}

fn load(c: &mut Criterion) {
    let files = bundled();
    let mut group = c.benchmark_group("load");
    group.bench_function("bundled_all", |b| {
        b.iter(|| {
            for (name, src) in &files {
                black_box(check(black_box(src), name).expect("valid"));
            }
        });
    });
    let runs = many_runs();
    group.bench_function("5000_runs", |b| {
        b.iter(|| black_box(check(black_box(&runs), "runs.yaml").expect("valid")));
    });
    let rows = many_rows();
    group.bench_function("20000_rows", |b| {
        b.iter(|| black_box(check(black_box(&rows), "rows.yaml").expect("valid")));
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
