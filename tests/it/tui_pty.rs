//! End to end: the real binary in a pseudo-terminal (portable-pty), its output parsed by vt100.
//! Presses keys as a user would and checks the screen after each, then that the terminal was
//! restored (alternate screen left, cursor shown) and the process exited 0. Every wait has a
//! deadline and the whole test is bounded, so a hung TUI fails instead of hanging CI.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 40;
const COLS: u16 = 120;
const OVERALL: Duration = Duration::from_secs(20);

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Screen {
    parser: vt100::Parser,
    rx: mpsc::Receiver<Vec<u8>>,
    started: Instant,
    /// Everything the program wrote, for the "before the TUI" guard.
    raw: Vec<u8>,
}

impl Screen {
    fn pump(&mut self, wait: Duration) {
        if let Ok(bytes) = self.rx.recv_timeout(wait) {
            self.raw.extend_from_slice(&bytes);
            self.parser.process(&bytes);
        }
        while let Ok(bytes) = self.rx.try_recv() {
            self.raw.extend_from_slice(&bytes);
            self.parser.process(&bytes);
        }
    }

    /// Waits until the screen satisfies `pred`, failing at the deadline with the screen shown.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> Result<String, String> {
        let deadline = (Instant::now() + Duration::from_secs(8)).min(self.started + OVERALL);
        loop {
            let text = self.parser.screen().contents();
            if pred(&text) {
                return Ok(text);
            }
            if Instant::now() >= deadline {
                return Err(format!("timed out waiting for {what}; screen:\n{text}"));
            }
            self.pump(Duration::from_millis(50));
        }
    }
}

fn nz(v: u16) -> Result<std::num::NonZeroU16, &'static str> {
    std::num::NonZeroU16::new(v).ok_or("zero terminal size")
}

fn status_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_owned()
}

#[test]
fn real_binary_in_a_pty() -> TestResult {
    let pty = native_pty_system();
    let pair = pty.openpty(PtySize {
        rows: ROWS,
        cols: COLS,
        pixel_width: 0,
        pixel_height: 0,
    })?;
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gradscope"));
    cmd.env("TERM", "xterm-256color");
    let mut child = pair.slave.spawn_command(cmd)?;
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader()?;
    let mut writer = pair.master.take_writer()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Screen {
        parser: vt100::Parser::new(nz(ROWS)?, nz(COLS)?, 0),
        rx,
        started: Instant::now(),
        raw: Vec::new(),
    };
    let result = drive(&mut screen, &mut writer, &mut *child);
    if result.is_err() {
        let _ = child.kill();
    }
    result
}

fn drive(
    screen: &mut Screen,
    writer: &mut Box<dyn Write + Send>,
    child: &mut (dyn portable_pty::Child + Send + Sync),
) -> TestResult {
    let mut press = |keys: &[u8]| -> std::io::Result<()> {
        writer.write_all(keys)?;
        writer.flush()
    };
    let text = screen.wait_for("the status bar", |t| {
        t.contains("Running") || t.contains("Paused")
    });
    let text = text?;
    assert!(
        screen.parser.screen().alternate_screen(),
        "TUI draws on the alternate screen"
    );
    assert!(text.contains("landscape"), "{text}");

    press(b"2")?;
    screen.wait_for("run 2's gradients", |t| t.contains("gradients of momentum"))?;
    press(b" ")?;
    let text = screen.wait_for("paused", |t| status_line(t).contains("Paused"))?;
    let steps_at = |t: &str| -> Option<u64> {
        let line = t
            .lines()
            .find(|l| l.contains("gradients of momentum at step"))?;
        let rest = line.split("at step ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    let paused_at = steps_at(&text).ok_or("no step count in the gradient panel")?;
    press(b"n")?;
    screen.wait_for("one step", |t| steps_at(t) == Some(paused_at + 1))?;
    press(b"b")?;
    screen.wait_for("one step back", |t| steps_at(t) == Some(paused_at))?;
    let was_log = screen.parser.screen().contents().contains("loss (log)");
    press(b"l")?;
    screen.wait_for("the loss axis scale to flip", |t| {
        t.contains("loss (log)") != was_log
    })?;
    press(b"?")?;
    screen.wait_for("help", |t| {
        t.contains("this help") && t.contains("select run")
    })?;
    press(b"\x1b")?;
    screen.wait_for("help closed", |t| !t.contains("this help"))?;
    press(b"q")?;

    let deadline = (Instant::now() + Duration::from_secs(5)).min(screen.started + OVERALL);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            return Err("the program did not exit after q".into());
        }
        screen.pump(Duration::from_millis(50));
    };
    screen.pump(Duration::from_millis(100));
    assert!(status.success(), "exit status {status:?}");
    assert!(
        !screen.parser.screen().alternate_screen(),
        "alternate screen left"
    );
    assert!(!screen.parser.screen().hide_cursor(), "cursor shown again");
    Ok(())
}
