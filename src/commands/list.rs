//! `portscope` / `portscope list`: the listing (listeners, and every state with `--all`).
//!
//! Composition only: the arguments become a kernel query and a filter, the snapshot is
//! collected, and each entry goes from the inventory through the filter into the sink of the
//! chosen format as it is built, so a busy host's `--all` is never held whole. The JSON document
//! is the host's snapshot: it names the host and the time it was taken (`audit --from` reads it).
//! With `--output FILE` the output replaces FILE atomically instead (`commands::with_output`).

use std::io::Write;
use std::time::{Instant, SystemTime};

use anyhow::Result;

use crate::analyze::filter::{Filter, Sieve};
use crate::analyze::inventory;
use crate::cli::ListArgs;
#[cfg(test)]
use crate::cli::SocketSelect;
use crate::collect::Platform;
use crate::commands::{
    Env, Outcome, print_pid_namespace, print_timings, print_warnings, with_output,
};
use crate::model::UnixTime;
use crate::model::UserSpec;
use crate::model::{Request, SocketQuery, StateSet};
use crate::render::json::ListOrigin;
use crate::render::table::Columns;
use crate::render::{ListEnd, Style, list_sink};

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
    let style = match args.output {
        // A file is neither a terminal nor coloured.
        Some(_) => Style {
            color: false,
            width: None,
        },
        None => env.style,
    };
    with_output(args.output.as_deref(), args.format(), "list", out, |out| {
        listing(args, env, style, out, err)
    })
}

fn listing(
    args: &ListArgs,
    env: &Env,
    style: Style,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let started = Instant::now();
    // The one reading of the clock: when the snapshot was taken (JSON `taken_at`, the metrics'
    // `portscope_last_run_timestamp_seconds`).
    let now = UnixTime::from_system_time(SystemTime::now());
    let filter = filter(args, env.platform())?;
    let request = Request {
        query: query(args),
        owners: !args.no_owners,
    };
    let snapshot = env.collector.snapshot(&request, &|s| filter.keep_raw(s))?;
    let mut phases = snapshot.phases.clone();
    let services = phases.time("services table", || env.services());
    let cols = Columns {
        states: args.select.all || !args.state.is_empty(),
        owners: !args.no_owners,
        netns: inventory::spans_namespaces(&snapshot.sockets),
    };
    let origin = ListOrigin {
        host: snapshot.host.as_deref(),
        taken_at: now,
    };
    let mut sink = list_sink(args.format(), cols, style, &origin, out)?;
    let mut sieve = Sieve::new(&filter);
    let mut failed = None;
    if args.identify {
        // The greetings need every kept entry first; they run concurrently.
        let mut kept = Vec::new();
        inventory::for_each_entry(&snapshot, services, |entry| {
            if sieve.keep(&entry) {
                kept.push(entry);
            }
        });
        phases.time("identify (handshakes)", || {
            super::identify(&mut kept, &snapshot.interfaces);
        });
        phases.time(sink.feed_phase(), || {
            failed = kept.iter().find_map(|entry| sink.entry(entry).err());
        });
    } else {
        phases.time(sink.feed_phase(), || {
            inventory::for_each_entry(&snapshot, services, |entry| {
                if sieve.keep(&entry) && failed.is_none() {
                    failed = sink.entry(&entry).err();
                }
            });
        });
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    let warnings = sieve.warnings(&snapshot);
    let end = ListEnd {
        pid_namespace: snapshot.pid_namespace.as_ref(),
        warnings: &warnings,
        time: now,
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
        ports: args.select.ports(),
        pids: args.pid.clone(),
        processes: args.process.clone(),
        users,
        states: args.state.clone(),
        exposure: args.exposure.clone(),
        protos: args.select.protos(),
    })
}

/// The kernel request: only the states the view needs, only the protocols and families asked
/// (`SocketSelect::query`), with `--state`'s states.
#[must_use]
pub fn query(args: &ListArgs) -> SocketQuery {
    let mut q = args.select.query();
    if !args.state.is_empty() {
        q.states = StateSet::of(&args.state);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proto;

    #[test]
    fn the_query_asks_the_states_protocols_and_families_shown() {
        use crate::model::SocketState::{self, Bound, Listen, TimeWait, Unconnected};
        let args = |edit: &dyn Fn(&mut ListArgs)| {
            let mut a = ListArgs::default();
            edit(&mut a);
            a
        };
        // (arguments, states asked of TCP, of UDP, IPv4, IPv6)
        let cases = [
            (args(&|_| {}), vec![Listen], vec![Unconnected], true, true),
            (
                args(&|a| {
                    a.select.tcp = true;
                    a.select.ipv4 = true;
                }),
                vec![Listen],
                vec![],
                true,
                false,
            ),
            (
                args(&|a| a.select.udp = true),
                vec![],
                vec![Unconnected],
                true,
                true,
            ),
            (
                args(&|a| a.select.ipv6 = true),
                vec![Listen],
                vec![Unconnected],
                false,
                true,
            ),
            // `--state` implies the states given, with or without `--all`.
            (
                args(&|a| a.state = vec![TimeWait]),
                vec![TimeWait],
                vec![],
                true,
                true,
            ),
            (
                args(&|a| a.state = vec![Unconnected]),
                vec![],
                vec![Unconnected],
                true,
                true,
            ),
            (
                args(&|a| {
                    a.state = vec![Bound];
                    a.select.all = true;
                }),
                vec![Bound],
                vec![],
                true,
                true,
            ),
            (
                args(&|a| a.select.all = true),
                SocketState::ALL
                    .into_iter()
                    .filter(|&s| s != Unconnected)
                    .collect(),
                vec![SocketState::Unconnected, SocketState::Established],
                true,
                true,
            ),
        ];
        for (args, tcp, udp, ipv4, ipv6) in cases {
            let q = query(&args);
            assert_eq!(q.states_of(Proto::Tcp), StateSet::of(&tcp), "{args:?}");
            assert_eq!(q.states_of(Proto::Udp), StateSet::of(&udp), "{args:?}");
            assert_eq!((q.ipv4, q.ipv6), (ipv4, ipv6), "{args:?}");
        }
        assert!(
            query(&ListArgs {
                select: SocketSelect {
                    all: true,
                    ..SocketSelect::default()
                },
                ..ListArgs::default()
            })
            .states
            .is_all()
        );
    }

    #[test]
    fn one_port_range_reaches_the_kernel() {
        let one = |ports: Vec<Vec<crate::model::PortRange>>| {
            query(&ListArgs {
                select: SocketSelect {
                    all: true,
                    port: ports,
                    ..SocketSelect::default()
                },
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
