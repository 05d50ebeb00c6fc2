//! Windows' excluded port ranges, as `netsh int ipv4|ipv6 show excludedportrange
//! protocol=tcp|udp` lists them (four runs, each with a time limit and a bound on its output).
//! The text is typed by `model::ExcludedPortRange::parse_netsh`; whether the port lies in one
//! is the advice's question (`analyze::advice`).
//!
//! `netsh` prints its headings in the system's language; the parser reads only the data lines
//! (two port numbers and an optional `*`), so any language works.

use std::time::Duration;

use crate::collect::command;
use crate::model::{ExcludedPortRange, Proto};

/// Longest output read (a list of a few hundred ranges is a few KiB).
const OUTPUT_MAX: u64 = 1024 * 1024;
/// How long one netsh run may take.
const TIME_LIMIT: Duration = Duration::from_secs(5);

/// Every excluded range, `None` when netsh cannot be run or fails (the advice then says
/// nothing about exclusions rather than "none").
pub(crate) fn excluded_ranges() -> Option<Vec<ExcludedPortRange>> {
    let mut all = Vec::new();
    for (family, ipv6) in [("ipv4", false), ("ipv6", true)] {
        for proto in [Proto::Tcp, Proto::Udp] {
            let text = run(&[
                "int",
                family,
                "show",
                "excludedportrange",
                &format!("protocol={}", proto.as_str()),
            ])?;
            all.extend(ExcludedPortRange::parse_netsh(&text, proto, ipv6));
        }
    }
    Some(all)
}

/// The standard output of `netsh ARGS`, `None` when it cannot be run, fails, or takes longer
/// than [`TIME_LIMIT`] (`collect::command`). netsh writes the console's code page; the data
/// lines are ASCII digits either way.
fn run(args: &[&str]) -> Option<String> {
    let out = command::run_bounded("netsh", args, TIME_LIMIT, OUTPUT_MAX).ok()?;
    out.success.then_some(out.stdout)
}
