//! Feedback for keys that change state: the short message line ("adam lr 0.05 → 0.1",
//! "removed sgd — u to undo") and the wording of those messages, so no key changes the race
//! silently. The app keeps one [`Toast`]; the next message replaces it and it fades after
//! [`TOAST_FOR`].

use std::time::{Duration, Instant};

use crate::ad::Engine;
use crate::landscape::format_number;

/// How long a message stays on screen.
pub const TOAST_FOR: Duration = Duration::from_secs(4);

/// One message and when it was said.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub said: Instant,
}

impl Toast {
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            said: Instant::now(),
        }
    }

    /// True once the message has been on screen for [`TOAST_FOR`].
    #[must_use]
    pub fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.said) >= TOAST_FOR
    }
}

/// `[`/`]`: "adam lr 0.05 → 0.1".
#[must_use]
pub fn lr_changed(label: &str, name: &str, before: f64, after: f64) -> String {
    format!(
        "{label} {name} {} → {}",
        format_number(before),
        format_number(after)
    )
}

/// `b`/`B`: "gd stepped back to step 119".
#[must_use]
pub fn stepped_back(label: &str, step: u64) -> String {
    format!("{label} stepped back to step {step}")
}

/// How an engine is named in sentences.
#[must_use]
pub fn engine_words(engine: Engine) -> String {
    match engine {
        Engine::Forward { chunk } => format!("forward mode ({chunk} tangents a pass)"),
        Engine::Reverse => "reverse mode".to_owned(),
        Engine::Finite => "finite differences".to_owned(),
    }
}

/// `d`: "removed sgd — u to undo".
#[must_use]
pub fn removed(label: &str) -> String {
    format!("removed {label} — u to undo")
}

/// `a`: a run joins at step 0 while the others are further on; say so.
#[must_use]
pub fn added(label: &str, others_at: u64) -> String {
    if others_at == 0 {
        format!("added {label}")
    } else {
        format!(
            "added {label}: it starts at step 0 (the others are at step {others_at}); r restarts all"
        )
    }
}

/// `A` (or ←→ in the add dialog): a run that starts from another run's current point.
#[must_use]
pub fn added_from(label: &str, from: &str, step: u64) -> String {
    format!("added {label} at {from}'s point (its step {step}); {label} counts from step 0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_run_and_the_values() {
        assert_eq!(lr_changed("adam", "lr", 0.05, 0.1), "adam lr 0.05 → 0.1");
        assert_eq!(
            lr_changed("genetic", "sigma", 0.1, 0.2),
            "genetic sigma 0.1 → 0.2"
        );
        assert_eq!(stepped_back("gd", 119), "gd stepped back to step 119");
        assert_eq!(removed("sgd"), "removed sgd — u to undo");
        assert_eq!(added("adam", 0), "added adam");
        assert_eq!(
            added_from("adam", "gd", 120),
            "added adam at gd's point (its step 120); adam counts from step 0"
        );
        assert!(added("adam", 120).contains("step 0 (the others are at step 120)"));
        assert_eq!(
            engine_words(Engine::Forward { chunk: 8 }),
            "forward mode (8 tangents a pass)"
        );
    }

    #[test]
    fn a_toast_expires() {
        let t = Toast::new("x");
        assert!(!t.expired(t.said));
        assert!(t.expired(t.said + TOAST_FOR));
    }
}
