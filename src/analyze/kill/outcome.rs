//! What `portscope kill` comes to: after the plan (report and stop, ask first, or act), after
//! the consent, and after acting (the exit outcome and whether the port was freed); whether to
//! escalate to SIGKILL; and on which stream the messages are written.
//!
//! Pure: it decides from data; the command prompts, signals, waits and writes.

use crate::analyze::kill::Verdict;
use crate::model::{Outcome, Signal};

/// What the command does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing (more) is signalled: report, exit with `outcome`; `freed` is the JSON `freed`.
    Done {
        /// What the exit code says.
        outcome: Outcome,
        /// True when no socket other than TIME_WAIT is left on the port.
        freed: bool,
    },
    /// Ask on the terminal first ([`after_consent`] says what the answer leads to).
    Ask,
    /// Signal the planned targets ([`after_acting`] says what it came to).
    Act,
}

/// What the plan's verdict leads to. A free port is found (exit 0), except in a dry run, where
/// "nothing would be signalled" is the answer (exit 1); only TIME_WAIT left is nothing found;
/// a refusal is exit 2; a dry run that would signal is found.
#[must_use]
pub fn after_plan(verdict: Verdict, dry_run: bool) -> Step {
    let done = |outcome, freed| Step::Done { outcome, freed };
    match verdict {
        Verdict::Free if dry_run => done(Outcome::NotFound, true),
        Verdict::Free => done(Outcome::Found, true),
        Verdict::OnlyTimeWait => done(Outcome::NotFound, false),
        Verdict::Refused { .. } => done(Outcome::Refused, false),
        Verdict::DryRun => done(Outcome::Found, false),
        Verdict::NeedsConsent => Step::Ask,
        Verdict::Go => Step::Act,
    }
}

/// What the answer to the prompt leads to: act, or refuse (exit 2) with nothing signalled.
#[must_use]
pub fn after_consent(confirmed: bool) -> Step {
    if confirmed {
        Step::Act
    } else {
        Step::Done {
            outcome: Outcome::Refused,
            freed: false,
        }
    }
}

/// The outcome after acting: a freed port is found; signalled but still in use is not found;
/// nothing signalled and still in use is a refusal (the holders changed since the report the
/// consent was given for).
#[must_use]
pub fn after_acting(freed: bool, signalled_any: bool) -> Outcome {
    match (freed, signalled_any) {
        (true, _) => Outcome::Found,
        (false, true) => Outcome::NotFound,
        (false, false) => Outcome::Refused,
    }
}

/// Whether to send SIGKILL after the wait: with `--force`, when the port is not free and the
/// first signal was not already SIGKILL.
#[must_use]
pub fn escalate(force: bool, signal: Signal, free: bool) -> bool {
    force && signal != Signal::Kill && !free
}

/// A standard stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Where the messages are written beside the report: a refusal on stderr, where a script's log
/// shows it (also when the JSON document carries them); otherwise on stdout, or nowhere else
/// when `in_document` (the JSON document carries them).
#[must_use]
pub fn message_stream(outcome: Outcome, in_document: bool) -> Option<Stream> {
    match (outcome, in_document) {
        (Outcome::Refused, _) => Some(Stream::Stderr),
        (_, true) => None,
        (_, false) => Some(Stream::Stdout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Outcome::{Found, NotFound, Refused};

    fn done(outcome: Outcome, freed: bool) -> Step {
        Step::Done { outcome, freed }
    }

    #[test]
    fn after_the_plan() {
        let refused = Verdict::Refused { unseen: 0 };
        let cases = [
            (Verdict::Free, false, done(Found, true)),
            (Verdict::Free, true, done(NotFound, true)),
            (Verdict::OnlyTimeWait, false, done(NotFound, false)),
            (Verdict::OnlyTimeWait, true, done(NotFound, false)),
            (refused, false, done(Refused, false)),
            (Verdict::Refused { unseen: 3 }, true, done(Refused, false)),
            (Verdict::DryRun, true, done(Found, false)),
            (Verdict::NeedsConsent, false, Step::Ask),
            (Verdict::Go, false, Step::Act),
        ];
        for (verdict, dry_run, want) in cases {
            assert_eq!(
                after_plan(verdict, dry_run),
                want,
                "{verdict:?} dry {dry_run}"
            );
        }
        assert_eq!(after_consent(true), Step::Act);
        assert_eq!(after_consent(false), done(Refused, false));
    }

    #[test]
    fn after_signalling() {
        // (freed, signalled any) → outcome
        let cases = [
            (true, true, Found),
            (true, false, Found),
            (false, true, NotFound),
            (false, false, Refused),
        ];
        for (freed, signalled, want) in cases {
            assert_eq!(after_acting(freed, signalled), want, "{freed} {signalled}");
        }
    }

    #[test]
    fn escalation() {
        // (force, first signal, free) → escalate
        let cases = [
            (true, Signal::Term, false, true),
            (true, Signal::Hup, false, true),
            (true, Signal::Term, true, false),
            (true, Signal::Kill, false, false),
            (false, Signal::Term, false, false),
            (false, Signal::Kill, true, false),
        ];
        for (force, signal, free, want) in cases {
            assert_eq!(
                escalate(force, signal, free),
                want,
                "{force} {signal} {free}"
            );
        }
    }

    #[test]
    fn streams() {
        use Stream::{Stderr, Stdout};
        // (outcome, messages in the JSON document) → the stream beside it
        let cases = [
            (Refused, false, Some(Stderr)),
            (Refused, true, Some(Stderr)),
            (Found, false, Some(Stdout)),
            (NotFound, false, Some(Stdout)),
            (Found, true, None),
            (NotFound, true, None),
        ];
        for (outcome, document, want) in cases {
            assert_eq!(
                message_stream(outcome, document),
                want,
                "{outcome:?} {document}"
            );
        }
    }
}
