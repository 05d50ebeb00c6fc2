//! `portscope kill PORT[/tcp|/udp]`: show who holds the port (as `who` does, without the bind
//! probe), plan whom to signal (`analyze::kill::plan`: under which pid of portscope's own PID
//! namespace, since a `--proc-root` of another namespace shows other numbers, or why not), ask,
//! pin each process with a pidfd and re-check it right before signalling it (pids get reused),
//! signal it through the pidfd, and poll the socket table (waking on the pidfds) until the port
//! is free or the timeout passes. When nothing could be signalled it says so at once instead of
//! waiting. The wording is `render::kill`'s.
//!
//! Consent comes from `--yes` or a `y` typed on a terminal (stdin). Without a terminal it
//! refuses; `--json` never counts as consent. It must never signal a process that is not, at
//! that moment, a holder of the port: never a pid number read in another namespace, never a
//! process that reused a holder's pid.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::analyze::kill::{
    self, Attempt, Delivery, Event, HolderFacts, Holding, KillOptions, Next, Pin, Reread, Step,
    Stream, Target, blocks, wait_after,
};
use crate::cli::KillArgs;
use crate::collect::{CollectError, Pinned, Platform, ProcView};
use crate::commands::investigate::{Probe, investigate, sockets_on};
use crate::commands::{Env, Outcome, print_pid_namespace, print_warnings, report_format};
use crate::model::{Investigation, Os, PortSpec, ProcIdentity, Signal};
use crate::render::ReportFormat;
use crate::render::investigation::{WhoDocument, write_report};
use crate::render::json::{self, SCHEMA_VERSION};
use crate::render::kill::{KillDocument, event, not_confirmed, plan_messages, prompt, targets};

/// How often the socket table is re-read while waiting.
const POLL: Duration = Duration::from_millis(100);
/// How long to wait after SIGKILL (the kernel closes the sockets at exit, at once).
const AFTER_KILL: Duration = Duration::from_secs(2);

/// Run `portscope kill`.
///
/// # Errors
/// When the socket table cannot be read or output cannot be written.
pub fn run(
    args: &KillArgs,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let spec = args.port;
    let format = report_format(args.format(), "kill")?;
    let found = investigate(env, spec, Probe::Skip)?;
    print_warnings(err, &found.warnings)?;
    match format {
        // The human report says it under its heading.
        ReportFormat::Json => print_pid_namespace(err, found.shown_namespace())?,
        ReportFormat::Table => {}
    }
    let options = KillOptions {
        force: args.force,
        dry_run: args.dry_run,
        yes: args.yes,
        os: Os::CURRENT,
    };
    let plan = kill::plan(
        &found,
        &holder_facts(&found, env.platform()),
        options,
        std::process::id(),
    );
    let mut messages = plan_messages(&plan, spec, args.signal);
    let mut signalled: Vec<u32> = Vec::new();
    let mut killed: Vec<u32> = Vec::new();

    match format {
        ReportFormat::Json => {}
        ReportFormat::Table => {
            write_report(out, &WhoDocument::of(&found), env.style)?;
            writeln!(out)?;
            // stdout is buffered: the report must be on the screen before the prompt or a
            // refusal on stderr.
            out.flush()?;
        }
    }
    let mut step = kill::after_plan(plan.verdict, args.dry_run);
    let (outcome, freed) = loop {
        match step {
            Step::Done { outcome, freed } => break (outcome, freed),
            Step::Ask => {
                let confirmed = confirm(err, &plan.to_signal(), args.signal)?;
                if !confirmed {
                    messages.push(not_confirmed(std::io::stdin().is_terminal()));
                }
                step = kill::after_consent(confirmed);
            }
            Step::Act => {
                let freed = act(
                    args,
                    env,
                    &found,
                    &plan.to_signal(),
                    &mut signalled,
                    &mut killed,
                    &mut messages,
                )?;
                break (kill::after_acting(freed, !signalled.is_empty()), freed);
            }
        }
    };
    let in_document = match format {
        ReportFormat::Json => {
            json::write(
                out,
                &KillDocument {
                    schema_version: SCHEMA_VERSION,
                    port: spec.port,
                    proto: spec.proto,
                    dry_run: args.dry_run,
                    signal: args.signal.to_string(),
                    targets: targets(&plan.targets),
                    signalled: &signalled,
                    killed: &killed,
                    freed,
                    messages: &messages,
                    who: WhoDocument::of(&found),
                },
            )?;
            out.flush()?;
            true
        }
        ReportFormat::Table => false,
    };
    match kill::message_stream(outcome, in_document) {
        // Beside the JSON document, in the form of portscope's other stderr notes.
        Some(Stream::Stderr) if in_document => {
            for m in &messages {
                writeln!(err, "portscope: {m}")?;
            }
        }
        Some(Stream::Stderr) => {
            for m in &messages {
                writeln!(err, "{m}")?;
            }
        }
        Some(Stream::Stdout) => {
            for m in &messages {
                writeln!(out, "{m}")?;
            }
        }
        None => {}
    }
    out.flush()?;
    Ok(outcome)
}

/// Each holder's identity through the proc root and, when that is another PID namespace, the
/// processes of portscope's own `/proc` in each holder's namespace (read once per namespace).
fn holder_facts(found: &Investigation, platform: &dyn Platform) -> HolderFacts {
    let identities: BTreeMap<u32, ProcIdentity> = found
        .owners
        .iter()
        .map(|o| (o.pid, platform.identity(ProcView::Root, o.pid)))
        .collect();
    let candidates = if found.pid_namespace.is_some() {
        identities
            .values()
            .filter_map(|id| id.ns)
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .map(|ns| (ns, platform.own_namespace_processes_in(ns)))
            .collect()
    } else {
        BTreeMap::new()
    };
    HolderFacts {
        identities,
        candidates,
    }
}

/// Ask on the terminal. Returns false without a terminal (no prompt is shown then).
fn confirm(err: &mut dyn Write, targets: &[&Target], signal: Signal) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(false);
    }
    write!(err, "{}", prompt(signal, targets))?;
    err.flush()?;
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer from the terminal")?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// The port being freed and where to look: the environment whose platform reads the holders
/// through the proc root, and the view a process is re-checked in right before its signal
/// (portscope's own `/proc` when the proc root is another PID namespace's, else the proc root).
#[derive(Clone, Copy)]
struct Port<'a> {
    spec: PortSpec,
    env: &'a Env,
    verify: ProcView,
}

/// The current holders of the port by pid, through the proc root. When the proc root can no
/// longer be read (it was a namespace's, and that namespace ended with the processes signalled)
/// nobody read through it holds the port any more: the map is empty.
fn current_holders(port: Port<'_>) -> Result<BTreeMap<u32, Holding>> {
    match sockets_on(port.env, port.spec, true) {
        Ok((entries, _)) => Ok(kill::holders_now(&entries)),
        Err(e) if is_proc_root_error(&e) => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

fn is_proc_root_error(e: &anyhow::Error) -> bool {
    e.downcast_ref::<CollectError>()
        .is_some_and(|c| matches!(c, CollectError::ProcRoot { .. }))
}

/// True when no socket other than TIME_WAIT is left on the port: the socket table alone, with
/// no owner lookup, so it holds after the proc root has gone.
fn port_free(port: Port<'_>) -> Result<bool> {
    let (entries, _) = sockets_on(port.env, port.spec, false)?;
    Ok(!entries.iter().any(blocks))
}

/// Signal the targets that still hold the port; wait (only when something was signalled);
/// escalate with `--force`. Returns whether the port ended up free.
fn act(
    args: &KillArgs,
    env: &Env,
    found: &Investigation,
    targets: &[&Target],
    signalled: &mut Vec<u32>,
    killed: &mut Vec<u32>,
    messages: &mut Vec<String>,
) -> Result<bool> {
    let port = Port {
        spec: args.port,
        env,
        verify: if found.pid_namespace.is_some() {
            ProcView::Own
        } else {
            ProcView::Root
        },
    };
    let mut pinned: Vec<Pinned> = Vec::new();
    let round = send_checked(port, targets, args.signal, signalled, messages, &mut pinned)?;
    if !wait_after(&round) {
        return nothing_signalled(port, messages);
    }
    let mut free = wait_free(port, args.timeout, &mut pinned)?;
    if kill::escalate(args.force, args.signal, free) {
        messages.push(event(port.spec, &Event::Escalating(args.timeout)));
        pinned.clear();
        let round = send_checked(port, targets, Signal::Kill, killed, messages, &mut pinned)?;
        free = if wait_after(&round) {
            wait_free(port, AFTER_KILL, &mut pinned)?
        } else {
            port_free(port)?
        };
    }
    let said = if free {
        Event::Freed
    } else {
        Event::StillInUse {
            timeout: args.timeout,
            holders: current_holders(port)?.into_keys().collect(),
            force: args.force,
        }
    };
    messages.push(event(port.spec, &said));
    Ok(free)
}

/// Nothing was signalled (every holder left, changed, or could not be signalled): look once,
/// say so, and return at once instead of waiting out `--timeout`.
fn nothing_signalled(port: Port<'_>, messages: &mut Vec<String>) -> Result<bool> {
    let free = port_free(port)?;
    let said = if free {
        Event::NothingSignalledFree
    } else {
        Event::NothingSignalledInUse(current_holders(port)?.into_keys().collect())
    };
    messages.push(event(port.spec, &said));
    Ok(free)
}

/// For each target: check it still holds the port with the same start time (through the proc
/// root), pin its pid in portscope's namespace with a pidfd, re-check through the verify root
/// that the pinned process is the planned one and holds a socket of the port, and only then
/// signal it through the pidfd (kill(2) where pidfds do not exist). Signalled pidfds are kept in
/// `pinned` to wait on.
fn send_checked(
    port: Port<'_>,
    targets: &[&Target],
    signal: Signal,
    sent: &mut Vec<u32>,
    messages: &mut Vec<String>,
    pinned: &mut Vec<Pinned>,
) -> Result<Vec<Delivery>> {
    let holders = current_holders(port)?;
    let mut round = Vec::with_capacity(targets.len());
    for t in targets {
        let (delivery, said) = deliver(port, &holders, t, signal, pinned);
        if let Some(said) = said {
            messages.push(event(port.spec, &said));
        }
        if delivery == Delivery::Sent {
            sent.push(t.pid);
        }
        round.push(delivery);
    }
    Ok(round)
}

/// One target of [`send_checked`]: gather the facts `analyze::kill::deliver` asks for, in its
/// order, until it says what came of it and what to say. A pinned process that was signalled
/// is kept in `pinned` to wait on.
fn deliver<'t>(
    port: Port<'_>,
    holders: &'t BTreeMap<u32, Holding>,
    t: &'t Target,
    signal: Signal,
    pinned: &mut Vec<Pinned>,
) -> (Delivery, Option<Event<'t>>) {
    let platform = port.env.platform();
    let holding = holders.get(&t.pid);
    let mut facts = Attempt::default();
    let mut pidfd: Option<Pinned> = None;
    loop {
        match kill::deliver(t, holding, signal, &facts) {
            Next::Done(delivery, said) => {
                if delivery == Delivery::Sent {
                    pinned.extend(pidfd);
                }
                return (delivery, said);
            }
            Next::Pin(here) => {
                facts.pin = Some(match platform.pin(here) {
                    Ok(Some(p)) => {
                        pidfd = Some(p);
                        Pin::Pinned
                    }
                    Ok(None) => Pin::NoHandle,
                    Err(e) => Pin::Failed(e),
                });
            }
            Next::CheckExists(here) => {
                facts.exists = Some(platform.process_exists(port.verify, here));
            }
            Next::Recheck { pid, inodes } => {
                facts.reread = Some(Reread {
                    identity: platform.identity(port.verify, pid),
                    holds: platform
                        .holds_any_socket(port.verify, pid, port.spec, inodes)
                        .ok(),
                });
            }
            Next::CheckExited => {
                // An exit that cannot be told counts as one: nothing is sent then.
                facts.exited = Some(pidfd.as_ref().is_none_or(|p| p.exited().unwrap_or(true)));
            }
            Next::Send(here) => {
                facts.sent = Some(match &pidfd {
                    Some(p) => p.send(signal),
                    None => platform.signal(here, signal),
                });
            }
            Next::CheckPrivileged => facts.privileged = Some(platform.privileged()),
        }
    }
}

/// Poll the socket table until no blocking socket is left or `timeout` passes. Between looks it
/// waits on the signalled processes' pidfds, so an exit is noticed at once; without pidfds it
/// sleeps.
fn wait_free(port: Port<'_>, timeout: Duration, pinned: &mut Vec<Pinned>) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        if port_free(port)? {
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
        match port.env.platform().wait_exit(pinned, pause) {
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
