//! What a command came to, as the exit code means it: found, nothing found, a failed gate, or a
//! refusal. `app.rs` maps it to 0, 1 and 2; the decisions that reach it (`analyze::kill`) return
//! it as data.
//!
//! Plain data: nothing here exits or prints.

/// What a command found, mapped to the exit code by `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Something matched (exit 0).
    Found,
    /// Nothing matched (exit 1).
    NotFound,
    /// `audit --fail-on`: an unsuppressed finding is at or above the threshold (exit 1).
    Failed,
    /// The command refused to act and said why on stderr (exit 2).
    Refused,
}
