//! The one skip guard every test goes through, unit tests (`crate::testing`) and the
//! integration tests (tests/it/common.rs includes this file) alike: a test that cannot run on
//! this machine prints why and returns, except under `CI=true`, where CI installed everything
//! the tests need, so a missing component is a failure, never a silent skip.
//! Test-only: nothing here is compiled into the program.

/// True under `CI=true`.
#[must_use]
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skip (return true) with a printed reason, or fail under `CI=true`.
///
/// # Panics
/// Under `CI=true`, naming what was missing.
pub fn skip(reason: &str) -> bool {
    assert!(!is_ci(), "required under CI=true: {reason}");
    eprintln!("SKIPPED: {reason}");
    true
}
