//! `portscope kill PORT[/tcp|/udp]`: show who holds the port (as `who` does), decide whom to
//! signal (`analyze::kill::decide`) and under which pid of portscope's own PID namespace (a
//! `--proc-root` of another namespace shows other numbers), ask, pin each process with a pidfd
//! and re-check it right before signalling it (pids get reused), signal it through the pidfd,
//! and poll the socket table (waking on the pidfds) until the port is free or the timeout
//! passes. When nothing could be signalled it says so at once instead of waiting.
//!
//! Consent comes from `--yes` or a `y` typed on a terminal (stdin). Without a terminal it
//! refuses; `--json` never counts as consent. It must never signal a process that is not, at
//! that moment, a holder of the port: never a pid number read in another namespace, never a
//! process that reused a holder's pid.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::analyze::kill::{
    Delivery, Recheck, Translation, decide, recheck, signal_name, translate, wait_after,
};
use crate::analyze::investigation::TIME_WAIT_SECONDS;
use crate::cli::KillArgs;
use crate::collect::pidns::{self, ProcIdentity};
use crate::collect::signal::{self, Pidfd};
use crate::collect::{self, CollectError};
use crate::commands::who::{Investigation, investigate, sockets_on, sockets_on_with};
use crate::commands::{Env, Outcome, print_pid_namespace, print_warnings};
use crate::model::PortSpec;
use crate::model::{OwnerUnknown, SocketEntry, SocketState};
use crate::render::json::{self, SCHEMA_VERSION};
use crate::render::investigation::{WhoDocument, write_report};

/// How often the socket table is re-read while waiting.
const POLL: Duration = Duration::from_millis(100);
/// How long to wait after SIGKILL (the kernel closes the sockets at exit, at once).
const AFTER_KILL: Duration = Duration::from_secs(2);

/// One holder and what `kill` does with it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// Process id, as read through the proc root (the pids of the `who` report).
    pub pid: u32,
    /// The pid that is signalled, in portscope's own PID namespace: `pid` itself when the proc
    /// root is portscope's own, the same process's pid here when it is another namespace's,
    /// `None` when it has none here (then it is refused).
    pub signal_pid: Option<u32>,
    /// Process name.
    pub name: Option<String>,
    /// Start time that identifies this pid (re-checked before signalling).
    pub start_time: Option<u64>,
    /// `signal` or `refused`.
    pub action: &'static str,
    /// Why it is refused, `null` when it is signalled.
    pub reason: Option<String>,
    /// Who the process is (namespace, pid there, start ticks), re-checked before signalling.
    #[serde(skip)]
    identity: ProcIdentity,
    /// True when `signal_pid` was translated from another PID namespace.
    #[serde(skip)]
    translated: bool,
}

impl Target {
    /// `16262 (python3)`, or for a translated pid `16262 (python3; pid 7 in the PID namespace
    /// of --proc-root)`, sanitized for a terminal.
    fn label(&self) -> String {
        let here = self.signal_pid.unwrap_or(self.pid);
        if self.translated {
            format!(
                "{here} ({}; pid {} in the PID namespace of --proc-root)",
                shown(self.name.as_deref()),
                self.pid
            )
        } else {
            format!("{here} ({})", shown(self.name.as_deref()))
        }
    }
}

/// `portscope kill --json`.
#[derive(Debug, Serialize)]
struct KillDocument<'a> {
    schema_version: u32,
    port: u16,
    proto: Option<crate::model::Proto>,
    dry_run: bool,
    signal: String,
    /// Whom it would signal, whom it refuses.
    targets: &'a [Target],
    /// Pids signalled with the first signal.
    signalled: &'a [u32],
    /// Pids sent SIGKILL after the timeout (`--force`).
    killed: &'a [u32],
    /// True when no socket (other than TIME_WAIT) is left on the port.
    freed: bool,
    /// What happened, in words.
    messages: &'a [String],
    /// The `who` report taken before acting.
    who: WhoDocument<'a>,
}

/// Run `portscope kill`.
///
/// # Errors
/// When the socket table cannot be read or output cannot be written.
pub fn run(
    args: &KillArgs,
    env: &Env<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let spec = args.port;
    let proc_root = &env.global.proc_root;
    let found = investigate(spec, proc_root, false)?;
    print_warnings(err, &found.warnings)?;
    if args.json {
        // The human report says it under its heading.
        print_pid_namespace(err, found.shown_namespace())?;
    }
    let targets = plan(&found, args.force, proc_root);
    let mut messages: Vec<String> = Vec::new();
    let mut signalled: Vec<u32> = Vec::new();
    let mut killed: Vec<u32> = Vec::new();
    let blocking: Vec<&SocketEntry> = found.sockets.iter().filter(|s| blocks(s)).collect();
    // Sockets no file refers to (`kernel`: connections in a listener's accept queue, closing
    // sockets) go away with their listener; only owners that exist but cannot be seen block.
    let unseen = blocking
        .iter()
        .filter(|s| s.processes.is_empty() && s.owner_unknown_reason != Some(OwnerUnknown::Kernel))
        .count();
    let refused = targets.iter().filter(|t| t.action == "refused").count();
    let to_signal: Vec<&Target> = targets.iter().filter(|t| t.action == "signal").collect();

    if !args.json {
        write_report(out, &found.document(), env.style)?;
        writeln!(out)?;
        // stdout is buffered: the report must be on the screen before the prompt or a refusal
        // on stderr.
        out.flush()?;
    }
    let (outcome, freed) = if found.sockets.is_empty() {
        messages.push(format!("Port {spec} is free: nothing to signal."));
        // A dry run reports "nothing would be signalled"; a real run leaves the port free.
        (
            if args.dry_run {
                Outcome::NotFound
            } else {
                Outcome::Found
            },
            true,
        )
    } else if blocking.is_empty() {
        messages.push(format!(
            "Only TIME_WAIT sockets are left on port {spec}: no process holds them; they clear \
             within {TIME_WAIT_SECONDS} seconds."
        ));
        (Outcome::NotFound, false)
    } else if refused > 0 || unseen > 0 || to_signal.is_empty() {
        for t in targets.iter().filter(|t| t.action == "refused") {
            messages.push(format!(
                "Refusing to signal pid {}: {}.",
                t.label(),
                t.reason.as_deref().unwrap_or("refused")
            ));
        }
        if unseen > 0 {
            messages.push(format!(
                "The owner of {unseen} socket(s) on port {spec} cannot be seen, so it cannot be \
                 signalled (see the reasons above)."
            ));
        }
        messages.push("Nothing was signalled: the port could not be freed this way.".to_string());
        (Outcome::Refused, false)
    } else if args.dry_run {
        for t in &to_signal {
            messages.push(format!(
                "Would send {} to pid {}.",
                signal_name(args.signal),
                t.label()
            ));
        }
        (Outcome::Found, false)
    } else if !args.yes && !confirm(err, &to_signal, args.signal)? {
        if std::io::stdin().is_terminal() {
            messages.push("Not confirmed: nothing was signalled.".to_string());
        } else {
            messages.push(
                "No terminal to ask for confirmation on: pass --yes to signal without asking \
                 (--json is not consent). Nothing was signalled."
                    .to_string(),
            );
        }
        (Outcome::Refused, false)
    } else {
        let freed = act(
            args,
            env,
            &found,
            &to_signal,
            &mut signalled,
            &mut killed,
            &mut messages,
        )?;
        let outcome = match (freed, signalled.is_empty()) {
            (true, _) => Outcome::Found,
            (false, false) => Outcome::NotFound,
            // Nothing was signalled and the port is still in use: the holders changed since
            // the report the consent was given for.
            (false, true) => Outcome::Refused,
        };
        (outcome, freed)
    };
    if args.json {
        json::write(
            out,
            &KillDocument {
                schema_version: SCHEMA_VERSION,
                port: spec.port,
                proto: spec.proto,
                dry_run: args.dry_run,
                signal: signal_name(args.signal),
                targets: &targets,
                signalled: &signalled,
                killed: &killed,
                freed,
                messages: &messages,
                who: found.document(),
            },
        )?;
        out.flush()?;
        // Refusals and failures also go to stderr, where a script's log will show them.
        if outcome == Outcome::Refused {
            for m in &messages {
                writeln!(err, "portscope: {m}")?;
            }
        }
    } else {
        let sink: &mut dyn Write = if outcome == Outcome::Refused {
            err
        } else {
            out
        };
        for m in &messages {
            writeln!(sink, "{m}")?;
        }
        out.flush()?;
    }
    Ok(outcome)
}

/// A socket that keeps the port busy and that a process holds (not TIME_WAIT).
/// A process name as it may be shown on a terminal (escape sequences escaped).
fn shown(name: Option<&str>) -> String {
    crate::render::sanitize(name.unwrap_or("?")).into_owned()
}

fn blocks(s: &SocketEntry) -> bool {
    s.state != SocketState::TimeWait
}

/// Decide, per holder, whether it is signalled (and under which pid of portscope's namespace)
/// or refused. Reads each holder's identity through the proc root and, when that is another PID
/// namespace, looks the holder up in portscope's own `/proc`.
fn plan(found: &Investigation, force: bool, proc_root: &Path) -> Vec<Target> {
    let me = std::process::id();
    let ns = found.pid_namespace.as_ref();
    // Processes of portscope's /proc per innermost namespace, read once per namespace.
    let mut candidates: BTreeMap<u64, Option<Vec<(u32, ProcIdentity)>>> = BTreeMap::new();
    let mut out = Vec::with_capacity(found.owners.len());
    for o in &found.owners {
        let identity = pidns::identity(proc_root, o.pid);
        let here = match (ns, identity.ns) {
            (Some(_), Some(inode)) => candidates
                .entry(inode)
                .or_insert_with(|| pidns::own_namespace_processes_in(inode))
                .as_deref(),
            _ => None,
        };
        let translation = translate(o.pid, ns, &identity, here);
        let decision = decide(o.pid, translation, me, o.kernel_thread, Some(o), force);
        out.push(Target {
            pid: o.pid,
            signal_pid: translation.pid(),
            name: o.name.clone(),
            start_time: o.start_time,
            action: if decision.is_ok() {
                "signal"
            } else {
                "refused"
            },
            reason: decision.err().map(|r| r.reason()),
            identity,
            translated: matches!(translation, Translation::Translated(_)),
        });
    }
    out
}

/// Ask on the terminal. Returns false without a terminal (no prompt is shown then).
fn confirm(err: &mut dyn Write, targets: &[&Target], sig: i32) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(false);
    }
    let list: Vec<String> = targets.iter().map(|t| t.label()).collect();
    write!(
        err,
        "Send {} to pid {}? [y/N] ",
        signal_name(sig),
        list.join(", ")
    )?;
    err.flush()?;
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer from the terminal")?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// What the socket table says about one holder right now.
struct Holding {
    /// Its start time (as the report shows it).
    start_time: Option<u64>,
    /// The inodes of the port's sockets it holds.
    inodes: BTreeSet<u64>,
}

/// The current holders of the port by pid, through the proc root. When the proc root can no
/// longer be read (it was a namespace's, and that namespace ended with the processes signalled)
/// nobody read through it holds the port any more: the map is empty.
fn current_holders(spec: PortSpec, env: &Env<'_>) -> Result<BTreeMap<u32, Holding>> {
    let entries = match sockets_on(spec, &env.global.proc_root) {
        Ok((entries, _)) => entries,
        Err(e) if is_proc_root_error(&e) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut holders: BTreeMap<u32, Holding> = BTreeMap::new();
    for e in &entries {
        for p in &e.processes {
            let h = holders.entry(p.pid).or_insert_with(|| Holding {
                start_time: p.start_time,
                inodes: BTreeSet::new(),
            });
            h.inodes.insert(e.inode);
        }
    }
    Ok(holders)
}

fn is_proc_root_error(e: &anyhow::Error) -> bool {
    e.downcast_ref::<CollectError>()
        .is_some_and(|c| matches!(c, CollectError::ProcRoot { .. }))
}

/// True when no socket other than TIME_WAIT is left on the port: the socket table alone, with
/// no owner lookup, so it holds after the proc root has gone.
fn port_free(spec: PortSpec, env: &Env<'_>) -> Result<bool> {
    let (entries, _) = sockets_on_with(spec, &env.global.proc_root, false)?;
    Ok(!entries.iter().any(blocks))
}

/// Signal the targets that still hold the port; wait (only when something was signalled);
/// escalate with `--force`. Returns whether the port ended up free.
fn act(
    args: &KillArgs,
    env: &Env<'_>,
    found: &Investigation,
    targets: &[&Target],
    signalled: &mut Vec<u32>,
    killed: &mut Vec<u32>,
    messages: &mut Vec<String>,
) -> Result<bool> {
    let spec = args.port;
    // The re-check reads the signalled process through the proc filesystem of portscope's own
    // namespace: the proc root when it is that, else /proc.
    let verify_root = if found.pid_namespace.is_some() {
        Path::new("/proc")
    } else {
        env.global.proc_root.as_path()
    };
    let mut pinned: Vec<Pidfd> = Vec::new();
    let round = send_checked(
        spec,
        env,
        verify_root,
        targets,
        args.signal,
        signalled,
        messages,
        &mut pinned,
    )?;
    if !wait_after(&round) {
        return nothing_signalled(spec, env, messages);
    }
    let mut free = wait_free(spec, env, args.timeout, &mut pinned)?;
    if !free && args.force && args.signal != libc::SIGKILL {
        messages.push(format!(
            "Port {spec} is still in use after {:?}: escalating to SIGKILL.",
            args.timeout
        ));
        pinned.clear();
        let round = send_checked(
            spec,
            env,
            verify_root,
            targets,
            libc::SIGKILL,
            killed,
            messages,
            &mut pinned,
        )?;
        free = if wait_after(&round) {
            wait_free(spec, env, AFTER_KILL, &mut pinned)?
        } else {
            port_free(spec, env)?
        };
    }
    if free {
        messages.push(format!("Port {spec} is free."));
    } else {
        let holders = current_holders(spec, env)?;
        let pids: Vec<String> = holders.keys().map(u32::to_string).collect();
        let hint = if args.force {
            ""
        } else {
            " (add --force to escalate to SIGKILL)"
        };
        messages.push(format!(
            "Port {spec} is still in use after {:?}{}{hint}.",
            args.timeout,
            if pids.is_empty() {
                String::new()
            } else {
                format!(", held by pid {}", pids.join(", "))
            }
        ));
    }
    Ok(free)
}

/// Nothing was signalled (every holder left, changed, or could not be signalled): look once,
/// say so, and return at once instead of waiting out `--timeout`.
fn nothing_signalled(spec: PortSpec, env: &Env<'_>, messages: &mut Vec<String>) -> Result<bool> {
    let free = port_free(spec, env)?;
    if free {
        messages.push(format!(
            "Nothing was signalled: the holders left, and port {spec} is free."
        ));
    } else {
        let pids: Vec<String> = current_holders(spec, env)?
            .keys()
            .map(u32::to_string)
            .collect();
        messages.push(format!(
            "Nothing was signalled (see above), so there is nothing to wait for: port {spec} is \
             still in use{}. Run `portscope kill {spec}` again to see who holds it now.",
            if pids.is_empty() {
                String::new()
            } else {
                format!(" (held by pid {})", pids.join(", "))
            }
        ));
    }
    Ok(free)
}

/// For each target: check it still holds the port with the same start time (through the proc
/// root), pin its pid in portscope's namespace with a pidfd, re-check through `verify_root`
/// that the pinned process is the planned one and holds a socket of the port, and only then
/// signal it through the pidfd (kill(2) where pidfds do not exist). Signalled pidfds are kept in
/// `pinned` to wait on.
#[allow(clippy::too_many_arguments)]
fn send_checked(
    spec: PortSpec,
    env: &Env<'_>,
    verify_root: &Path,
    targets: &[&Target],
    sig: i32,
    sent: &mut Vec<u32>,
    messages: &mut Vec<String>,
    pinned: &mut Vec<Pidfd>,
) -> Result<Vec<Delivery>> {
    let holders = current_holders(spec, env)?;
    let mut round = Vec::with_capacity(targets.len());
    for t in targets {
        let delivery = deliver(spec, env, verify_root, &holders, t, sig, messages, pinned);
        if delivery == Delivery::Sent {
            sent.push(t.pid);
        }
        round.push(delivery);
    }
    Ok(round)
}

/// One target of [`send_checked`].
#[allow(clippy::too_many_arguments)]
fn deliver(
    spec: PortSpec,
    env: &Env<'_>,
    verify_root: &Path,
    holders: &BTreeMap<u32, Holding>,
    t: &Target,
    sig: i32,
    messages: &mut Vec<String>,
    pinned: &mut Vec<Pidfd>,
) -> Delivery {
    let label = t.label();
    let holding = match holders.get(&t.pid) {
        Some(h) if h.start_time == t.start_time => h,
        Some(_) => {
            messages.push(format!(
                "pid {} now belongs to another process (start time changed): not signalled.",
                t.pid
            ));
            return Delivery::Changed;
        }
        None => {
            messages.push(format!(
                "pid {} no longer holds port {spec}: not signalled.",
                t.pid
            ));
            return Delivery::Changed;
        }
    };
    let Some(here) = t.signal_pid else {
        // Only targets with a pid here are planned for a signal.
        return Delivery::Changed;
    };
    let gone = |messages: &mut Vec<String>| {
        messages.push(format!("pid {label} exited before the signal."));
        Delivery::Gone
    };
    // Pin the process first: from here on, a reused pid cannot receive the signal.
    let pidfd = match Pidfd::open(here) {
        Ok(pidfd) => pidfd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return gone(messages),
        Err(e) => {
            messages.push(format!("Cannot signal pid {label}: {e}."));
            return Delivery::Failed;
        }
    };
    if !verify_root.join(here.to_string()).exists() {
        return gone(messages);
    }
    let now = pidns::identity(verify_root, here);
    let holds = pidns::holds_any_socket(verify_root, here, &holding.inodes).ok();
    match recheck(&t.identity, &now, t.translated, holds) {
        Recheck::Holder => {}
        Recheck::OtherProcess => {
            messages.push(format!(
                "pid {label} now belongs to another process: not signalled."
            ));
            return Delivery::Changed;
        }
        Recheck::NotHolding => {
            messages.push(format!(
                "pid {label} no longer holds port {spec}: not signalled."
            ));
            return Delivery::Changed;
        }
        Recheck::Unverifiable => {
            messages.push(format!(
                "pid {label} cannot be verified as the holder of port {spec} (its /proc \
                 entries are unreadable): not signalled."
            ));
            return Delivery::Changed;
        }
    }
    // The re-check read /proc/<here>; it was about the pinned process only if that process had
    // not exited by the end of it (a pid is reused only after its process is gone).
    if pidfd.as_ref().is_some_and(|p| p.exited().unwrap_or(true)) {
        return gone(messages);
    }
    let result = match &pidfd {
        Some(p) => p.send(sig),
        None => signal::send(here, sig),
    };
    match result {
        Ok(()) => {
            messages.push(format!("Sent {} to pid {label}.", signal_name(sig)));
            pinned.extend(pidfd);
            Delivery::Sent
        }
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => gone(messages),
        Err(e) => {
            messages.push(format!(
                "Cannot signal pid {label}: {e}{}",
                if collect::privileged(&env.global.proc_root) {
                    ""
                } else {
                    " (run with sudo)"
                }
            ));
            Delivery::Failed
        }
    }
}

/// Poll the socket table until no blocking socket is left or `timeout` passes. Between looks it
/// waits on the signalled processes' pidfds, so an exit is noticed at once; without pidfds it
/// sleeps.
fn wait_free(
    spec: PortSpec,
    env: &Env<'_>,
    timeout: Duration,
    pinned: &mut Vec<Pidfd>,
) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if port_free(spec, env)? {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        let pause = POLL.min(deadline - now);
        if pinned.is_empty() {
            std::thread::sleep(pause);
            continue;
        }
        match signal::wait_exit(pinned, pause) {
            Ok(exited) => {
                // An exited process's pidfd stays readable: stop waiting on it.
                let mut flags = exited.into_iter();
                pinned.retain(|_| !flags.next().unwrap_or(false));
            }
            Err(_) => {
                pinned.clear();
                std::thread::sleep(pause);
            }
        }
    }
}
