//! Integration tests: the real `portscope` binary against real sockets the tests open
//! themselves, real daemons from Debian, and network namespaces the tests create.
//!
//! Tests that need root, iproute2 or a daemon skip with a printed reason when those are
//! missing, except under `CI=true`, where they fail.

// The tests open sockets with Linux calls, make namespaces and run the Linux binary; the
// Windows executable is tested from here too, under Wine (platforms.rs).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod allnetns;
mod audit;
mod bpf;
mod check;
mod common;
mod daemons;
mod fleet;
mod identify;
mod kill;
mod list;
mod netns;
mod output;
mod platforms;
mod prometheus;
mod reach;
mod toolbox;
mod watch;
mod who;
