//! The module layering the architecture promises: the terminal (ratatui, crossterm) only under
//! `src/tui/`, plotters only in the plot exporter, and the landscape core free of both.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder readable") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn terminal_and_plotting_code_stay_in_their_front_ends() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut landscape = 0;
    for path in &files {
        let rel = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy();
        let rel = rel.replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("source readable");
        let in_tui = rel == "tui.rs" || rel.starts_with("tui/");
        for word in ["ratatui::", "crossterm::"] {
            assert!(in_tui || !text.contains(word), "{rel} uses {word}");
        }
        let in_plot = rel == "headless/plot.rs";
        assert!(
            in_plot || !text.contains("plotters::"),
            "{rel} uses plotters"
        );
        if rel == "landscape.rs" || rel.starts_with("landscape/") {
            landscape += 1;
            for word in ["plotters::", "dejavu::", "crate::tui", "crate::headless"] {
                assert!(!text.contains(word), "{rel} mentions {word}");
            }
        }
    }
    assert!(landscape > 5, "the landscape module was not found");
}
