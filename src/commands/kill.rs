//! `portscope kill PORT[/tcp|/udp]`: show who holds the port (as `who` does), decide whom to
//! signal (`analyze::kill::refusal`), ask, re-check each pid right before signalling it (pids get
//! reused), signal, and poll the socket table until the port is free or the timeout passes.
//!
//! Consent comes from `--yes` or a `y` typed on a terminal (stdin). Without a terminal it
//! refuses; `--json` never counts as consent. It must never signal a pid that is not, at that
//! moment, a holder of the port with the same start time.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::analyze::filter::PortSpec;
use crate::analyze::kill::{refusal, signal_name};
use crate::analyze::who::TIME_WAIT_SECONDS;
use crate::cli::KillArgs;
use crate::collect::{self, signal};
use crate::commands::who::{Investigation, investigate, sockets_on};
use crate::commands::{Env, Outcome, print_warnings};
use crate::model::{OwnerUnknown, SocketEntry, SocketState};
use crate::render::json::{self, SCHEMA_VERSION};
use crate::render::who::{WhoDocument, write_report};

/// How often the socket table is re-read while waiting.
const POLL: Duration = Duration::from_millis(100);
/// How long to wait after SIGKILL (the kernel closes the sockets at exit, at once).
const AFTER_KILL: Duration = Duration::from_secs(2);

/// One holder and what `kill` does with it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// Process id.
    pub pid: u32,
    /// Process name.
    pub name: Option<String>,
    /// Start time that identifies this pid (re-checked before signalling).
    pub start_time: Option<u64>,
    /// `signal` or `refused`.
    pub action: &'static str,
    /// Why it is refused, `null` when it is signalled.
    pub reason: Option<String>,
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
    let targets = plan(&found, args.force);
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
                "Refusing to signal pid {} ({}): {}.",
                t.pid,
                shown(t.name.as_deref()),
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
                "Would send {} to pid {} ({}).",
                signal_name(args.signal),
                t.pid,
                shown(t.name.as_deref())
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
            &to_signal,
            &mut signalled,
            &mut killed,
            &mut messages,
        )?;
        (
            if freed {
                Outcome::Found
            } else {
                Outcome::NotFound
            },
            freed,
        )
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

/// Decide, per holder, whether it is signalled or refused.
fn plan(found: &Investigation, force: bool) -> Vec<Target> {
    let me = std::process::id();
    found
        .owners
        .iter()
        .map(|o| {
            let why = refusal(o.pid, me, o.kernel_thread, Some(o), force);
            Target {
                pid: o.pid,
                name: o.name.clone(),
                start_time: o.start_time,
                action: if why.is_some() { "refused" } else { "signal" },
                reason: why.map(|r| r.reason()),
            }
        })
        .collect()
}

/// Ask on the terminal. Returns false without a terminal (no prompt is shown then).
fn confirm(err: &mut dyn Write, targets: &[&Target], sig: i32) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(false);
    }
    let list: Vec<String> = targets
        .iter()
        .map(|t| format!("{} ({})", t.pid, shown(t.name.as_deref())))
        .collect();
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

/// The current holders of the port: pid → start time.
fn current_holders(spec: PortSpec, env: &Env<'_>) -> Result<(BTreeMap<u32, Option<u64>>, bool)> {
    let (entries, _) = sockets_on(spec, &env.global.proc_root)?;
    let mut holders = BTreeMap::new();
    for e in &entries {
        for p in &e.processes {
            holders.insert(p.pid, p.start_time);
        }
    }
    let free = !entries.iter().any(blocks);
    Ok((holders, free))
}

/// Signal the targets that still hold the port; wait; escalate with `--force`. Returns whether
/// the port ended up free.
fn act(
    args: &KillArgs,
    env: &Env<'_>,
    targets: &[&Target],
    signalled: &mut Vec<u32>,
    killed: &mut Vec<u32>,
    messages: &mut Vec<String>,
) -> Result<bool> {
    let spec = args.port;
    send_checked(spec, env, targets, args.signal, signalled, messages)?;
    let mut free = wait_free(spec, env, args.timeout)?;
    if !free && args.force && args.signal != libc::SIGKILL {
        messages.push(format!(
            "Port {spec} is still in use after {:?}: escalating to SIGKILL.",
            args.timeout
        ));
        send_checked(spec, env, targets, libc::SIGKILL, killed, messages)?;
        free = wait_free(spec, env, AFTER_KILL)?;
    }
    if free {
        messages.push(format!("Port {spec} is free."));
    } else {
        let (holders, _) = current_holders(spec, env)?;
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

/// Re-check each target (same pid, same start time, still a holder), then send `sig`.
fn send_checked(
    spec: PortSpec,
    env: &Env<'_>,
    targets: &[&Target],
    sig: i32,
    sent: &mut Vec<u32>,
    messages: &mut Vec<String>,
) -> Result<()> {
    let (holders, _) = current_holders(spec, env)?;
    for t in targets {
        match holders.get(&t.pid) {
            Some(start) if *start == t.start_time => {}
            Some(_) => {
                messages.push(format!(
                    "pid {} now belongs to another process (start time changed): not signalled.",
                    t.pid
                ));
                continue;
            }
            None => {
                messages.push(format!(
                    "pid {} no longer holds port {spec}: not signalled.",
                    t.pid
                ));
                continue;
            }
        }
        match signal::send(t.pid, sig) {
            Ok(()) => {
                sent.push(t.pid);
                messages.push(format!(
                    "Sent {} to pid {} ({}).",
                    signal_name(sig),
                    t.pid,
                    shown(t.name.as_deref())
                ));
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                messages.push(format!("pid {} exited before the signal.", t.pid));
            }
            Err(e) => {
                messages.push(format!(
                    "Cannot signal pid {}: {e}{}",
                    t.pid,
                    if collect::privileged(&env.global.proc_root) {
                        ""
                    } else {
                        " (run with sudo)"
                    }
                ));
            }
        }
    }
    Ok(())
}

/// Poll the socket table until no blocking socket is left or `timeout` passes.
fn wait_free(spec: PortSpec, env: &Env<'_>, timeout: Duration) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let (_, free) = current_holders(spec, env)?;
        if free {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(POLL);
    }
}
