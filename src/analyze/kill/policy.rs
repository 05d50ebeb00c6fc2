//! The policy of `portscope kill`: whom it must never signal, whom only with `--force`, which
//! pid of portscope's own namespace a holder seen through another namespace's `--proc-root` is
//! (or that it has none), whether the process about to be signalled is still the holder,
//! whether to wait after a round of signals, and the parsers of `--signal` and `--timeout`.
//!
//! Pure: it decides from data and never sends a signal or reads the system (sending lives in
//! `collect::signal`, identities are read by `collect::pidns`).

use std::time::Duration;

use crate::analyze::investigation::{OwnerDetails, restarting_unit};
use crate::collect::pidns::ProcIdentity;
use crate::model::PidNamespace;

/// Why a holder is not signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// pid 0 is not a process (the kernel's idle task / swapper).
    PidZero,
    /// pid 1 is the service manager: signalling it stops the machine or is ignored.
    Init,
    /// portscope's own process.
    OwnPid,
    /// A kernel thread cannot be signalled meaningfully.
    KernelThread,
    /// A container runtime's port forwarder; the container should be stopped instead (`--force`
    /// overrides).
    Forwarder(String),
    /// A process inside a container; the runtime may restart it (`--force` overrides).
    Container(String),
    /// A process of a `.service` unit systemd may restart (`--force` overrides).
    ServiceUnit(String),
    /// The holder lives in another PID namespace (`--proc-root`) and its pid in portscope's own
    /// cannot be found: signalling the same number here would hit another process.
    OtherNamespace(NoTranslation),
}

impl Refusal {
    /// True when `--force` lets the kill go ahead anyway.
    #[must_use]
    pub fn overridable(&self) -> bool {
        matches!(
            self,
            Refusal::Forwarder(_) | Refusal::Container(_) | Refusal::ServiceUnit(_)
        )
    }

    /// One sentence for the user.
    #[must_use]
    pub fn reason(&self) -> String {
        match self {
            Refusal::PidZero => "pid 0 is not a process".to_string(),
            Refusal::Init => {
                "pid 1 is the init process / service manager; never signalled".to_string()
            }
            Refusal::OwnPid => "it is portscope itself".to_string(),
            Refusal::KernelThread => "it is a kernel thread".to_string(),
            Refusal::Forwarder(kind) => format!(
                "it is a container port forwarder ({kind}): stop the container instead (or use --force)"
            ),
            Refusal::Container(runtime) => format!(
                "it runs in a {runtime} container, which its runtime may restart: stop the container instead (or use --force)"
            ),
            Refusal::ServiceUnit(unit) => format!(
                "it belongs to {unit}, which systemd may restart: stop the unit instead (or use --force)"
            ),
            Refusal::OtherNamespace(why) => why.to_string(),
        }
    }
}

/// Decide whether a holder may be signalled. Hard refusals (pid 0, pid 1, portscope itself, a
/// kernel thread) hold even with `--force`; the others only without it.
#[must_use]
pub fn refusal(
    pid: u32,
    self_pid: u32,
    is_kernel_thread: bool,
    owner: Option<&OwnerDetails>,
    force: bool,
) -> Option<Refusal> {
    let hard = match pid {
        0 => Some(Refusal::PidZero),
        1 => Some(Refusal::Init),
        p if p == self_pid => Some(Refusal::OwnPid),
        _ if is_kernel_thread || owner.is_some_and(|o| o.kernel_thread) => {
            Some(Refusal::KernelThread)
        }
        _ => None,
    };
    if hard.is_some() {
        return hard;
    }
    let soft = owner.and_then(|o| {
        if let Some(f) = &o.forwarder {
            Some(Refusal::Forwarder(f.kind.clone()))
        } else if let Some(c) = &o.container {
            Some(Refusal::Container(c.runtime.clone()))
        } else {
            restarting_unit(o).map(|u| Refusal::ServiceUnit(u.to_string()))
        }
    });
    soft.filter(|_| !force)
}

/// Why a holder seen through another PID namespace's proc root has no pid in portscope's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTranslation {
    /// Its `ns/pid`, `NSpid:` or start time cannot be read through the proc root.
    Unreadable,
    /// `/proc` is not portscope's own proc filesystem, so there is nothing to look it up in.
    NoOwnProc,
    /// No process of portscope's namespace is that process: it lives outside portscope's
    /// namespace (`ancestor`: the proc root's namespace contains portscope's, e.g. a host's
    /// `/proc` seen from a container), or it exited.
    Outside {
        /// The proc root's namespace contains portscope's own.
        ancestor: bool,
    },
    /// Several processes match (it cannot happen; refused rather than guessed).
    Ambiguous,
}

impl std::fmt::Display for NoTranslation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lead = "its pid is that of the PID namespace of --proc-root, not portscope's own";
        match self {
            NoTranslation::Unreadable => write!(
                f,
                "{lead}, and its identity there (ns/pid, NSpid, start time) cannot be read, so \
                 its pid here is unknown (run as root)"
            ),
            NoTranslation::NoOwnProc => write!(
                f,
                "{lead}, and /proc is not portscope's own proc filesystem, so its pid here \
                 cannot be found"
            ),
            NoTranslation::Outside { ancestor: true } => write!(
                f,
                "{lead}, and it runs outside portscope's namespace: run portscope in that \
                 namespace to signal it (e.g. nsenter -t 1 -p -m from the host)"
            ),
            NoTranslation::Outside { ancestor: false } => write!(
                f,
                "{lead}, and no process of portscope's namespace is that process (it exited, \
                 or its namespace is not nested in portscope's)"
            ),
            NoTranslation::Ambiguous => write!(f, "{lead}, and several processes here match it"),
        }
    }
}

/// The pid to signal, in portscope's own PID namespace, for a holder whose pid was read
/// through the proc root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translation {
    /// The proc root is portscope's own namespace: the same number.
    Same(u32),
    /// Another namespace: this process of portscope's namespace is the holder.
    Translated(u32),
    /// Another namespace, and the holder has no pid here that can be trusted.
    Impossible(NoTranslation),
}

impl Translation {
    /// The pid in portscope's namespace, when there is one.
    #[must_use]
    pub fn pid(self) -> Option<u32> {
        match self {
            Translation::Same(pid) | Translation::Translated(pid) => Some(pid),
            Translation::Impossible(_) => None,
        }
    }
}

/// True when two identities name one process: every field known on both sides, and equal.
#[must_use]
pub fn same_process(a: &ProcIdentity, b: &ProcIdentity) -> bool {
    a.ns.is_some() && a.ns_pid.is_some() && a.start_ticks.is_some() && a == b
}

/// Translate the holder `pid`, read through a proc root whose namespace is `ns` (`None`: it is
/// portscope's own), to portscope's namespace. `holder` is its identity read through the proc
/// root; `candidates` are the processes of portscope's `/proc` in the holder's innermost
/// namespace with their identities (`None` when `/proc` is not portscope's own). The one
/// candidate with the same identity is the holder.
#[must_use]
pub fn translate(
    pid: u32,
    ns: Option<&PidNamespace>,
    holder: &ProcIdentity,
    candidates: Option<&[(u32, ProcIdentity)]>,
) -> Translation {
    let Some(ns) = ns else {
        return Translation::Same(pid);
    };
    if holder.ns.is_none() || holder.ns_pid.is_none() || holder.start_ticks.is_none() {
        return Translation::Impossible(NoTranslation::Unreadable);
    }
    let Some(candidates) = candidates else {
        return Translation::Impossible(NoTranslation::NoOwnProc);
    };
    let found: Vec<u32> = candidates
        .iter()
        .filter(|(_, id)| same_process(holder, id))
        .map(|(p, _)| *p)
        .collect();
    match found.as_slice() {
        [one] => Translation::Translated(*one),
        [] => Translation::Impossible(NoTranslation::Outside {
            ancestor: ns.ancestor,
        }),
        _ => Translation::Impossible(NoTranslation::Ambiguous),
    }
}

/// Decide whether a holder may be signalled and under which pid of portscope's namespace.
/// `pid` is the holder's pid as read through the proc root: pid 0 and 1 there are refused (1
/// is its namespace's init, whose end takes the namespace down). The translated pid then goes
/// through [`refusal`], so pid 1 and portscope itself are checked in portscope's namespace.
///
/// # Errors
/// The refusal.
pub fn decide(
    pid: u32,
    translation: Translation,
    self_pid: u32,
    is_kernel_thread: bool,
    owner: Option<&OwnerDetails>,
    force: bool,
) -> Result<u32, Refusal> {
    match pid {
        0 => return Err(Refusal::PidZero),
        1 => return Err(Refusal::Init),
        _ => {}
    }
    let here = match translation {
        Translation::Same(p) | Translation::Translated(p) => p,
        Translation::Impossible(why) => return Err(Refusal::OtherNamespace(why)),
    };
    match refusal(here, self_pid, is_kernel_thread, owner, force) {
        Some(r) => Err(r),
        None => Ok(here),
    }
}

/// What the re-check right before a signal found, with the process pinned (pidfd) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// Still the planned process, still holding a socket of the port: signal it.
    Holder,
    /// The pid names another process now (start time or namespace identity changed).
    OtherProcess,
    /// The same process, but it no longer holds a socket of the port.
    NotHolding,
    /// Its identity or descriptors cannot be read: it cannot be verified, so it is not signalled.
    Unverifiable,
}

/// The re-check: `planned` is the identity recorded when the plan was made (through the proc
/// root), `now` the identity read now through the proc filesystem of portscope's namespace
/// (the same proc root when it is portscope's own), `holds` whether the process's descriptors
/// still include a socket of the port (`None`: unreadable). A translated holder must match on
/// every field; in portscope's own namespace fields unreadable on both sides (a kernel without
/// `NSpid:`) are tolerated, but the start time must be known and equal.
#[must_use]
pub fn recheck(
    planned: &ProcIdentity,
    now: &ProcIdentity,
    translated: bool,
    holds: Option<bool>,
) -> Recheck {
    let same = if translated {
        same_process(planned, now)
    } else {
        planned.start_ticks.is_some() && planned == now
    };
    match (same, holds) {
        _ if planned.start_ticks.is_none() || now.start_ticks.is_none() => Recheck::Unverifiable,
        (false, _) => Recheck::OtherProcess,
        (true, Some(true)) => Recheck::Holder,
        (true, Some(false)) => Recheck::NotHolding,
        (true, None) => Recheck::Unverifiable,
    }
}

/// What one signal attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The signal was delivered.
    Sent,
    /// The holder exited before the signal.
    Gone,
    /// The pid no longer names the holder (another process, or it dropped the socket), or that
    /// cannot be verified: not signalled.
    Changed,
    /// The signal could not be sent (EPERM, …).
    Failed,
}

/// Whether to wait for the port after a round of signals: only when something was signalled.
/// When nothing was, waiting out `--timeout` could not change anything.
#[must_use]
pub fn wait_after(deliveries: &[Delivery]) -> bool {
    deliveries.contains(&Delivery::Sent)
}

/// Parse `--signal`: a name (`TERM`, `SIGTERM`, `kill`, case ignored) or a number 1–64.
///
/// # Errors
/// A message naming the value.
pub fn parse_signal(text: &str) -> Result<i32, String> {
    // Only signals whose default action ends the process: stopping, continuing or ignored
    // signals (STOP, TSTP, CONT, WINCH, CHLD, …) would leave kill waiting for a port that is
    // never freed.
    const NAMES: [(&str, i32); 8] = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("TERM", libc::SIGTERM),
        ("ALRM", libc::SIGALRM),
    ];
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if NAMES.iter().any(|&(_, sig)| sig == n) {
            Ok(n)
        } else {
            let nums: Vec<String> = NAMES
                .iter()
                .map(|(n, sig)| format!("{sig} ({n})"))
                .collect();
            Err(format!(
                "signal '{t}' would not end the process: give one of {}",
                nums.join(", ")
            ))
        };
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, sig)| sig)
        .ok_or_else(|| {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown signal '{t}': give a number or one of {}",
                names.join(", ")
            )
        })
}

/// The name of a signal number for messages (`SIGTERM`), or `signal N`.
#[must_use]
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGTERM => "SIGTERM",
        libc::SIGALRM => "SIGALRM",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGWINCH => "SIGWINCH",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// Parse `--timeout`: `5` (seconds), `2s`, `1.5s`, `500ms`, `1m`.
///
/// # Errors
/// A message naming the value.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "'{t}' is not a duration: write seconds (5, 1.5s), milliseconds (500ms) or minutes (1m)"
        )
    };
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let number = number.trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let secs = value * scale;
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("'{t}' is too long: at most one day"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::owner::{Container, Forwarder};

    fn owner(pid: u32) -> OwnerDetails {
        OwnerDetails {
            pid,
            name: Some("x".into()),
            cmdline: vec![],
            exe: None,
            uid: None,
            user: None,
            start_time: None,
            age_seconds: None,
            parents: vec![],
            cgroup: None,
            unit: None,
            unit_user_manager: None,
            socket_unit: None,
            socket_activated: false,
            container: None,
            forwarder: None,
            kernel_thread: false,
        }
    }

    #[test]
    fn refusals() {
        let me = 500;
        let plain = owner(42);
        let mut service = owner(43);
        service.unit = Some("nginx.service".into());
        let mut scope = owner(44);
        scope.unit = Some("session-2.scope".into());
        let mut proxy = owner(45);
        proxy.forwarder = Some(Forwarder {
            kind: "docker-proxy".into(),
            container_address: None,
            container_port: None,
        });
        let mut boxed = owner(46);
        boxed.container = Some(Container {
            runtime: "docker".into(),
            id: "a".repeat(64),
            name: None,
            pod_uid: None,
        });
        let mut kthread = owner(47);
        kthread.kernel_thread = true;
        type Case<'a> = (u32, bool, Option<&'a OwnerDetails>, bool, Option<Refusal>);
        let cases: Vec<Case> = vec![
            (42, false, Some(&plain), false, None),
            (42, false, None, false, None),
            (0, false, None, true, Some(Refusal::PidZero)),
            (1, false, None, true, Some(Refusal::Init)),
            (1, false, Some(&plain), false, Some(Refusal::Init)),
            (me, false, None, true, Some(Refusal::OwnPid)),
            (2, true, None, true, Some(Refusal::KernelThread)),
            (47, false, Some(&kthread), true, Some(Refusal::KernelThread)),
            (
                43,
                false,
                Some(&service),
                false,
                Some(Refusal::ServiceUnit("nginx.service".into())),
            ),
            (43, false, Some(&service), true, None),
            (44, false, Some(&scope), false, None),
            (
                45,
                false,
                Some(&proxy),
                false,
                Some(Refusal::Forwarder("docker-proxy".into())),
            ),
            (45, false, Some(&proxy), true, None),
            (
                46,
                false,
                Some(&boxed),
                false,
                Some(Refusal::Container("docker".into())),
            ),
            (46, false, Some(&boxed), true, None),
        ];
        for (pid, kt, o, force, want) in cases {
            assert_eq!(
                refusal(pid, me, kt, o, force),
                want,
                "pid {pid} force {force}"
            );
        }
        assert!(!Refusal::Init.overridable());
        assert!(Refusal::ServiceUnit("a.service".into()).overridable());
        assert!(
            Refusal::Forwarder("pasta".into())
                .reason()
                .contains("--force")
        );
    }

    fn id(ns: u64, ns_pid: u32, start: u64) -> ProcIdentity {
        ProcIdentity {
            ns: Some(ns),
            ns_pid: Some(ns_pid),
            start_ticks: Some(start),
        }
    }

    fn other_ns(ancestor: bool) -> PidNamespace {
        PidNamespace {
            proc_root: "/proc/42/root/proc".into(),
            inode: Some(9),
            own_inode: Some(1),
            ancestor,
        }
    }

    /// The issue-8 case: a holder with pid 3 in a container's namespace is host pid 16262;
    /// host pid 3 (a bystander with that number) is never the answer.
    #[test]
    fn translations() {
        let child = other_ns(false);
        let host = other_ns(true);
        let holder = id(9, 3, 500);
        let bystander = (3, id(1, 3, 100));
        let real = (16_262, holder);
        let reused = (16_300, id(9, 3, 501));
        let unknown = ProcIdentity::default();
        type Case<'a> = (
            Option<&'a PidNamespace>,
            ProcIdentity,
            Option<Vec<(u32, ProcIdentity)>>,
            Translation,
        );
        let cases: Vec<Case> = vec![
            // portscope's own namespace: the number as it is, nothing looked up.
            (None, holder, None, Translation::Same(3)),
            (None, unknown, None, Translation::Same(3)),
            (
                Some(&child),
                holder,
                Some(vec![bystander, real]),
                Translation::Translated(16_262),
            ),
            // Same namespace and pid there, but another start time: a reused pid, not it.
            (
                Some(&child),
                holder,
                Some(vec![bystander, reused]),
                Translation::Impossible(NoTranslation::Outside { ancestor: false }),
            ),
            (
                Some(&child),
                holder,
                Some(vec![]),
                Translation::Impossible(NoTranslation::Outside { ancestor: false }),
            ),
            (
                Some(&host),
                holder,
                Some(vec![]),
                Translation::Impossible(NoTranslation::Outside { ancestor: true }),
            ),
            (
                Some(&child),
                ProcIdentity { ns: None, ..holder },
                Some(vec![real]),
                Translation::Impossible(NoTranslation::Unreadable),
            ),
            (
                Some(&child),
                holder,
                None,
                Translation::Impossible(NoTranslation::NoOwnProc),
            ),
            (
                Some(&child),
                holder,
                Some(vec![real, (16_263, holder)]),
                Translation::Impossible(NoTranslation::Ambiguous),
            ),
        ];
        for (ns, holder, candidates, want) in cases {
            assert_eq!(
                translate(3, ns, &holder, candidates.as_deref()),
                want,
                "{holder:?} in {ns:?}"
            );
        }
        assert_eq!(Translation::Translated(7).pid(), Some(7));
        assert_eq!(
            Translation::Impossible(NoTranslation::Unreadable).pid(),
            None
        );
    }

    #[test]
    fn decisions_check_each_namespace() {
        let me = 500;
        let plain = owner(3);
        let outside = Translation::Impossible(NoTranslation::Outside { ancestor: false });
        type Case<'a> = (
            u32,
            Translation,
            Option<&'a OwnerDetails>,
            Result<u32, Refusal>,
        );
        let cases: Vec<Case> = vec![
            (42, Translation::Same(42), Some(&plain), Ok(42)),
            (3, Translation::Translated(16_262), Some(&plain), Ok(16_262)),
            // No pid here: refused, even with --force (below), never signalled as "3".
            (
                3,
                outside,
                Some(&plain),
                Err(Refusal::OtherNamespace(NoTranslation::Outside {
                    ancestor: false,
                })),
            ),
            // pid 1 of the container is its init: its end takes the namespace down.
            (1, Translation::Translated(16_000), None, Err(Refusal::Init)),
            (0, Translation::Same(0), None, Err(Refusal::PidZero)),
            // A holder whose pid here is portscope itself or init here.
            (7, Translation::Translated(me), None, Err(Refusal::OwnPid)),
            (7, Translation::Translated(1), None, Err(Refusal::Init)),
            // Pid 500 in the container is not portscope (pid 500 here).
            (me, Translation::Translated(16_001), None, Ok(16_001)),
        ];
        for (pid, translation, o, want) in cases {
            assert_eq!(
                decide(pid, translation, me, false, o, false),
                want,
                "pid {pid} {translation:?}"
            );
        }
        let refused = decide(3, outside, me, false, Some(&plain), true).unwrap_err();
        assert!(!refused.overridable());
        assert!(
            refused.reason().contains("--proc-root"),
            "{}",
            refused.reason()
        );
    }

    #[test]
    fn rechecks() {
        let planned = id(9, 3, 500);
        let own_ns_no_nspid = ProcIdentity {
            ns: None,
            ns_pid: None,
            start_ticks: Some(500),
        };
        let cases: &[(ProcIdentity, ProcIdentity, bool, Option<bool>, Recheck)] = &[
            (planned, planned, true, Some(true), Recheck::Holder),
            (planned, planned, false, Some(true), Recheck::Holder),
            (
                planned,
                id(9, 3, 501),
                true,
                Some(true),
                Recheck::OtherProcess,
            ),
            (
                planned,
                id(9, 3, 501),
                false,
                Some(true),
                Recheck::OtherProcess,
            ),
            (
                planned,
                id(8, 3, 500),
                true,
                Some(true),
                Recheck::OtherProcess,
            ),
            (planned, planned, true, Some(false), Recheck::NotHolding),
            (planned, planned, true, None, Recheck::Unverifiable),
            (
                planned,
                ProcIdentity::default(),
                false,
                None,
                Recheck::Unverifiable,
            ),
            (
                ProcIdentity::default(),
                planned,
                false,
                Some(true),
                Recheck::Unverifiable,
            ),
            // A kernel without NSpid, in portscope's own namespace: the start time decides.
            (
                own_ns_no_nspid,
                own_ns_no_nspid,
                false,
                Some(true),
                Recheck::Holder,
            ),
            // Translated holders need every field.
            (
                own_ns_no_nspid,
                own_ns_no_nspid,
                true,
                Some(true),
                Recheck::OtherProcess,
            ),
        ];
        for (planned, now, translated, holds, want) in cases {
            assert_eq!(
                recheck(planned, now, *translated, *holds),
                *want,
                "{planned:?} / {now:?} translated {translated} holds {holds:?}"
            );
        }
    }

    /// Waiting for the port makes sense only after a signal went out: a round where every
    /// holder left or changed returns at once instead of waiting out --timeout.
    #[test]
    fn waits_only_after_a_signal() {
        use Delivery::{Changed, Failed, Gone, Sent};
        let cases: &[(&[Delivery], bool)] = &[
            (&[Sent], true),
            (&[Gone, Sent], true),
            (&[Changed, Failed, Sent], true),
            (&[], false),
            (&[Gone], false),
            (&[Changed], false),
            (&[Failed], false),
            (&[Gone, Changed, Failed], false),
        ];
        for (round, want) in cases {
            assert_eq!(wait_after(round), *want, "{round:?}");
        }
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM"), Ok(libc::SIGTERM));
        assert_eq!(parse_signal("sigkill"), Ok(libc::SIGKILL));
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal(" hup "), Ok(libc::SIGHUP));
        assert!(parse_signal("0").unwrap_err().contains("'0'"));
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("STOP").is_err());
        assert!(parse_signal("19").unwrap_err().contains("would not end"));
        assert!(parse_signal("BOGUS").unwrap_err().contains("'BOGUS'"));
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(40), "signal 40");
    }

    #[test]
    fn timeouts() {
        let ok: &[(&str, u64)] = &[
            ("5", 5000),
            ("2s", 2000),
            ("500ms", 500),
            ("1.5s", 1500),
            ("0", 0),
            ("1m", 60_000),
            (" 3 ", 3000),
        ];
        for (input, ms) in ok {
            assert_eq!(
                parse_timeout(input).map(|d| d.as_millis()),
                Ok(u128::from(*ms)),
                "{input}"
            );
        }
        for bad in ["", "s", "5h", "-1", "five", "1e3", "99999999"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
        assert!(parse_timeout("five").unwrap_err().contains("'five'"));
    }
}
