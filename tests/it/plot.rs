//! Exported plots (`--headless ... --plot`): valid SVG and PNG files whatever the losses (NaN
//! and infinite ones included), every landscape view the TUI has (the PCA plane of a model and
//! a classifier's decision boundary), the scenario's `view` keys, and axis labels that read
//! cleanly.

use std::path::Path;

use crate::{gradscope, text};

/// Runs `--headless scenario --plot out` and returns the run's stderr; the run must not crash
/// (exit 0, or 1 for a failed expectation).
fn plot(scenario: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "--headless",
        scenario.to_str().expect("utf-8 path"),
        "--no-timing",
        "--plot",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let run = gradscope(&args);
    let stderr = text(&run.stderr);
    assert!(
        run.status.code().is_some_and(|c| c <= 1),
        "exit {:?}\n{stderr}",
        run.status.code()
    );
    stderr
}

/// The texts of an SVG file, which must parse as XML with an `<svg>` root.
fn svg_texts(path: &Path) -> Vec<String> {
    let body = std::fs::read_to_string(path).expect("svg written");
    let doc = roxmltree::Document::parse(&body).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_owned())
        .collect()
}

/// Width and height of a PNG file, which must carry the PNG signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).expect("png written");
    assert!(bytes.len() > 33, "a PNG has at least a header");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn scenario(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("scenario written");
    path
}

#[test]
fn non_finite_losses_give_valid_files_and_say_what_was_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    // log(x) at x = -1 is NaN everywhere near the start; 1/x at x = 0 is infinite.
    let nan = scenario(
        dir.path(),
        "nan.yaml",
        "name: NaN start\nobjective:\n  expr: \"log(x) + y^2\"\n  start: {x: -1, y: 2}\n\
         optimizers:\n  - name: gd\n  - name: adam\nstop:\n  max_steps: 20\n",
    );
    let inf = scenario(
        dir.path(),
        "inf.yaml",
        "name: Infinite start\nobjective:\n  expr: \"1/x + y^2\"\n  start: {x: 0, y: 1}\n\
         optimizers:\n  - name: gd\nstop:\n  max_steps: 20\n",
    );
    for (file, label) in [(&nan, "NaN start"), (&inf, "Infinite start")] {
        let svg = dir.path().join("p.svg");
        let stderr = plot(file, &svg, &[]);
        assert!(
            stderr.contains(&format!("{label}: no finite loss to plot")),
            "{stderr}"
        );
        let texts = svg_texts(&svg);
        assert!(
            texts.iter().any(|t| t == "no finite loss to plot"),
            "{texts:?}"
        );
        assert!(texts.iter().any(|t| t.contains("non-finite skipped")));
        let png = dir.path().join("p.png");
        plot(file, &png, &[]);
        assert_eq!(png_size(&png), (1200, 450));
    }
}

#[test]
fn a_model_export_shows_its_pca_plane_and_decision_boundary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let svg = dir.path().join("xor.svg");
    plot(
        Path::new("scenarios/xor_mlp.yaml"),
        &svg,
        &["--steps", "20"],
    );
    let texts = svg_texts(&svg);
    let has = |needle: &str| texts.iter().any(|t| t.contains(needle));
    assert!(has("PCA plane (PC1, PC2)"), "{texts:?}");
    assert!(has("decision boundary of"), "{texts:?}");
    assert!(has("p(class 1)"), "{texts:?}");
    // The heatmaps are embedded images, one per landscape panel.
    let body = std::fs::read_to_string(&svg).expect("svg written");
    assert_eq!(body.matches("<image").count(), 2);
    let png = dir.path().join("xor.png");
    plot(
        Path::new("scenarios/xor_mlp.yaml"),
        &png,
        &["--steps", "20"],
    );
    assert_eq!(png_size(&png), (1800, 450));
}

#[test]
fn axis_labels_read_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let svg = dir.path().join("booth.svg");
    plot(Path::new("scenarios/booth.yaml"), &svg, &[]);
    let body = std::fs::read_to_string(&svg).expect("svg written");
    let doc = roxmltree::Document::parse(&body).expect("well-formed");
    let mut numbers = 0;
    for node in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let t = node.text().unwrap_or("").trim();
        if t.parse::<f64>().is_ok() {
            numbers += 1;
            // No float noise (0.0009999999999999998) and no `.0` on whole steps (500.0).
            let digits = t.chars().filter(char::is_ascii_digit).count();
            assert!(digits <= 6 && !t.ends_with(".0"), "tick label {t:?}");
        }
        // Nothing starts left of the picture (labels cut off at the left edge).
        let x: f64 = node
            .attribute("x")
            .and_then(|x| x.parse().ok())
            .unwrap_or(0.0);
        assert!(x >= 0.0, "text {t:?} at x = {x}");
    }
    assert!(numbers > 10, "only {numbers} numeric labels");
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t == "100"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t == "1e-3" || t == "1e-5"),
        "{texts:?}"
    );
}

#[test]
fn the_view_keys_shape_the_export() {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = std::fs::read_to_string("scenarios/booth.yaml").expect("booth exists");
    let with_view = |view: &str| {
        base.replace(
            "view:\n  x_range: [-6, 6]\n  y_range: [-6, 6]\n",
            &format!("view:\n  x_range: [-6, 6]\n  y_range: [-6, 6]\n{view}"),
        )
    };
    let shown = scenario(dir.path(), "shown.yaml", &with_view("  show: [adam]\n"));
    let svg = dir.path().join("shown.svg");
    plot(&shown, &svg, &[]);
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t == "adam"), "{texts:?}");
    for hidden in ["gd", "momentum", "newton"] {
        assert!(
            !texts.iter().any(|t| t == hidden),
            "{hidden} shown: {texts:?}"
        );
    }
    // More contour levels, more contour paths (drawn in the palette's contour grey).
    let contour_paths = |levels: &str| {
        let file = scenario(
            dir.path(),
            "levels.yaml",
            &with_view(&format!("  levels: {levels}\n")),
        );
        let svg = dir.path().join("levels.svg");
        plot(&file, &svg, &[]);
        let body = std::fs::read_to_string(&svg).expect("svg written");
        body.matches("stroke=\"#D7D7D7\"").count()
    };
    let (few, many) = (contour_paths("3"), contour_paths("20"));
    assert!(few > 0 && many > few, "{few} vs {many}");
}
