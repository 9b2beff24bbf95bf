//! End to end: the real binary in a pseudo-terminal (portable-pty), its output parsed by vt100.
//! Presses keys as a user would and checks the screen after each, then that the terminal was
//! restored (alternate screen left, cursor shown, raw mode off) and the process exited 0. Then
//! the explorer is made to crash (abort, panic, panic in a thread, through a test-only variable)
//! and the supervising process must restore the terminal all the same. Every wait has a
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

/// The pty's terminal modes (`ICANON`, `ECHO`, ...) as the program set or left them.
fn modes(master: &(dyn portable_pty::MasterPty + Send)) -> Result<String, &'static str> {
    let t = master.get_termios().ok_or("no termios on the pty")?;
    Ok(format!(
        "{:?} {:?} {:?} {:?}",
        t.input_flags, t.output_flags, t.control_flags, t.local_flags
    ))
}

/// The program in a fresh pseudo-terminal, with its screen parsed as it draws.
struct Pty {
    screen: Screen,
    /// The modes before the program started: read after the spawn, they raced the program's
    /// own switch to raw mode, and on a loaded machine the program sometimes won.
    cooked: String,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    fn spawn(env: &[(&str, &str)]) -> Result<Self, Box<dyn std::error::Error>> {
        let pty = native_pty_system();
        let pair = pty.openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })?;
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gradscope"));
        cmd.cwd(env!("CARGO_MANIFEST_DIR"));
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let cooked = modes(&*pair.master)?;
        let child = pair.slave.spawn_command(cmd)?;
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader()?;
        let writer = pair.master.take_writer()?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let screen = Screen {
            parser: vt100::Parser::new(nz(ROWS)?, nz(COLS)?, 0),
            rx,
            started: Instant::now(),
            raw: Vec::new(),
        };
        Ok(Self {
            screen,
            cooked,
            writer,
            child,
            master: pair.master,
        })
    }

    fn modes(&self) -> Result<String, &'static str> {
        modes(&*self.master)
    }

    /// Waits for the program to exit, reading its output meanwhile.
    fn wait_exit(&mut self, what: &str) -> Result<portable_pty::ExitStatus, String> {
        let deadline = (Instant::now() + Duration::from_secs(8)).min(self.screen.started + OVERALL);
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                self.screen.pump(Duration::from_millis(200));
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(format!("the program did not exit {what}"));
            }
            self.screen.pump(Duration::from_millis(50));
        }
    }
}

#[test]
fn real_binary_in_a_pty() -> TestResult {
    let mut pty = Pty::spawn(&[])?;
    let cooked = pty.cooked.clone();
    let result = drive(&mut pty, &cooked);
    if result.is_err() {
        let _ = pty.child.kill();
    }
    result
}

/// The explorer crashes right after its first frame (an abort, a panic, a panic in another
/// thread); whatever the way, the terminal must come back as it was, with one line saying what
/// happened and a non-zero exit.
fn crash_restores_the_terminal(how: &str, what: &str) -> TestResult {
    let mut pty = Pty::spawn(&[("GRADSCOPE_TEST_CRASH", how)])?;
    let cooked = pty.cooked.clone();
    let status = pty.wait_exit(&format!("after {how}"));
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            let _ = pty.child.kill();
            return Err(e.into());
        }
    };
    let screen = pty.screen.parser.screen();
    let text = screen.contents();
    assert!(!status.success(), "{how}: exit status {status:?}");
    assert!(!screen.alternate_screen(), "{how}: alternate screen left");
    assert!(!screen.hide_cursor(), "{how}: cursor shown");
    assert_eq!(
        screen.mouse_protocol_mode(),
        vt100::MouseProtocolMode::None,
        "{how}: mouse released"
    );
    assert_eq!(
        pty.modes()?,
        cooked,
        "{how}: terminal modes restored (raw mode off)"
    );
    assert!(
        text.contains("the terminal explorer") && text.contains(what),
        "{how}: one line naming the crash:\n{text}"
    );
    assert!(
        text.contains("the terminal has been restored"),
        "{how}:\n{text}"
    );
    Ok(())
}

#[test]
fn an_abort_leaves_the_terminal_restored() -> TestResult {
    crash_restores_the_terminal("abort", "SIGABRT")
}

#[test]
fn a_panic_leaves_the_terminal_restored() -> TestResult {
    crash_restores_the_terminal("panic", "panicked")
}

#[test]
fn a_panic_in_another_thread_ends_the_program_and_restores_the_terminal() -> TestResult {
    crash_restores_the_terminal("thread-panic", "panicked")
}

/// `kill PID` aimed at the process the user started (the supervisor): it passes the signal on
/// to the explorer, restores the terminal and exits as shells report a signal (128 + 15).
#[cfg(unix)]
#[test]
fn a_signal_to_the_supervisor_ends_the_explorer_and_restores_the_terminal() -> TestResult {
    use rustix::process::{Pid, Signal, kill_process};
    let mut pty = Pty::spawn(&[])?;
    let cooked = pty.cooked.clone();
    let result = (|| -> TestResult {
        pty.screen.wait_for("the status bar", |t| {
            t.contains("Running") || t.contains("Paused")
        })?;
        let pid = pty
            .child
            .process_id()
            .and_then(|id| Pid::from_raw(i32::try_from(id).ok()?))
            .ok_or("no process id")?;
        kill_process(pid, Signal::TERM)?;
        let status = pty.wait_exit("after SIGTERM")?;
        assert_eq!(status.exit_code(), 143, "{status:?}");
        let screen = pty.screen.parser.screen();
        assert!(!screen.alternate_screen(), "alternate screen left");
        assert!(!screen.hide_cursor(), "cursor shown");
        assert_eq!(pty.modes()?, cooked, "raw mode off");
        assert!(
            screen.contents().contains("signal 15 (SIGTERM)"),
            "{}",
            screen.contents()
        );
        Ok(())
    })();
    if result.is_err() {
        let _ = pty.child.kill();
    }
    result
}

fn drive(pty: &mut Pty, cooked: &str) -> TestResult {
    let Pty {
        screen,
        writer,
        child,
        master,
        cooked: _,
    } = pty;
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
    // What the restore checks below compare against: the explorer really is in raw mode.
    assert_ne!(
        modes(&**master)?,
        cooked,
        "raw mode while the explorer runs"
    );

    press(b"2")?;
    screen.wait_for("run 2's gradients", |t| t.contains("gradients of momentum"))?;
    // It opens paused: Space runs the race, Space again pauses it.
    press(b" ")?;
    screen.wait_for("running", |t| status_line(t).contains("Running"))?;
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
    assert_eq!(modes(&**master)?, cooked, "raw mode off again");
    Ok(())
}
