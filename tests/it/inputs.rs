//! The real binary against inputs that must be refused without being read, built or waited for
//! (devices, FIFOs, folders, files over the size limit, nesting a parser would take minutes
//! on, resource requests the machine cannot hold), and against good input that used to be
//! refused (multi-class CSV and inline data, whole numbers written as floats).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary from the crate root; a run that has not ended after a minute (a read that
/// blocks on a FIFO, say) is killed and fails the test instead of hanging it.
fn gradscope(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Drained while the child runs, so a long message cannot fill a pipe and stall it.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                p.read_to_end(&mut bytes).expect("readable pipe");
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            return Output {
                status,
                stdout: stdout.join().expect("stdout reader"),
                stderr: stderr.join().expect("stderr reader"),
            };
        }
        if Instant::now() > deadline {
            child.kill().expect("killable");
            panic!("gradscope {args:?} did not end: it is waiting on its input");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts exit 2, no output, no panic, and every fragment in the message.
fn refused(out: &Output, fragments: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(!stderr.contains("panicked"), "{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "no '{f}' in\n{stderr}");
    }
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "mkfifo (coreutils) is needed"
    );
}

/// A file of `len` bytes that takes no disk space.
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(len))
        .expect("sparse file");
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn scenario_files_that_are_not_plain_files_are_refused_unread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("scenario.yaml");
    mkfifo(&fifo);
    let big = dir.path().join("big.yaml");
    sparse(&big, 17 << 20);
    let cases: [(&str, &[&str]); 5] = [
        (
            "/dev/zero",
            &["cannot read '/dev/zero': not a regular file (it is a character device)"],
        ),
        ("/dev/urandom", &["it is a character device"]),
        (
            utf8(dir.path()),
            &["not a regular file (it is a directory)"],
        ),
        // Opening a FIFO nobody writes to would block forever.
        (
            utf8(&fifo),
            &["not a regular file (it is a FIFO (named pipe))"],
        ),
        (
            utf8(&big),
            &["the file is 17 MiB but at most 16 MiB is read (--allow-large reads larger files)"],
        ),
    ];
    for (path, fragments) in cases {
        let out = gradscope(&["--headless", path]);
        refused(&out, fragments);
        assert!(text(&out.stderr).contains(&format!("--> {path}:1:1")));
    }
}

#[test]
fn data_and_init_files_that_are_not_plain_files_are_refused_at_their_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    mkfifo(&dir.path().join("pipe.csv"));
    sparse(&dir.path().join("huge.csv"), 300 << 20);
    mkfifo(&dir.path().join("params.csv"));
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("write scenario");
        path
    };
    let csv = |file: &str| {
        format!(
            "objective:\n  model: {{kind: logistic}}\n  loss: bce_logits\n  data: {{kind: csv, \
             path: {file}, features: [a, b], target: y}}\noptimizers: [adam]\n"
        )
    };
    let fifo = write("fifo.yaml", &csv("pipe.csv"));
    let out = gradscope(&["--headless", utf8(&fifo)]);
    refused(
        &out,
        &["pipe.csv': not a regular file (it is a FIFO (named pipe))"],
    );
    assert!(
        text(&out.stderr).contains("fifo.yaml:4:27"),
        "{}",
        text(&out.stderr)
    );

    let huge = write("huge.yaml", &csv("huge.csv"));
    let out = gradscope(&["--headless", utf8(&huge)]);
    refused(
        &out,
        &["the file is 300 MiB but at most 256 MiB is read (--allow-large reads larger files)"],
    );
    assert!(text(&out.stderr).contains("huge.yaml:4:27"));

    let init = write(
        "init.yaml",
        "objective:\n  model: {kind: logistic}\n  loss: bce_logits\n  data: {kind: moons}\n  \
         init: {file: params.csv}\noptimizers: [adam]\n",
    );
    let out = gradscope(&["--headless", utf8(&init)]);
    refused(&out, &["params.csv': not a regular file (it is a FIFO"]);
    assert!(text(&out.stderr).contains("init.yaml:5:16"));
}

#[test]
fn allow_large_lifts_the_limit_to_the_machine_but_not_beyond() {
    let fixture = "tests/scenarios/invalid/43_resource_wide_mlp.yaml";
    let out = gradscope(&["--headless", fixture]);
    refused(&out, &["the limit is half of", "--allow-large raises it"]);
    // 7 PiB fits no machine: with the flag the limit is all of it, and still too small.
    let out = gradscope(&["--headless", fixture, "--allow-large"]);
    refused(
        &out,
        &[
            "not enough memory: this scenario needs about 7.2 PiB",
            "the limit is this machine's memory",
        ],
    );
    assert!(!text(&out.stderr).contains("half of"));
    // The per-step work limit is lifted entirely.
    assert!(
        !text(&out.stderr).contains("operations"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_hundred_thousand_nested_brackets_are_refused_at_the_first_level_too_deep() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("deep.yaml");
    std::fs::write(&path, format!("objective: {}\n", "[".repeat(100_000))).expect("write");
    let out = gradscope(&["--headless", utf8(&path)]);
    refused(
        &out,
        &["the document nests lists and mappings more than 20 deep here"],
    );
    // The 21st bracket, not the end of the file where a parser would give up.
    assert!(
        text(&out.stderr).contains("deep.yaml:1:32"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs a valid fixture headless and returns its JSON report.
fn report(fixture: &str) -> serde_json::Value {
    let path = format!("tests/scenarios/valid/{fixture}.yaml");
    let out = gradscope(&["--headless", &path, "--format", "json", "--no-timing"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{fixture}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn multi_class_csv_and_inline_data_train_end_to_end() {
    for fixture in ["iris_csv", "csv_three_classes", "inline_three_classes"] {
        let json = report(fixture);
        let run = &json["runs"][0];
        let accuracy = run["accuracy"]
            .as_f64()
            .expect("a classifier reports accuracy");
        assert!(accuracy > 0.9, "{fixture}: accuracy {accuracy}");
        assert_eq!(json["expectations"][0]["passed"], true, "{fixture}: {json}");
    }
}

#[test]
fn whole_numbers_written_as_floats_are_whole_numbers() {
    let json = report("whole_float_integers");
    assert_eq!(json["runs"][0]["steps"], 100, "{json}");
}

#[test]
fn three_class_labels_beyond_the_model_name_the_valid_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("four.csv");
    std::fs::write(&data, "a,b,y\n0,0,0\n1,1,1\n2,2,2\n3,3,3\n").expect("write csv");
    let scenario = dir.path().join("four.yaml");
    std::fs::write(
        &scenario,
        "objective:\n  model: {kind: softmax, classes: 3}\n  loss: cross_entropy\n  data: {kind: \
         csv, path: four.csv, features: [a, b], target: y}\noptimizers: [adam]\n",
    )
    .expect("write scenario");
    let out = gradscope(&["--headless", utf8(&scenario)]);
    refused(
        &out,
        &[
            "four.csv:5:3: target '3' in column 'y' is not valid for 3-class classification \
             (labels 0, 1 or 2)",
        ],
    );
}

/// `max_steps` at the top of its range is a valid request: the runs stop on another condition,
/// and nothing that counts steps overflows on the way.
#[test]
fn the_largest_max_steps_runs_until_another_stop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("long.yaml");
    std::fs::write(
        &path,
        "objective: {expr: \"x^2\", start: [1]}\noptimizers:\n  - {name: gd, lr: 0.4}\n  - \
         {name: sgd, lr: 0.4}\nstop: {max_steps: 18446744073709551615, loss_below: 1e-6}\n",
    )
    .expect("write scenario");
    let out = gradscope(&["--headless", utf8(&path), "--format", "json", "--no-timing"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    for run in json["runs"].as_array().expect("runs") {
        assert_eq!(run["status"], "converged", "{run}");
    }
}
