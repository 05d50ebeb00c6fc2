//! The decisions of `portscope kill`, as a plan over an investigation of the port: per holder,
//! whether it is signalled and under which pid of portscope's own PID namespace, or why it is
//! refused (`policy.rs`, `identity.rs`); what the command does next ([`Verdict`], `plan.rs`);
//! what the plan and the acting come to (exit outcome, whether to escalate, where messages go:
//! `outcome.rs`); and, while it acts, each step of delivering one signal (`deliver.rs`) and
//! whether a round of signals is worth waiting for.
//!
//! Pure: it decides from data and never sends a signal, reads the system or words a message
//! (sending and reading identities are the platform's, `collect::Platform::{signal, identity}`;
//! the wording is `render::kill`'s).

use std::time::Duration;

use crate::model::{Signal, SignalError};

mod deliver;
mod identity;
mod outcome;
mod plan;
mod policy;

pub use deliver::{Attempt, Holding, Next, Pin, Reread, deliver, holders_now};
pub use identity::NoTranslation;
pub use outcome::{
    Step, Stream, after_acting, after_consent, after_plan, escalate, message_stream,
};
pub use plan::{Action, HolderFacts, KillOptions, KillPlan, Target, Verdict, blocks, plan};
pub use policy::Refusal;

/// What one signal attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The signal was delivered.
    Sent,
    /// The holder exited before the signal.
    Gone,
    /// The pid no longer names the holder (another process, or it dropped the socket), or that
    /// cannot be verified: not signalled.
    Changed,
    /// The signal could not be sent (EPERM, …).
    Failed,
}

/// Whether to wait for the port after a round of signals: only when something was signalled.
/// When nothing was, waiting out `--timeout` could not change anything.
#[must_use]
pub fn wait_after(deliveries: &[Delivery]) -> bool {
    deliveries.contains(&Delivery::Sent)
}

/// What happened while acting on the plan, one message each (`render::kill` words them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// The holder's pid now names a process with another start time: not signalled.
    Reused(&'a Target),
    /// The holder no longer holds a socket of the port: not signalled.
    Left(&'a Target),
    /// The holder exited before the signal.
    Exited(&'a Target),
    /// The holder could not be pinned (pidfd_open failed), with the platform's error.
    CannotPin(&'a Target, SignalError),
    /// The re-check found another process under the pinned pid: not signalled.
    OtherProcess(&'a Target),
    /// The re-check found the process no longer holds a socket of the port: not signalled.
    NotHolding(&'a Target),
    /// The re-check could not read the process's identity or descriptors: not signalled.
    Unverifiable(&'a Target),
    /// The signal was sent.
    Sent(&'a Target, Signal),
    /// The signal could not be sent, with the platform's error; `privileged` tells whether
    /// more privileges could help.
    SendFailed {
        /// The holder.
        target: &'a Target,
        /// The platform's error.
        error: SignalError,
        /// Whether portscope already runs privileged.
        privileged: bool,
    },
    /// The port is still in use after `--timeout`: `--force` escalates to SIGKILL.
    Escalating(Duration),
    /// The port is free.
    Freed,
    /// The port is still in use after the timeout, held by these pids (as far as seen).
    StillInUse {
        /// The `--timeout` waited.
        timeout: Duration,
        /// The holders now.
        holders: Vec<u32>,
        /// Whether `--force` was given (else the message suggests it).
        force: bool,
    },
    /// Nothing was signalled, and the holders have left: the port is free.
    NothingSignalledFree,
    /// Nothing was signalled and the port is still in use, held by these pids (as far as seen).
    NothingSignalledInUse(Vec<u32>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waiting for the port makes sense only after a signal went out: a round where every
    /// holder left or changed returns at once instead of waiting out --timeout.
    #[test]
    fn waits_only_after_a_signal() {
        use Delivery::{Changed, Failed, Gone, Sent};
        let cases: &[(&[Delivery], bool)] = &[
            (&[Sent], true),
            (&[Gone, Sent], true),
            (&[Changed, Failed, Sent], true),
            (&[], false),
            (&[Gone], false),
            (&[Changed], false),
            (&[Failed], false),
            (&[Gone, Changed, Failed], false),
        ];
        for (round, want) in cases {
            assert_eq!(wait_after(round), *want, "{round:?}");
        }
    }
}
