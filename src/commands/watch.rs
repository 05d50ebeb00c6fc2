//! `portscope watch`: poll the socket table every `--interval` and print each change as it is
//! seen, until SIGINT, SIGTERM or a closed stdout.
//!
//! Composition: each poll refreshes the interfaces (`Collector::tick`), dumps the socket table
//! without owners, asks [`watch::owner_lookups`] which sockets need their owners looked up (new
//! ones; those whose known owner exited; all of them every [`watch::OWNER_RECHECK`]) and runs
//! the owner scan for those alone, joins the rows with the owners cached from earlier polls,
//! and lets [`watch::diff`] say what changed. With `--audit`, [`watch::findings_of`] and
//! [`audit::report`] (allowlist) decide the findings. What is cached between polls lives here;
//! every decision is in `analyze::watch`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, anyhow};
use rustc_hash::FxHashSet;

use crate::analyze::allowlist::Allowlist;
use crate::analyze::audit::{self, Accepted, AuditOptions};
use crate::analyze::filter::Filter;
use crate::analyze::inventory::{self, ScanVerdict};
use crate::analyze::rules::RuleSet;
use crate::analyze::watch::{self, State};
use crate::cli::WatchArgs;
use crate::collect::files::{INPUT_LIMIT, read_regular_text};
use crate::collect::pause::{self, Wake};
use crate::collect::{ProcView, terminal_columns};
use crate::commands::{Env, Outcome, print_warnings};
use crate::model::{
    EventKind, FdRef, HostContext, InterfaceAddr, NetnsFacts, OwnerScan, Phases, ProcessInfo,
    Request, Snapshot, SocketEntry, SocketQuery, UnixTime, WatchEvent,
};
use crate::render::watch::{self as out_watch, WatchColumns};

/// Run the watch until it is stopped.
///
/// # Errors
/// When the allowlist cannot be read or parsed, the signal handler cannot be installed, the
/// socket table cannot be read, or output cannot be written (a closed pipe is not an error: it
/// ends the watch with exit 0).
pub fn run(
    args: &WatchArgs,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let allowlist = args.allow.as_deref().map(load_allowlist).transpose()?;
    let allowlist_name = args
        .allow
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    pause::install_stop_handler().context("cannot handle SIGINT and SIGTERM")?;
    let started = Instant::now();
    let filter = Filter {
        ports: args.select.ports(),
        processes: args.process.clone(),
        exposure: args.exposure.clone(),
        protos: args.select.protos(),
        ..Filter::default()
    };
    let show = |e: &SocketEntry| filter.keep_entry(e);
    let cols = WatchColumns {
        connections: args.select.all,
    };
    // Host context of the audit, read once: route_localnet rarely changes while watching.
    let host = if args.audit {
        HostContext {
            route_localnet: env.platform().route_localnet(),
        }
    } else {
        HostContext::default()
    };
    let width = || env.style.width.and_then(|_| terminal_columns());

    let mut poller = Poller::new(env, args.select.query(), &filter);
    let mut state = poller.poll(false)?;
    let now = UnixTime::from_system_time(SystemTime::now());
    if args.json {
        let shown = state.values().filter(|e| show(e)).count();
        out_watch::started_json(out, now, args.interval, shown)?;
    } else {
        out_watch::header(out, cols, width())?;
    }
    out.flush()?;

    let every = watch::recheck_every(args.interval);
    let mut polls: u64 = 0;
    let mut events: u64 = 0;
    let mut warned: HashSet<String> = HashSet::new();
    let mut next = Instant::now() + args.interval;
    // Until a stop request (SIGINT, SIGTERM) or a closed stdout.
    while let Wake::Due = pause::pause(next) {
        // A poll that overran its interval does not make the next ones run back to back.
        next = (next + args.interval).max(Instant::now() + args.interval / 2);
        polls += 1;
        let current = poller.poll(polls.is_multiple_of(every))?;
        let now = UnixTime::from_system_time(SystemTime::now());
        let mut changes = watch::diff(&state, &current, &show);
        if args.audit {
            let accepted = Accepted {
                baseline: None,
                allowlist: allowlist.as_ref(),
                allowlist_name: &allowlist_name,
            };
            changes = with_findings(changes, env, &host, accepted, now, |w| {
                if warned.insert(w.clone()) {
                    let _ = print_warnings(err, std::slice::from_ref(&w));
                }
            });
        }
        for event in &changes {
            if args.json {
                out_watch::event_json(out, event, now)?;
            } else {
                out_watch::event_line(out, event, now, cols, env.style, width())?;
            }
        }
        events += changes.len() as u64;
        out.flush()?;
        state = current;
    }
    out.flush()?;
    if std::io::stderr().is_terminal() {
        writeln!(
            err,
            "portscope: {}",
            out_watch::summary(events, started.elapsed())
        )?;
    }
    Ok(Outcome::Found)
}

/// `changes` with a `finding` event after each event that brings one ([`watch::findings_of`]);
/// findings the allowlist covers are left out, its warnings (an expired entry) go to `warn`.
fn with_findings(
    changes: Vec<WatchEvent>,
    env: &Env,
    host: &HostContext,
    accepted: Accepted<'_>,
    now: UnixTime,
    mut warn: impl FnMut(String),
) -> Vec<WatchEvent> {
    let mut out = Vec::with_capacity(changes.len());
    for event in changes {
        let findings = watch::findings_of(&event, RuleSet::builtin(), host);
        if findings.is_empty() {
            out.push(event);
            continue;
        }
        let cgroups = audit::owner_cgroups(&findings, |pid| env.platform().cgroup(pid));
        let report = audit::report(
            findings,
            &cgroups,
            accepted,
            AuditOptions::default(),
            now.date(),
            Vec::new(),
        );
        report.warnings.into_iter().for_each(&mut warn);
        let socket = event.socket.clone();
        out.push(event);
        for finding in report.findings.into_iter().filter(|f| !f.suppressed) {
            out.push(WatchEvent {
                finding: Some(finding),
                ..WatchEvent::new(EventKind::Finding, socket.clone())
            });
        }
    }
    out
}

/// The polls of one watch and what they keep from one to the next: the holders of every
/// socket seen (by inode), the details of those holders, and the last poll's socket table and
/// rows, so that a row whose socket, owners and context did not change is carried over
/// ([`watch::rebuild`]) instead of built again.
struct Poller<'a> {
    env: &'a Env,
    query: SocketQuery,
    filter: &'a Filter,
    /// inode → holders, for every socket of the last poll whose owners were looked up.
    holders: HashMap<u64, Vec<FdRef>>,
    /// Details of every holder, by pid.
    processes: BTreeMap<u32, ProcessInfo>,
    /// What the last owner scan could not read (for the owner-unknown reasons).
    scanned: OwnerScan,
    /// The last poll's socket table by key, its rows, and what they were judged on.
    raw: watch::Table,
    context: RowContext,
}

/// What every row is judged on besides its socket and owners: a change rebuilds every row.
#[derive(Default, PartialEq)]
struct RowContext {
    interfaces: Vec<InterfaceAddr>,
    namespaces: Vec<NetnsFacts>,
    users: HashMap<u32, Option<String>>,
    privileged: bool,
    scan: ScanVerdict,
}

impl<'a> Poller<'a> {
    fn new(env: &'a Env, query: SocketQuery, filter: &'a Filter) -> Self {
        Poller {
            env,
            query,
            filter,
            holders: HashMap::new(),
            processes: BTreeMap::new(),
            scanned: OwnerScan::default(),
            raw: watch::Table::default(),
            context: RowContext::default(),
        }
    }

    /// One poll: the socket table (no owners), the owners of the sockets that need a look-up,
    /// and every row joined with the cached owners (rows that did not change are the last
    /// poll's).
    fn poll(&mut self, recheck: bool) -> Result<State> {
        let collector = &self.env.collector;
        let platform = collector.platform();
        collector.tick();
        let request = Request {
            query: self.query,
            owners: false,
        };
        let filter = self.filter;
        let snapshot = collector.snapshot(&request, &|s| filter.keep_raw(s))?;
        // Owners that exited since the last poll: their sockets may live on in another process.
        let known: FxHashSet<u32> = self.holders.values().flatten().map(|h| h.pid).collect();
        let gone: BTreeSet<u32> = known
            .into_iter()
            .filter(|&pid| !platform.process_exists(ProcView::Root, pid))
            .collect();
        let lookups = watch::owner_lookups(&self.holders, &snapshot.sockets, &gone, recheck);
        let mut refreshed: BTreeSet<u32> = BTreeSet::new();
        if !lookups.is_empty() {
            let scan = match platform.owners_of(&lookups) {
                Some(scan) => scan,
                None => {
                    let only =
                        |s: &crate::model::RawSocket| s.inode.is_some_and(|i| lookups.contains(&i));
                    let mut phases = Phases::default();
                    platform
                        .socket_table(&self.query, &only, true, &mut phases)?
                        .1
                }
            };
            for &inode in &lookups {
                let holders = scan.by_inode.get(&inode).cloned().unwrap_or_default();
                refreshed.extend(holders.iter().map(|h| h.pid));
                self.holders.insert(inode, holders);
            }
            // Details of the holders just found (again on a re-check: a process may exec).
            let pids: Vec<u32> = refreshed.iter().copied().collect();
            self.processes.extend(platform.processes(&pids));
            self.scanned = OwnerScan {
                by_inode: HashMap::new(),
                ..scan
            };
        }
        // Forget sockets that are gone and processes that hold nothing shown.
        let inodes: FxHashSet<u64> = snapshot.sockets.iter().filter_map(|s| s.inode).collect();
        self.holders.retain(|inode, _| inodes.contains(inode));
        let holding: FxHashSet<u32> = self.holders.values().flatten().map(|h| h.pid).collect();
        self.processes
            .retain(|pid, _| holding.contains(pid) && !gone.contains(pid));

        let mut users = snapshot.users;
        for uid in self.processes.values().filter_map(|p| p.uid) {
            users.entry(uid).or_insert_with(|| collector.user_name(uid));
        }
        let context = RowContext {
            interfaces: snapshot.interfaces.clone(),
            namespaces: snapshot.namespaces.clone(),
            users: users.clone(),
            privileged: snapshot.privileged,
            scan: ScanVerdict::of(&self.scanned),
        };
        let carried = watch::Carried {
            raw: &self.raw,
            looked_up: &lookups,
            refreshed: &refreshed,
            context_same: context == self.context,
        };
        let joined = Snapshot {
            owners: OwnerScan {
                by_inode: std::mem::take(&mut self.holders),
                performed: true,
                ..self.scanned.clone()
            },
            processes: std::mem::take(&mut self.processes),
            users,
            ..snapshot
        };
        let rebuild: Vec<bool> = joined
            .sockets
            .iter()
            .map(|s| {
                let holders = s.inode.and_then(|i| joined.owners.by_inode.get(&i));
                watch::rebuild(s, holders.map(Vec::as_slice), &carried)
            })
            .collect();
        let fresh = inventory::build_selected(&joined, self.env.services(), &rebuild);
        // Each socket with its new row, or the row it had. Sockets sharing a key (possible
        // across namespaces, or with a backend that knows no inode) keep the last one's, as a
        // listing would; a socket carried over takes the row stored with that same socket.
        let mut table = watch::Table::default();
        table.reserve(joined.sockets.len());
        for (sock, row) in joined.sockets.into_iter().zip(fresh) {
            let key = sock.key();
            let row = row
                .map(Rc::new)
                .or_else(|| self.raw.get(&key).map(|(_, row)| Rc::clone(row)));
            if let Some(row) = row {
                table.insert(key, (sock, row));
            }
        }
        let rows: State = table
            .iter()
            .map(|(k, (_, row))| (*k, Rc::clone(row)))
            .collect();
        self.raw = table;
        self.holders = joined.owners.by_inode;
        self.processes = joined.processes;
        self.context = context;
        Ok(rows)
    }
}

/// The `--allow` file, read and parsed as `audit` does; an error names the file.
fn load_allowlist(path: &Path) -> Result<Allowlist> {
    let text = read_regular_text(path, INPUT_LIMIT)
        .with_context(|| format!("cannot read allowlist {}", path.display()))?;
    Allowlist::parse(&text).map_err(|e| anyhow!("allowlist {}: {e}", path.display()))
}
