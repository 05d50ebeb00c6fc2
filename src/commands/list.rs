//! `portscope` / `portscope list`: the listening inventory (and every state with `--all`).

use std::io::Write;
use std::time::Instant;

use anyhow::Result;

use crate::analyze::filter::Filter;
use crate::analyze::inventory::{self, UnknownOwners};
use crate::analyze::services::ServiceDb;
use crate::cli::ListArgs;
use crate::collect::Platform;
use crate::commands::{Env, Outcome, print_pid_namespace, print_timings, print_warnings};
use crate::model::UserSpec;
use crate::model::{Phases, Request, Snapshot, SocketQuery};
use crate::model::{Proto, SocketState};
use crate::render::json;
use crate::render::table::{Columns, Table};

/// Run the listing view.
///
/// # Errors
/// When the socket table cannot be read or output cannot be written.
pub fn run(
    args: &ListArgs,
    env: &Env<'_>,
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
    let found = if args.json {
        json_view(&snapshot, &services, &filter, &mut phases, out, err)?
    } else {
        table_view(
            args,
            env,
            &snapshot,
            &services,
            &filter,
            &mut phases,
            out,
            err,
        )?
    };
    if env.timings {
        phases
            .0
            .push(("total (after argument parsing)", started.elapsed()));
        print_timings(err, &phases)?;
    }
    Ok(if found {
        Outcome::Found
    } else {
        Outcome::NotFound
    })
}

/// `--json`: streamed like the table, each entry written as it is built and dropped right
/// after ([`json::ListStream`]); the warnings close the document.
fn json_view(
    snapshot: &Snapshot,
    services: &ServiceDb,
    filter: &Filter,
    phases: &mut Phases,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<bool> {
    let (written, warnings) = phases.time(
        "analyze and write JSON",
        || -> std::io::Result<(usize, Vec<String>)> {
            let mut stream = json::ListStream::begin(&mut *out)?;
            let mut sieve = Sieve::new(filter);
            let mut failed = None;
            inventory::for_each_entry(snapshot, services, |entry| {
                if sieve.keep(&entry) && failed.is_none() {
                    failed = stream.entry(&entry).err();
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            let warnings = sieve.warnings(snapshot);
            let written = stream.finish(snapshot.pid_namespace.as_ref(), &warnings)?;
            out.flush()?;
            Ok((written, warnings))
        },
    )?;
    print_warnings(err, &warnings)?;
    print_pid_namespace(err, shown_namespace(snapshot))?;
    Ok(written > 0)
}

/// The table: each entry goes into the table as it is built and is dropped right after, so a
/// busy host's `--all` never holds every entry (see [`table::Table`]).
#[allow(clippy::too_many_arguments)]
fn table_view(
    args: &ListArgs,
    env: &Env<'_>,
    snapshot: &Snapshot,
    services: &ServiceDb,
    filter: &Filter,
    phases: &mut Phases,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<bool> {
    let cols = Columns {
        states: args.all || !args.state.is_empty(),
        owners: !args.no_owners,
    };
    let (table, warnings) = phases.time("analyze and lay out rows", || {
        let mut table = Table::new(cols, env.style);
        let mut sieve = Sieve::new(filter);
        inventory::for_each_entry(snapshot, services, |entry| {
            if sieve.keep(&entry) {
                table.push(&entry);
            }
        });
        (table, sieve.warnings(snapshot))
    });
    print_warnings(err, &warnings)?;
    print_pid_namespace(err, shown_namespace(snapshot))?;
    let found = !table.is_empty();
    phases.time("render (write)", || -> std::io::Result<()> {
        table.write(out)?;
        out.flush()
    })?;
    Ok(found)
}

/// The PID namespace to name on stderr: only when pids of another namespace are shown.
fn shown_namespace(snapshot: &Snapshot) -> Option<&crate::model::PidNamespace> {
    snapshot
        .pid_namespace
        .as_ref()
        .filter(|_| !snapshot.processes.is_empty())
}

/// Applies the post-collection filter while counting what the warnings must say: owners that
/// could not be seen (over everything collected, before the owner filters drop rows), and the
/// sockets an owner filter could not match because their owner is unknown — an empty answer
/// must not look like a complete one.
struct Sieve<'a> {
    filter: &'a Filter,
    unknown: UnknownOwners,
    unmatched_unknown: usize,
}

impl<'a> Sieve<'a> {
    fn new(filter: &'a Filter) -> Self {
        Sieve {
            filter,
            unknown: UnknownOwners::default(),
            unmatched_unknown: 0,
        }
    }

    /// True when the entry is shown.
    fn keep(&mut self, entry: &crate::model::SocketEntry) -> bool {
        self.unknown.add(entry);
        let keep = self.filter.keep_entry(entry);
        if !keep && entry.processes.is_empty() {
            self.unmatched_unknown += 1;
        }
        keep
    }

    fn warnings(self, snapshot: &Snapshot) -> Vec<String> {
        let mut out = inventory::warnings_for(self.unknown, snapshot);
        if self.filter.needs_owners() && self.unmatched_unknown > 0 {
            out.push(format!(
                "{} socket(s) whose owner is not visible could not be matched against \
                 --pid/--process/--user and are not shown",
                self.unmatched_unknown
            ));
        }
        out
    }
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
