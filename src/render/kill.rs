//! The words of `portscope kill`: what the plan decided (the port is free, only TIME_WAIT is
//! left, who is refused and why — [`refusal`] —, what a dry run would send), the consent
//! prompt, one message per event while acting (with the platform's error), and the
//! `kill --json` document with its targets. Process names are sanitized before they reach a
//! terminal.
//!
//! It must not collect, decide or signal anything: it only words what the plan and the command
//! report.

use std::time::Duration;

use serde::Serialize;

use crate::analyze::kill::{Action, Event, KillPlan, NoTranslation, Refusal, Target, Verdict};
use crate::model::{PortSpec, Proto, Signal, SignalError, TIME_WAIT_SECONDS};
use crate::render::investigation::WhoDocument;
use crate::render::sanitize;

/// `portscope kill --json` (see docs/json.md).
#[derive(Debug, Serialize)]
pub struct KillDocument<'a> {
    /// Always [`crate::render::json::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The port asked about.
    pub port: u16,
    /// The protocol asked about, `null` for both.
    pub proto: Option<Proto>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// The first signal, `SIGTERM`.
    pub signal: String,
    /// Whom it would signal, whom it refuses.
    pub targets: Vec<TargetDocument<'a>>,
    /// Pids signalled with the first signal.
    pub signalled: &'a [u32],
    /// Pids sent SIGKILL after the timeout (`--force`).
    pub killed: &'a [u32],
    /// True when no socket (other than TIME_WAIT) is left on the port.
    pub freed: bool,
    /// What happened, in words.
    pub messages: &'a [String],
    /// The `who` report taken before acting.
    pub who: WhoDocument<'a>,
}

/// One target in `kill --json`: `{pid, signal_pid, name, start_time, action, reason}`.
#[derive(Debug, Serialize)]
pub struct TargetDocument<'a> {
    /// The holder's pid as the `who` document shows it.
    pub pid: u32,
    /// The pid signalled, in portscope's own PID namespace; `null` when it has none.
    pub signal_pid: Option<u32>,
    /// Process name.
    pub name: Option<&'a str>,
    /// Start time that identifies this pid.
    pub start_time: Option<u64>,
    /// `signal` or `refused`.
    pub action: &'static str,
    /// Why it is refused ([`refusal`]), `null` when it is signalled.
    pub reason: Option<String>,
}

/// The targets of the plan as `kill --json` writes them.
#[must_use]
pub fn targets(targets: &[Target]) -> Vec<TargetDocument<'_>> {
    targets
        .iter()
        .map(|t| TargetDocument {
            pid: t.pid,
            signal_pid: t.signal_pid,
            name: t.name.as_deref(),
            start_time: t.start_time,
            action: match t.action {
                Action::Signal => "signal",
                Action::Refused => "refused",
            },
            reason: t.reason.as_ref().map(refusal),
        })
        .collect()
}

/// Why a holder is not signalled, in one sentence (without the full stop).
#[must_use]
pub fn refusal(r: &Refusal) -> String {
    match r {
        Refusal::PidZero => "pid 0 is not a process".to_string(),
        Refusal::Init => "pid 1 is the init process / service manager; never signalled".to_string(),
        Refusal::System => "pid 4 is Windows' System process (the kernel, with http.sys); never \
                            terminated: stop the service that registered the port instead \
                            (`netsh http show servicestate`)"
            .to_string(),
        Refusal::OwnPid => "it is portscope itself".to_string(),
        Refusal::KernelThread => "it is a kernel thread".to_string(),
        Refusal::Forwarder(kind) => format!(
            "it is a container port forwarder ({kind}): stop the container instead (or use --force)"
        ),
        Refusal::Container(runtime) => format!(
            "it runs in a {runtime} container, which its runtime may restart: stop the container \
             instead (or use --force)"
        ),
        Refusal::ServiceUnit(unit) => format!(
            "it belongs to {unit}, which systemd may restart: stop the unit instead (or use --force)"
        ),
        Refusal::OtherNamespace(why) => no_translation(*why),
    }
}

/// Why a holder seen through another PID namespace has no pid in portscope's own.
fn no_translation(why: NoTranslation) -> String {
    let lead = "its pid is that of the PID namespace of --proc-root, not portscope's own";
    match why {
        NoTranslation::Unreadable => format!(
            "{lead}, and its identity there (ns/pid, NSpid, start time) cannot be read, so its \
             pid here is unknown (run as root)"
        ),
        NoTranslation::NoOwnProc => format!(
            "{lead}, and /proc is not portscope's own proc filesystem, so its pid here cannot be \
             found"
        ),
        NoTranslation::Outside { ancestor: true } => format!(
            "{lead}, and it runs outside portscope's namespace: run portscope in that namespace \
             to signal it (e.g. nsenter -t 1 -p -m from the host)"
        ),
        NoTranslation::Outside { ancestor: false } => format!(
            "{lead}, and no process of portscope's namespace is that process (it exited, or its \
             namespace is not nested in portscope's)"
        ),
        NoTranslation::Ambiguous => format!("{lead}, and several processes here match it"),
    }
}

/// The platform's error as a message: the operating system's own words where it gave some.
fn signal_error(e: &SignalError) -> String {
    match e {
        SignalError::Gone => "no such process".to_string(),
        SignalError::NotPermitted(os) | SignalError::Other(os) => os.clone(),
        SignalError::Unsupported => "signals are not supported on this platform".to_string(),
    }
}

/// A process name as it may be shown on a terminal (escape sequences escaped).
fn shown(name: Option<&str>) -> String {
    sanitize(name.unwrap_or("?")).into_owned()
}

/// `16262 (python3)`, or for a translated pid `16262 (python3; pid 7 in the PID namespace of
/// --proc-root)`, sanitized for a terminal.
#[must_use]
pub fn label(t: &Target) -> String {
    let here = t.signal_pid.unwrap_or(t.pid);
    if t.translated {
        format!(
            "{here} ({}; pid {} in the PID namespace of --proc-root)",
            shown(t.name.as_deref()),
            t.pid
        )
    } else {
        format!("{here} ({})", shown(t.name.as_deref()))
    }
}

/// What the plan says before anything is signalled: nothing for a plan that goes on to
/// signal (with or without asking first).
#[must_use]
pub fn plan_messages(plan: &KillPlan, spec: PortSpec, signal: Signal) -> Vec<String> {
    match plan.verdict {
        Verdict::Free => vec![format!("Port {spec} is free: nothing to signal.")],
        Verdict::OnlyTimeWait => vec![format!(
            "Only TIME_WAIT sockets are left on port {spec}: no process holds them; they clear \
             within {TIME_WAIT_SECONDS} seconds."
        )],
        Verdict::Refused { unseen } => {
            let mut out: Vec<String> = plan
                .refused()
                .into_iter()
                .map(|t| {
                    format!(
                        "Refusing to signal pid {}: {}.",
                        label(t),
                        t.reason
                            .as_ref()
                            .map_or_else(|| "refused".to_string(), refusal)
                    )
                })
                .collect();
            if unseen > 0 {
                out.push(format!(
                    "The owner of {unseen} socket(s) on port {spec} cannot be seen, so it cannot \
                     be signalled (see the reasons above)."
                ));
            }
            out.push("Nothing was signalled: the port could not be freed this way.".to_string());
            out
        }
        Verdict::DryRun => plan
            .to_signal()
            .into_iter()
            .map(|t| format!("Would send {signal} to pid {}.", label(t)))
            .collect(),
        Verdict::NeedsConsent | Verdict::Go => Vec::new(),
    }
}

/// The question asked on the terminal before signalling.
#[must_use]
pub fn prompt(signal: Signal, targets: &[&Target]) -> String {
    let list: Vec<String> = targets.iter().map(|t| label(t)).collect();
    format!("Send {signal} to pid {}? [y/N] ", list.join(", "))
}

/// Why nothing was signalled when consent was not given: declined on the `terminal`, or no
/// terminal to ask on.
#[must_use]
pub fn not_confirmed(terminal: bool) -> String {
    if terminal {
        "Not confirmed: nothing was signalled.".to_string()
    } else {
        "No terminal to ask for confirmation on: pass --yes to signal without asking (--json \
         is not consent). Nothing was signalled."
            .to_string()
    }
}

/// `, held by pid 1, 2` (`lead` and the list), or nothing when no holder is known.
fn held_by(lead: &str, pids: &[u32], close: &str) -> String {
    if pids.is_empty() {
        String::new()
    } else {
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        format!("{lead}{}{close}", pids.join(", "))
    }
}

/// One message for what happened while acting on port `spec`.
#[must_use]
pub fn event(spec: PortSpec, e: &Event<'_>) -> String {
    match e {
        Event::Reused(t) => format!(
            "pid {} now belongs to another process (start time changed): not signalled.",
            t.pid
        ),
        Event::Left(t) => format!("pid {} no longer holds port {spec}: not signalled.", t.pid),
        Event::Exited(t) => format!("pid {} exited before the signal.", label(t)),
        Event::CannotPin(t, error) => {
            format!("Cannot signal pid {}: {}.", label(t), signal_error(error))
        }
        Event::OtherProcess(t) => format!(
            "pid {} now belongs to another process: not signalled.",
            label(t)
        ),
        Event::NotHolding(t) => format!(
            "pid {} no longer holds port {spec}: not signalled.",
            label(t)
        ),
        Event::Unverifiable(t) => format!(
            "pid {} cannot be verified as the holder of port {spec} (its /proc entries are \
             unreadable): not signalled.",
            label(t)
        ),
        Event::Sent(t, signal) => format!("Sent {signal} to pid {}.", label(t)),
        Event::SendFailed {
            target,
            error,
            privileged,
        } => format!(
            "Cannot signal pid {}: {}{}",
            label(target),
            signal_error(error),
            if *privileged { "" } else { " (run with sudo)" }
        ),
        Event::Escalating(timeout) => format!(
            "Port {spec} is still in use after {}: escalating to SIGKILL.",
            duration(*timeout)
        ),
        Event::Freed => format!("Port {spec} is free."),
        Event::StillInUse {
            timeout,
            holders,
            force,
        } => format!(
            "Port {spec} is still in use after {}{}{}.",
            duration(*timeout),
            held_by(", held by pid ", holders, ""),
            if *force {
                ""
            } else {
                " (add --force to escalate to SIGKILL)"
            }
        ),
        Event::NothingSignalledFree => {
            format!("Nothing was signalled: the holders left, and port {spec} is free.")
        }
        Event::NothingSignalledInUse(holders) => format!(
            "Nothing was signalled (see above), so there is nothing to wait for: port {spec} is \
             still in use{}. Run `portscope kill {spec}` again to see who holds it now.",
            held_by(" (held by pid ", holders, ")")
        ),
    }
}

/// `5s`, `500ms`, `1.5s`: the `--timeout` as Rust's `Debug` writes a `Duration`.
fn duration(d: Duration) -> String {
    format!("{d:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerRuntime, ForwarderKind};

    fn target(pid: u32, here: Option<u32>, translated: bool, reason: Option<Refusal>) -> Target {
        Target {
            pid,
            signal_pid: here,
            name: Some("python3".into()),
            start_time: Some(1),
            action: if reason.is_some() {
                Action::Refused
            } else {
                Action::Signal
            },
            reason,
            identity: crate::model::ProcIdentity::default(),
            translated,
        }
    }

    fn spec() -> PortSpec {
        PortSpec {
            port: 8080,
            proto: Some(Proto::Tcp),
        }
    }

    #[test]
    fn labels() {
        let plain = target(42, Some(42), false, None);
        let moved = target(3, Some(16_262), true, None);
        let evil = Target {
            name: Some("x\u{1b}[2J".into()),
            ..plain.clone()
        };
        let unnamed = Target {
            name: None,
            ..plain.clone()
        };
        let refused = target(3, None, false, Some(Refusal::Init));
        let cases = [
            (&plain, "42 (python3)"),
            (
                &moved,
                "16262 (python3; pid 3 in the PID namespace of --proc-root)",
            ),
            (&evil, "42 (x\\x1b[2J)"),
            (&unnamed, "42 (?)"),
            (&refused, "3 (python3)"),
        ];
        for (t, want) in cases {
            assert_eq!(label(t), want);
        }
    }

    #[test]
    fn plan_wording() {
        let go = target(42, Some(42), false, None);
        let init = target(1, Some(1), false, Some(Refusal::Init));
        let plan = |verdict, targets: &[&Target]| KillPlan {
            targets: targets.iter().map(|t| (*t).clone()).collect(),
            verdict,
        };
        let cases: Vec<(KillPlan, Vec<&str>)> = vec![
            (
                plan(Verdict::Free, &[]),
                vec!["Port 8080/tcp is free: nothing to signal."],
            ),
            (
                plan(Verdict::OnlyTimeWait, &[]),
                vec![
                    "Only TIME_WAIT sockets are left on port 8080/tcp: no process holds them; \
                     they clear within 60 seconds.",
                ],
            ),
            (
                plan(Verdict::Refused { unseen: 0 }, &[&init, &go]),
                vec![
                    "Refusing to signal pid 1 (python3): pid 1 is the init process / service \
                     manager; never signalled.",
                    "Nothing was signalled: the port could not be freed this way.",
                ],
            ),
            (
                plan(Verdict::Refused { unseen: 2 }, &[&go]),
                vec![
                    "The owner of 2 socket(s) on port 8080/tcp cannot be seen, so it cannot be \
                     signalled (see the reasons above).",
                    "Nothing was signalled: the port could not be freed this way.",
                ],
            ),
            (
                plan(Verdict::DryRun, &[&go, &init]),
                vec!["Would send SIGHUP to pid 42 (python3)."],
            ),
            (plan(Verdict::NeedsConsent, &[&go]), vec![]),
            (plan(Verdict::Go, &[&go]), vec![]),
        ];
        let hup: Signal = "HUP".parse().unwrap();
        for (plan, want) in cases {
            assert_eq!(
                plan_messages(&plan, spec(), hup),
                want,
                "{:?}",
                plan.verdict
            );
        }
        assert_eq!(
            prompt(Signal::Term, &[&go, &go]),
            "Send SIGTERM to pid 42 (python3), 42 (python3)? [y/N] "
        );
        assert!(not_confirmed(true).starts_with("Not confirmed"));
        assert!(not_confirmed(false).contains("pass --yes"));
    }

    #[test]
    fn event_wording() {
        let t = target(42, Some(42), false, None);
        let five = Duration::from_secs(5);
        let half = Duration::from_millis(500);
        let eperm = SignalError::NotPermitted("Operation not permitted (os error 1)".into());
        let cases: Vec<(Event<'_>, &str)> = vec![
            (
                Event::Reused(&t),
                "pid 42 now belongs to another process (start time changed): not signalled.",
            ),
            (
                Event::Left(&t),
                "pid 42 no longer holds port 8080/tcp: not signalled.",
            ),
            (
                Event::Exited(&t),
                "pid 42 (python3) exited before the signal.",
            ),
            (
                Event::CannotPin(&t, eperm.clone()),
                "Cannot signal pid 42 (python3): Operation not permitted (os error 1).",
            ),
            (
                Event::OtherProcess(&t),
                "pid 42 (python3) now belongs to another process: not signalled.",
            ),
            (
                Event::NotHolding(&t),
                "pid 42 (python3) no longer holds port 8080/tcp: not signalled.",
            ),
            (
                Event::Unverifiable(&t),
                "pid 42 (python3) cannot be verified as the holder of port 8080/tcp (its /proc \
                 entries are unreadable): not signalled.",
            ),
            (
                Event::Sent(&t, Signal::Kill),
                "Sent SIGKILL to pid 42 (python3).",
            ),
            (
                Event::SendFailed {
                    target: &t,
                    error: eperm.clone(),
                    privileged: false,
                },
                "Cannot signal pid 42 (python3): Operation not permitted (os error 1) (run with \
                 sudo)",
            ),
            (
                Event::SendFailed {
                    target: &t,
                    error: eperm.clone(),
                    privileged: true,
                },
                "Cannot signal pid 42 (python3): Operation not permitted (os error 1)",
            ),
            (
                Event::Escalating(half),
                "Port 8080/tcp is still in use after 500ms: escalating to SIGKILL.",
            ),
            (Event::Freed, "Port 8080/tcp is free."),
            (
                Event::StillInUse {
                    timeout: five,
                    holders: vec![42, 43],
                    force: false,
                },
                "Port 8080/tcp is still in use after 5s, held by pid 42, 43 (add --force to \
                 escalate to SIGKILL).",
            ),
            (
                Event::StillInUse {
                    timeout: five,
                    holders: vec![],
                    force: true,
                },
                "Port 8080/tcp is still in use after 5s.",
            ),
            (
                Event::NothingSignalledFree,
                "Nothing was signalled: the holders left, and port 8080/tcp is free.",
            ),
            (
                Event::NothingSignalledInUse(vec![7]),
                "Nothing was signalled (see above), so there is nothing to wait for: port \
                 8080/tcp is still in use (held by pid 7). Run `portscope kill 8080/tcp` again \
                 to see who holds it now.",
            ),
            (
                Event::NothingSignalledInUse(vec![]),
                "Nothing was signalled (see above), so there is nothing to wait for: port \
                 8080/tcp is still in use. Run `portscope kill 8080/tcp` again to see who holds \
                 it now.",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(event(spec(), &e), want, "{e:?}");
        }
    }

    #[test]
    fn errors_in_the_platforms_words() {
        let t = target(42, Some(42), false, None);
        let cases = [
            (
                SignalError::Other("No such file (os error 2)".into()),
                "No such file (os error 2)",
            ),
            (SignalError::Gone, "no such process"),
            (
                SignalError::Unsupported,
                "signals are not supported on this platform",
            ),
        ];
        for (error, words) in cases {
            assert_eq!(
                event(spec(), &Event::CannotPin(&t, error)),
                format!("Cannot signal pid 42 (python3): {words}.")
            );
        }
    }

    /// Every refusal in one sentence; the JSON `reason` is the same sentence.
    #[test]
    fn refusal_wording() {
        let lead = "its pid is that of the PID namespace of --proc-root, not portscope's own";
        let cases: Vec<(Refusal, String)> = vec![
            (Refusal::PidZero, "pid 0 is not a process".into()),
            (
                Refusal::Init,
                "pid 1 is the init process / service manager; never signalled".into(),
            ),
            (
                Refusal::System,
                "pid 4 is Windows' System process (the kernel, with http.sys); never terminated: \
                 stop the service that registered the port instead (`netsh http show \
                 servicestate`)"
                    .into(),
            ),
            (Refusal::OwnPid, "it is portscope itself".into()),
            (Refusal::KernelThread, "it is a kernel thread".into()),
            (
                Refusal::Forwarder(ForwarderKind::DockerProxy),
                format!(
                    "it is a container port forwarder ({}): stop the container instead (or use \
                     --force)",
                    ForwarderKind::DockerProxy
                ),
            ),
            (
                Refusal::Container(ContainerRuntime::Podman),
                "it runs in a podman container, which its runtime may restart: stop the \
                 container instead (or use --force)"
                    .into(),
            ),
            (
                Refusal::ServiceUnit("nginx.service".into()),
                "it belongs to nginx.service, which systemd may restart: stop the unit instead \
                 (or use --force)"
                    .into(),
            ),
            (
                Refusal::OtherNamespace(NoTranslation::Unreadable),
                format!(
                    "{lead}, and its identity there (ns/pid, NSpid, start time) cannot be read, \
                     so its pid here is unknown (run as root)"
                ),
            ),
            (
                Refusal::OtherNamespace(NoTranslation::NoOwnProc),
                format!(
                    "{lead}, and /proc is not portscope's own proc filesystem, so its pid here \
                     cannot be found"
                ),
            ),
            (
                Refusal::OtherNamespace(NoTranslation::Outside { ancestor: true }),
                format!(
                    "{lead}, and it runs outside portscope's namespace: run portscope in that \
                     namespace to signal it (e.g. nsenter -t 1 -p -m from the host)"
                ),
            ),
            (
                Refusal::OtherNamespace(NoTranslation::Outside { ancestor: false }),
                format!(
                    "{lead}, and no process of portscope's namespace is that process (it exited, \
                     or its namespace is not nested in portscope's)"
                ),
            ),
            (
                Refusal::OtherNamespace(NoTranslation::Ambiguous),
                format!("{lead}, and several processes here match it"),
            ),
        ];
        for (r, want) in cases {
            assert_eq!(refusal(&r), want, "{r:?}");
            let t = target(7, None, false, Some(r));
            let json = serde_json::to_value(targets(std::slice::from_ref(&t))).unwrap();
            assert_eq!(json[0]["reason"], want.as_str());
        }
    }

    #[test]
    fn targets_keep_their_json_names() {
        let refused = Target {
            name: Some("x".into()),
            translated: true,
            ..target(7, None, false, Some(Refusal::OwnPid))
        };
        let signalled = target(8, Some(16_000), true, None);
        assert_eq!(
            serde_json::to_string(&targets(&[refused, signalled])).unwrap(),
            r#"[{"pid":7,"signal_pid":null,"name":"x","start_time":1,"action":"refused","reason":"it is portscope itself"},{"pid":8,"signal_pid":16000,"name":"python3","start_time":1,"action":"signal","reason":null}]"#
        );
    }
}
