//! Which process a holder is: the pid of portscope's own PID namespace that a holder seen
//! through another namespace's `--proc-root` has (or why it has none), and whether the process
//! about to be signalled is still the holder that was planned.
//!
//! Pure: identities are read by the platform (`collect::Platform::identity`) and passed in;
//! nothing here reads the system or words a message (`render::kill` words [`NoTranslation`]).

use crate::model::PidNamespace;
use crate::model::ProcIdentity;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
