//! Integration tests: the real `portscope` binary against real sockets the tests open
//! themselves, real daemons from Debian, and network namespaces the tests create.
//!
//! Tests that need root, iproute2 or a daemon skip with a printed reason when those are
//! missing, except under `CI=true`, where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod audit;
mod check;
mod common;
mod daemons;
mod fleet;
mod identify;
mod kill;
mod list;
mod netns;
mod output;
mod prometheus;
mod toolbox;
mod who;
