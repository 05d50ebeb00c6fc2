//! The plan of `portscope kill` over an investigation of the port: per holder, whether it is
//! signalled and under which pid of portscope's own PID namespace or why it is refused, and
//! what the command does next (the port is free, only TIME_WAIT is left, nothing may be
//! signalled, a dry run, ask first, or go).
//!
//! Pure: the holders' identities are read by the platform (`collect::Platform::identity`) and
//! passed in; nothing here reads the system, sends a signal or words a message (a refusal is a
//! [`Refusal`], worded by `render::kill`, which also writes the JSON of a [`Target`]).

use std::collections::BTreeMap;

use crate::analyze::kill::identity::{Translation, translate};
use crate::analyze::kill::policy::{Refusal, decide};
use crate::model::ProcIdentity;
use crate::model::{Investigation, Os, OwnerUnknown, SocketEntry, SocketState};

/// What `kill` was asked to do, beyond the port and the signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KillOptions {
    /// `--force`: overrides the refusals `Refusal::overridable`
    /// says it may.
    pub force: bool,
    /// `--dry-run`: only say whom it would signal.
    pub dry_run: bool,
    /// `--yes`: signal without asking.
    pub yes: bool,
    /// The system the holders run on (its protected pids differ).
    pub os: Os,
}

/// What the facts of the holders say beyond the investigation: read by the platform (`collect::Platform::identity`, `own_namespace_processes_in`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolderFacts {
    /// Each holder's identity read through the proc root, by pid; a holder missing here has
    /// an identity of which nothing could be read.
    pub identities: BTreeMap<u32, ProcIdentity>,
    /// Only when the proc root is another PID namespace's: for each innermost namespace
    /// (inode) of a holder, the processes of portscope's own `/proc` in it with their
    /// identities, `None` when `/proc` is not portscope's own.
    pub candidates: BTreeMap<u64, Option<Vec<(u32, ProcIdentity)>>>,
}

/// What `kill` does with one holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It is signalled (after the consent and a re-check).
    Signal,
    /// It is not signalled; `reason` says why.
    Refused,
}

/// One holder and what `kill` does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub action: Action,
    /// Why it is refused, `None` when it is signalled.
    pub reason: Option<Refusal>,
    /// Who the process is (namespace, pid there, start ticks), re-checked before signalling.
    pub identity: ProcIdentity,
    /// True when `signal_pid` was translated from another PID namespace.
    pub translated: bool,
}

/// What the command does once the plan is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No socket uses the port: there is nothing to signal.
    Free,
    /// Only TIME_WAIT sockets are left: no process holds them, they clear by themselves.
    OnlyTimeWait,
    /// Nothing is signalled: a holder is refused, the owner of `unseen` sockets cannot be seen,
    /// or no holder is left to signal.
    Refused {
        /// Sockets that keep the port busy whose holder exists but cannot be seen.
        unseen: usize,
    },
    /// `--dry-run`: say whom it would signal, and signal no one.
    DryRun,
    /// Ask on the terminal before signalling (no `--yes`).
    NeedsConsent,
    /// Signal without asking (`--yes`).
    Go,
}

/// The plan: every holder with its action, and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillPlan {
    /// One per holder of the investigation, in its order.
    pub targets: Vec<Target>,
    /// What happens next.
    pub verdict: Verdict,
}

impl KillPlan {
    /// The holders that are signalled.
    #[must_use]
    pub fn to_signal(&self) -> Vec<&Target> {
        self.with(Action::Signal)
    }

    /// The holders that are refused.
    #[must_use]
    pub fn refused(&self) -> Vec<&Target> {
        self.with(Action::Refused)
    }

    fn with(&self, action: Action) -> Vec<&Target> {
        self.targets.iter().filter(|t| t.action == action).collect()
    }
}

/// A socket that keeps the port busy: any state but TIME_WAIT (no process holds those).
#[must_use]
pub fn blocks(s: &SocketEntry) -> bool {
    s.state != SocketState::TimeWait
}

/// Decide, per holder of `found`, whether it is signalled (and under which pid of portscope's
/// namespace, translated through `facts` when the proc root is another namespace's) or
/// refused, and what the command does next. `self_pid` is portscope's own pid.
#[must_use]
pub fn plan(
    found: &Investigation,
    facts: &HolderFacts,
    options: KillOptions,
    self_pid: u32,
) -> KillPlan {
    let ns = found.pid_namespace.as_ref();
    let targets: Vec<Target> = found
        .owners
        .iter()
        .map(|o| {
            let identity = facts.identities.get(&o.pid).copied().unwrap_or_default();
            let here = match (ns, identity.ns) {
                (Some(_), Some(inode)) => facts.candidates.get(&inode).and_then(Option::as_deref),
                _ => None,
            };
            let translation = translate(o.pid, ns, &identity, here);
            let decision = decide(
                o.pid,
                options.os,
                translation,
                self_pid,
                o.kernel_thread,
                Some(o),
                options.force,
            );
            Target {
                pid: o.pid,
                signal_pid: translation.pid(),
                name: o.name.clone(),
                start_time: o.start_time,
                action: if decision.is_ok() {
                    Action::Signal
                } else {
                    Action::Refused
                },
                reason: decision.err(),
                identity,
                translated: matches!(translation, Translation::Translated(_)),
            }
        })
        .collect();
    let blocking: Vec<&SocketEntry> = found.sockets.iter().filter(|s| blocks(s)).collect();
    // Sockets no file refers to (`kernel`: connections in a listener's accept queue, closing
    // sockets) go away with their listener; only owners that exist but cannot be seen block.
    let unseen = blocking
        .iter()
        .filter(|s| s.processes.is_empty() && s.owner_unknown_reason != Some(OwnerUnknown::Kernel))
        .count();
    let refused = targets.iter().any(|t| t.action == Action::Refused);
    let to_signal = targets.iter().any(|t| t.action == Action::Signal);
    let verdict = if found.sockets.is_empty() {
        Verdict::Free
    } else if blocking.is_empty() {
        Verdict::OnlyTimeWait
    } else if refused || unseen > 0 || !to_signal {
        Verdict::Refused { unseen }
    } else if options.dry_run {
        Verdict::DryRun
    } else if !options.yes {
        Verdict::NeedsConsent
    } else {
        Verdict::Go
    };
    KillPlan { targets, verdict }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::kill::{NoTranslation, Refusal};
    use crate::model::PortSettings;
    use crate::model::{
        Container, ContainerRuntime, Forwarder, ForwarderKind, OwnerDetails, PidNamespace,
        PortSpec, PortVerdict, ProcessInfo,
    };

    use Verdict as V;

    const ME: u32 = 500;

    const GO: KillOptions = KillOptions {
        force: false,
        dry_run: false,
        yes: true,
        os: Os::Linux,
    };
    const ASK: KillOptions = KillOptions { yes: false, ..GO };
    const DRY: KillOptions = KillOptions {
        dry_run: true,
        ..GO
    };
    const FORCE: KillOptions = KillOptions { force: true, ..GO };

    fn held_by(pids: &[u32]) -> SocketEntry {
        SocketEntry {
            processes: pids
                .iter()
                .map(|&pid| ProcessInfo::test_process(pid, "x"))
                .collect(),
            ..SocketEntry::test_listener("0.0.0.0", 8080)
        }
    }

    /// A socket without a visible holder.
    fn ownerless(state: SocketState, reason: OwnerUnknown) -> SocketEntry {
        SocketEntry {
            state,
            owner_unknown_reason: Some(reason),
            inode: Some(0),
            ..SocketEntry::test_listener("127.0.0.1", 8080)
        }
    }

    fn time_wait() -> SocketEntry {
        ownerless(SocketState::TimeWait, OwnerUnknown::Kernel)
    }

    /// Port 8080 with these sockets and holders, seen through portscope's own `/proc`.
    fn port(sockets: Vec<SocketEntry>, owners: Vec<OwnerDetails>) -> Investigation {
        Investigation {
            spec: PortSpec {
                port: 8080,
                proto: None,
            },
            sockets,
            owners,
            probe: Vec::new(),
            verdict: PortVerdict::InUse,
            settings: PortSettings::default(),
            advice: Vec::new(),
            warnings: Vec::new(),
            pid_namespace: None,
        }
    }

    /// Port 8080 held by these owners, on one listener.
    fn held(owners: &[OwnerDetails]) -> Investigation {
        let pids: Vec<u32> = owners.iter().map(|o| o.pid).collect();
        port(vec![held_by(&pids)], owners.to_vec())
    }

    fn owner(pid: u32) -> OwnerDetails {
        OwnerDetails::test_owner(pid)
    }

    fn service(pid: u32) -> OwnerDetails {
        OwnerDetails {
            unit: Some("nginx.service".into()),
            ..owner(pid)
        }
    }

    fn forwarder(pid: u32) -> OwnerDetails {
        OwnerDetails {
            forwarder: Some(Forwarder {
                kind: ForwarderKind::DockerProxy,
                container_address: Some("172.17.0.2".into()),
                container_port: Some(80),
            }),
            ..owner(pid)
        }
    }

    fn boxed(pid: u32) -> OwnerDetails {
        OwnerDetails {
            container: Some(Container {
                runtime: ContainerRuntime::Podman,
                id: "b".repeat(64),
                name: None,
                pod_uid: None,
            }),
            ..owner(pid)
        }
    }

    fn kernel_thread(pid: u32) -> OwnerDetails {
        OwnerDetails {
            kernel_thread: true,
            ..owner(pid)
        }
    }

    fn id(ns: u64, ns_pid: u32, start: u64) -> ProcIdentity {
        ProcIdentity {
            ns: Some(ns),
            ns_pid: Some(ns_pid),
            start_ticks: Some(start),
        }
    }

    /// Per target: (pid, signal_pid, refusal).
    type Want = (u32, Option<u32>, Option<Refusal>);

    /// Check a plan's verdict and targets; `what` names the case.
    fn check(
        what: &str,
        found: &Investigation,
        facts: &HolderFacts,
        options: KillOptions,
        verdict: V,
        want: &[Want],
    ) {
        let got = plan(found, facts, options, ME);
        assert_eq!(got.verdict, verdict, "{what}");
        let targets: Vec<(u32, Option<u32>, Action, Option<Refusal>)> = got
            .targets
            .iter()
            .map(|t| (t.pid, t.signal_pid, t.action, t.reason.clone()))
            .collect();
        let want: Vec<(u32, Option<u32>, Action, Option<Refusal>)> = want
            .iter()
            .map(|(pid, here, refusal)| {
                let action = if refusal.is_some() {
                    Action::Refused
                } else {
                    Action::Signal
                };
                (*pid, *here, action, refusal.clone())
            })
            .collect();
        assert_eq!(targets, want, "{what}");
        for t in &got.targets {
            let identity = facts.identities.get(&t.pid).copied().unwrap_or_default();
            assert_eq!(t.identity, identity, "{what}");
            let translated = found.pid_namespace.is_some() && t.signal_pid.is_some();
            assert_eq!(t.translated, translated, "{what}");
        }
        let split = got.to_signal().len() + got.refused().len();
        assert_eq!(split, got.targets.len(), "{what}");
    }

    /// Every verdict and every refusal through portscope's own `/proc`; `--force` overrides
    /// the soft refusals only.
    #[test]
    fn plans() {
        let ok = |pid: u32| (pid, Some(pid), None);
        let no = |pid: u32, r: Refusal| (pid, Some(pid), Some(r));
        let unit = Refusal::ServiceUnit("nginx.service".into());
        let docker = Refusal::Forwarder(ForwarderKind::DockerProxy);
        let podman = Refusal::Container(ContainerRuntime::Podman);
        let listen = |r| ownerless(SocketState::Listen, r);
        // Kernel-held sockets other than TIME_WAIT (accept queue, closing) go with their
        // listener: not unseen, yet nobody is left to signal.
        let queued = || ownerless(SocketState::SynRecv, OwnerUnknown::Kernel);
        let refused = |unseen| V::Refused { unseen };
        let (p0, p1, me) = (Refusal::PidZero, Refusal::Init, Refusal::OwnPid);
        type Case = (&'static str, Investigation, KillOptions, V, Vec<Want>);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("free port", port(vec![], vec![]), GO, V::Free, vec![]),
            ("free port, dry run", port(vec![], vec![]), DRY, V::Free, vec![]),
            ("only TIME_WAIT", port(vec![time_wait(); 2], vec![]), FORCE, V::OnlyTimeWait, vec![]),
            ("a holder, --yes", held(&[owner(42)]), GO, V::Go, vec![ok(42)]),
            ("a holder, no --yes", held(&[owner(42)]), ASK, V::NeedsConsent, vec![ok(42)]),
            ("a holder, dry run", held(&[owner(42)]), DRY, V::DryRun, vec![ok(42)]),
            ("two holders", held(&[owner(42), owner(43)]), GO, V::Go, vec![ok(42), ok(43)]),
            ("pid 0", held(&[owner(0)]), FORCE, refused(0), vec![no(0, p0)]),
            ("pid 1, --force", held(&[owner(1)]), FORCE, refused(0), vec![no(1, p1.clone())]),
            ("portscope, --force", held(&[owner(ME)]), FORCE, refused(0), vec![no(ME, me)]),
            ("kernel thread, --force", held(&[kernel_thread(2)]), FORCE, refused(0),
                vec![no(2, Refusal::KernelThread)]),
            ("restarting service", held(&[service(43)]), GO, refused(0), vec![no(43, unit)]),
            ("restarting service, --force", held(&[service(43)]), FORCE, V::Go, vec![ok(43)]),
            ("forwarder", held(&[forwarder(45)]), DRY, refused(0), vec![no(45, docker)]),
            ("forwarder, --force", held(&[forwarder(45)]), FORCE, V::Go, vec![ok(45)]),
            ("container", held(&[boxed(46)]), ASK, refused(0), vec![no(46, podman)]),
            ("container, --force", held(&[boxed(46)]), FORCE, V::Go, vec![ok(46)]),
            ("one refused: nothing is signalled", held(&[owner(1), owner(42)]), GO, refused(0),
                vec![no(1, p1), ok(42)]),
            ("TIME_WAIT beside a holder", port(vec![held_by(&[42]), time_wait()], vec![owner(42)]),
                GO, V::Go, vec![ok(42)]),
            ("an owner that needs privileges",
                port(vec![held_by(&[42]), listen(OwnerUnknown::Permission)], vec![owner(42)]),
                FORCE, refused(1), vec![ok(42)]),
            ("hidden and not-found owners",
                port(vec![listen(OwnerUnknown::Hidden), listen(OwnerUnknown::NotFound)], vec![]),
                GO, refused(2), vec![]),
            ("only kernel-held sockets", port(vec![queued()], vec![]), GO, refused(0), vec![]),
        ];
        for (what, found, options, verdict, want) in cases {
            check(
                what,
                &found,
                &HolderFacts::default(),
                options,
                verdict,
                &want,
            );
        }
    }

    /// Through another namespace's proc root: signalled under its pid here, or refused, even
    /// with `--force`, when it has none (issue 8).
    #[test]
    fn plans_through_another_pid_namespace() {
        let holder = id(9, 3, 700);
        let bystander = (3, id(1, 3, 5));
        let facts = |candidates: Option<Vec<(u32, ProcIdentity)>>| HolderFacts {
            identities: BTreeMap::from([(3, holder), (1, holder)]),
            candidates: BTreeMap::from([(9, candidates)]),
        };
        let found = |pid: u32| Investigation {
            pid_namespace: Some(PidNamespace {
                proc_root: "/proc/42/root/proc".into(),
                inode: Some(9),
                own_inode: Some(1),
                ancestor: false,
            }),
            ..held(&[owner(pid)])
        };
        let other = |why| Some(Refusal::OtherNamespace(why));
        let outside = NoTranslation::Outside { ancestor: false };
        let here = || facts(Some(vec![bystander, (16_262, holder)]));
        let no = V::Refused { unseen: 0 };
        type Case = (
            &'static str,
            u32,
            HolderFacts,
            KillOptions,
            V,
            Option<u32>,
            Option<Refusal>,
        );
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("the holder's pid here", 3, here(), GO, V::Go, Some(16_262), None),
            ("dry run", 3, here(), DRY, V::DryRun, Some(16_262), None),
            ("its init", 1, here(), FORCE, no, Some(16_262), Some(Refusal::Init)),
            ("no process here is it", 3, facts(Some(vec![bystander])), FORCE, no, None,
                other(outside)),
            ("/proc is not portscope's", 3, facts(None), GO, no, None,
                other(NoTranslation::NoOwnProc)),
            ("identity unreadable", 3, HolderFacts::default(), FORCE, no, None,
                other(NoTranslation::Unreadable)),
            ("its pid here is portscope", 3, facts(Some(vec![(ME, holder)])), FORCE, no, Some(ME),
                Some(Refusal::OwnPid)),
        ];
        for (what, pid, facts, options, verdict, signal_pid, refusal) in cases {
            let want = [(pid, signal_pid, refusal)];
            check(what, &found(pid), &facts, options, verdict, &want);
        }
    }
}
