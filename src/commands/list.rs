//! `portscope` / `portscope list`: the listing (listeners, and every state with `--all`).
//!
//! Composition only: the arguments become a kernel query and a filter, the snapshot is
//! collected, and each entry goes from the inventory through the filter into the sink of the
//! chosen format as it is built, so a busy host's `--all` is never held whole.

use std::io::Write;
use std::time::Instant;

use anyhow::Result;

use crate::analyze::filter::{Filter, Sieve};
use crate::analyze::inventory;
use crate::cli::ListArgs;
use crate::collect::Platform;
use crate::commands::{Env, Outcome, print_pid_namespace, print_timings, print_warnings};
use crate::model::UserSpec;
use crate::model::{Proto, SocketState};
use crate::model::{Request, SocketQuery};
use crate::render::table::Columns;
use crate::render::{ListEnd, list_sink};

/// Run the listing view.
///
/// # Errors
/// When the socket table cannot be read or output cannot be written.
pub fn run(
    args: &ListArgs,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let started = Instant::now();
    let filter = filter(args, env.platform())?;
    let request = Request {
        query: query(args),
        owners: !args.no_owners,
    };
    let snapshot = env.collector.snapshot(&request, &|s| filter.keep_raw(s))?;
    let mut phases = snapshot.phases.clone();
    let services = phases.time("services table", || env.services());
    let cols = Columns {
        states: args.all || !args.state.is_empty(),
        owners: !args.no_owners,
    };
    let mut sink = list_sink(args.format(), cols, env.style, out)?;
    let mut sieve = Sieve::new(&filter);
    let mut failed = None;
    phases.time(sink.feed_phase(), || {
        inventory::for_each_entry(&snapshot, &services, |entry| {
            if sieve.keep(&entry) && failed.is_none() {
                failed = sink.entry(&entry).err();
            }
        });
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    let warnings = sieve.warnings(&snapshot);
    let end = ListEnd {
        pid_namespace: snapshot.pid_namespace.as_ref(),
        warnings: &warnings,
    };
    let written = phases.time("render (write)", || {
        sink.finish(&end, &mut || {
            print_warnings(err, &warnings)?;
            print_pid_namespace(err, inventory::shown_pid_namespace(&snapshot))
        })
    })?;
    if env.timings {
        phases
            .0
            .push(("total (after argument parsing)", started.elapsed()));
        print_timings(err, &phases)?;
    }
    Ok(if written > 0 {
        Outcome::Found
    } else {
        Outcome::NotFound
    })
}

/// The filters of the arguments; user names are resolved to uids here, so an unknown name is an
/// error rather than an empty answer.
fn filter(args: &ListArgs, platform: &dyn Platform) -> Result<Filter> {
    let mut users = Vec::with_capacity(args.user.len());
    for user in &args.user {
        users.push(match user {
            UserSpec::Name(name) => match platform.uid_of(name) {
                Some(uid) => UserSpec::Uid(uid),
                None => anyhow::bail!("unknown user '{name}' in --user: no such account"),
            },
            uid @ UserSpec::Uid(_) => uid.clone(),
        });
    }
    Ok(Filter {
        ports: args.ports(),
        pids: args.pid.clone(),
        processes: args.process.clone(),
        users,
        states: args.state.clone(),
        exposure: args.exposure.clone(),
        protos: protos(args),
    })
}

fn protos(args: &ListArgs) -> Vec<Proto> {
    match (args.tcp, args.udp) {
        (true, false) => vec![Proto::Tcp],
        (false, true) => vec![Proto::Udp],
        _ => Vec::new(),
    }
}

/// The kernel request: only the states the view needs, only the protocols and families asked.
#[must_use]
pub fn query(args: &ListArgs) -> SocketQuery {
    let mut q = if args.all {
        SocketQuery::all()
    } else {
        SocketQuery::listening()
    };
    if !args.state.is_empty() {
        q.tcp_states = state_mask(&args.state, Proto::Tcp);
        q.udp_states = state_mask(&args.state, Proto::Udp);
    }
    match (args.tcp, args.udp) {
        (true, false) => q.udp_states = 0,
        (false, true) => q.tcp_states = 0,
        _ => {}
    }
    // One port range (the usual `--port P`) is filtered by the kernel; several are filtered
    // after the dump (Filter::keep_raw), which applies in every case.
    if let [range] = args.ports().as_slice() {
        q.local_ports = Some((range.start, range.end));
    }
    if args.ipv4 {
        q.ipv6 = false;
    }
    if args.ipv6 {
        q.ipv4 = false;
    }
    q
}

fn state_mask(states: &[SocketState], proto: Proto) -> u32 {
    states
        .iter()
        .filter_map(|s| s.kernel_number(proto))
        .fold(0, |mask, n| mask | (1 << n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_query_asks_only_listen_and_unconnected() {
        let q = query(&ListArgs::default());
        assert_eq!(q.tcp_states, 1 << 10);
        assert_eq!(q.udp_states, 1 << 7);
        let q = query(&ListArgs {
            tcp: true,
            ipv4: true,
            ..ListArgs::default()
        });
        assert_eq!((q.udp_states, q.ipv6), (0, false));
    }

    #[test]
    fn state_filters_reach_the_kernel() {
        let q = query(&ListArgs {
            state: vec![SocketState::TimeWait],
            ..ListArgs::default()
        });
        assert_eq!(q.tcp_states, 1 << 6);
        assert_eq!(q.udp_states, 0);
        let q = query(&ListArgs {
            state: vec![SocketState::Unconnected],
            ..ListArgs::default()
        });
        assert_eq!((q.tcp_states, q.udp_states), (0, 1 << 7));
        // A bound TCP socket is asked for as TCP_BOUND_INACTIVE, never as CLOSE.
        let q = query(&ListArgs {
            state: vec![SocketState::Bound],
            ..ListArgs::default()
        });
        assert_eq!((q.tcp_states, q.udp_states), (1 << 13, 0));
        assert_eq!(
            query(&ListArgs {
                all: true,
                ..ListArgs::default()
            })
            .tcp_states
                & (1 << 13),
            1 << 13
        );
    }

    #[test]
    fn one_port_range_reaches_the_kernel() {
        let one = |ports: Vec<Vec<crate::model::PortRange>>| {
            query(&ListArgs {
                all: true,
                port: ports,
                ..ListArgs::default()
            })
            .local_ports
        };
        let r = |start, end| crate::model::PortRange { start, end };
        assert_eq!(one(vec![]), None);
        assert_eq!(one(vec![vec![r(22, 22)]]), Some((22, 22)));
        assert_eq!(one(vec![vec![r(8000, 8100)]]), Some((8000, 8100)));
        // Several ranges: filtered after the dump instead.
        assert_eq!(one(vec![vec![r(22, 22), r(80, 80)]]), None);
    }
}
