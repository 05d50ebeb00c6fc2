//! Delivering one planned signal, as a ladder of checks: the holder still holds the port with
//! the same start time (socket table through the proc root), it has a pid here, it is pinned
//! (a pidfd, so a reused pid cannot receive the signal), it still exists, the re-check finds the
//! planned process still holding a socket of the port, a pinned process has not exited by the
//! end of that re-check, and the signal is sent. [`deliver`] takes the facts gathered so far
//! ([`Attempt`]) and answers either the next fact to gather ([`Next`]) or what came of it
//! ([`Delivery`] and the [`Event`] to report). [`holders_now`] reads the socket table's holders.
//!
//! Pure: the command gathers each fact through the platform (`pin`, `process_exists`,
//! `identity`, `holds_any_socket`, `signal`) in the order asked; nothing here reads the system or
//! sends a signal.

use std::collections::{BTreeMap, BTreeSet};

use crate::analyze::kill::identity::{Recheck, recheck};
use crate::analyze::kill::{Delivery, Event, Target};
use crate::model::{ProcIdentity, Signal, SignalError, SocketEntry};

/// What the socket table says about one holder right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holding {
    /// Its start time (as the report shows it).
    pub start_time: Option<u64>,
    /// The inodes of the port's sockets it holds.
    pub inodes: BTreeSet<u64>,
}

/// The holders of the port's sockets `entries` by pid, with the inodes each holds.
#[must_use]
pub fn holders_now(entries: &[SocketEntry]) -> BTreeMap<u32, Holding> {
    let mut holders: BTreeMap<u32, Holding> = BTreeMap::new();
    for e in entries {
        for p in &e.processes {
            let h = holders.entry(p.pid).or_insert_with(|| Holding {
                start_time: p.start_time,
                inodes: BTreeSet::new(),
            });
            h.inodes.extend(e.inode);
        }
    }
    holders
}

/// What pinning the process came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// Pinned: the signal goes through the handle, and its exit can be seen.
    Pinned,
    /// The platform has no handle (no pidfds): the signal goes by pid.
    NoHandle,
    /// Pinning failed.
    Failed(SignalError),
}

/// The re-check's reading, through the verify view: who the process is now and whether it
/// holds a socket of the port (`None`: its descriptors cannot be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reread {
    /// Its identity now.
    pub identity: ProcIdentity,
    /// Whether it holds one of the holder's sockets.
    pub holds: Option<bool>,
}

/// The facts gathered so far for one target; `None` is not gathered yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    /// [`Next::Pin`].
    pub pin: Option<Pin>,
    /// [`Next::CheckExists`]: the process is visible through the verify view.
    pub exists: Option<bool>,
    /// [`Next::Recheck`].
    pub reread: Option<Reread>,
    /// [`Next::CheckExited`]: the pinned process has exited (or that cannot be told).
    pub exited: Option<bool>,
    /// [`Next::Send`].
    pub sent: Option<Result<(), SignalError>>,
    /// [`Next::CheckPrivileged`]: portscope runs privileged.
    pub privileged: Option<bool>,
}

/// The next fact to gather, or what came of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<'a> {
    /// Finished: what came of it, and what to say (nothing for a target without a pid here).
    Done(Delivery, Option<Event<'a>>),
    /// Pin this pid (of portscope's namespace) → [`Attempt::pin`].
    Pin(u32),
    /// Whether this pid is visible through the verify view → [`Attempt::exists`].
    CheckExists(u32),
    /// Read this pid's identity through the verify view and whether it holds one of `inodes`
    /// → [`Attempt::reread`].
    Recheck {
        /// The pid here.
        pid: u32,
        /// The port's sockets the holder held.
        inodes: &'a BTreeSet<u64>,
    },
    /// Whether the pinned process has exited → [`Attempt::exited`].
    CheckExited,
    /// Send the signal to this pid, through the handle when pinned → [`Attempt::sent`].
    Send(u32),
    /// Whether portscope runs privileged → [`Attempt::privileged`].
    CheckPrivileged,
}

/// The next step of delivering `signal` to `t`, which the socket table now shows as `holding`
/// (`None`: it holds no socket of the port), given the facts gathered so far in `a`.
#[must_use]
pub fn deliver<'a>(
    t: &'a Target,
    holding: Option<&'a Holding>,
    signal: Signal,
    a: &Attempt,
) -> Next<'a> {
    let done = |d, e| Next::Done(d, Some(e));
    let gone = done(Delivery::Gone, Event::Exited(t));
    let holding = match holding {
        Some(h) if h.start_time == t.start_time => h,
        Some(_) => return done(Delivery::Changed, Event::Reused(t)),
        None => return done(Delivery::Changed, Event::Left(t)),
    };
    let Some(here) = t.signal_pid else {
        // Only targets with a pid here are planned for a signal.
        return Next::Done(Delivery::Changed, None);
    };
    // Pin the process first: from here on, a reused pid cannot receive the signal.
    let pinned = match &a.pin {
        None => return Next::Pin(here),
        Some(Pin::Failed(SignalError::Gone)) => return gone,
        Some(Pin::Failed(e)) => return done(Delivery::Failed, Event::CannotPin(t, e.clone())),
        Some(Pin::Pinned) => true,
        Some(Pin::NoHandle) => false,
    };
    match a.exists {
        None => return Next::CheckExists(here),
        Some(false) => return gone,
        Some(true) => {}
    }
    let Some(reread) = a.reread else {
        return Next::Recheck {
            pid: here,
            inodes: &holding.inodes,
        };
    };
    let not_it = match recheck(&t.identity, &reread.identity, t.translated, reread.holds) {
        Recheck::Holder => None,
        Recheck::OtherProcess => Some(Event::OtherProcess(t)),
        Recheck::NotHolding => Some(Event::NotHolding(t)),
        Recheck::Unverifiable => Some(Event::Unverifiable(t)),
    };
    if let Some(e) = not_it {
        return done(Delivery::Changed, e);
    }
    // The re-check read /proc/<here>; it was about the pinned process only if that process had
    // not exited by the end of it (a pid is reused only after its process is gone).
    if pinned {
        match a.exited {
            None => return Next::CheckExited,
            Some(true) => return gone,
            Some(false) => {}
        }
    }
    match &a.sent {
        None => Next::Send(here),
        Some(Ok(())) => done(Delivery::Sent, Event::Sent(t, signal)),
        Some(Err(SignalError::Gone)) => gone,
        Some(Err(error)) => match a.privileged {
            None => Next::CheckPrivileged,
            Some(privileged) => done(
                Delivery::Failed,
                Event::SendFailed {
                    target: t,
                    error: error.clone(),
                    privileged,
                },
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::kill::Action;
    use crate::model::ProcessInfo;

    fn id(start: u64) -> ProcIdentity {
        ProcIdentity {
            ns: Some(9),
            ns_pid: Some(42),
            start_ticks: Some(start),
        }
    }

    fn target() -> Target {
        Target {
            pid: 42,
            signal_pid: Some(42),
            name: Some("app".into()),
            start_time: Some(1_700_000_000),
            action: Action::Signal,
            reason: None,
            identity: id(500),
            translated: false,
        }
    }

    #[test]
    fn holders_from_the_socket_table() {
        let held = |inode: u64, pids: &[(u32, u64)]| SocketEntry {
            inode: Some(inode),
            processes: pids
                .iter()
                .map(|&(pid, start)| ProcessInfo {
                    start_time: Some(start),
                    ..ProcessInfo::test_process(pid, "x")
                })
                .collect(),
            ..SocketEntry::test_listener("0.0.0.0", 8080)
        };
        let entries = [
            held(1, &[(7, 70), (8, 80)]),
            held(2, &[(7, 70)]),
            held(3, &[]),
        ];
        let holding = |start, inodes: &[u64]| Holding {
            start_time: Some(start),
            inodes: inodes.iter().copied().collect(),
        };
        assert_eq!(
            holders_now(&entries),
            BTreeMap::from([(7, holding(70, &[1, 2])), (8, holding(80, &[1]))])
        );
        assert_eq!(holders_now(&[]), BTreeMap::new());
    }

    /// Every rung of the ladder: the facts gathered so far → the next fact or the end.
    #[test]
    fn the_ladder() {
        let t = target();
        let same = Holding {
            start_time: t.start_time,
            inodes: BTreeSet::from([5]),
        };
        let reused = Holding {
            start_time: Some(1),
            ..same.clone()
        };
        let no_pid_here = Target {
            signal_pid: None,
            ..t.clone()
        };
        let eperm = SignalError::NotPermitted("Operation not permitted (os error 1)".into());
        let holder = Reread {
            identity: id(500),
            holds: Some(true),
        };
        let a = Attempt::default();
        let pinned = Attempt {
            pin: Some(Pin::Pinned),
            ..a.clone()
        };
        let exists = Attempt {
            exists: Some(true),
            ..pinned.clone()
        };
        let checked = Attempt {
            reread: Some(holder),
            ..exists.clone()
        };
        let alive = Attempt {
            exited: Some(false),
            ..checked.clone()
        };
        let unpinned = Attempt {
            pin: Some(Pin::NoHandle),
            ..checked.clone()
        };
        let sent = |r: Result<(), SignalError>| Attempt {
            sent: Some(r),
            ..alive.clone()
        };
        let reread = |identity, holds| Attempt {
            reread: Some(Reread { identity, holds }),
            ..exists.clone()
        };
        let (changed, gone, failed) = (Delivery::Changed, Delivery::Gone, Delivery::Failed);
        let end = |d, e| Next::Done(d, Some(e));
        let inodes = &same.inodes;
        type Case<'c> = (
            &'static str,
            &'c Target,
            Option<&'c Holding>,
            Attempt,
            Next<'c>,
        );
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("left the port", &t, None, a.clone(), end(changed, Event::Left(&t))),
            ("pid reused", &t, Some(&reused), a.clone(), end(changed, Event::Reused(&t))),
            ("no pid here", &no_pid_here, Some(&same), a.clone(), Next::Done(changed, None)),
            ("pin first", &t, Some(&same), a.clone(), Next::Pin(42)),
            ("gone when pinned", &t, Some(&same),
                Attempt { pin: Some(Pin::Failed(SignalError::Gone)), ..a.clone() },
                end(gone, Event::Exited(&t))),
            ("cannot pin", &t, Some(&same),
                Attempt { pin: Some(Pin::Failed(eperm.clone())), ..a.clone() },
                end(failed, Event::CannotPin(&t, eperm.clone()))),
            ("then look", &t, Some(&same), pinned.clone(), Next::CheckExists(42)),
            ("not there", &t, Some(&same), Attempt { exists: Some(false), ..pinned.clone() },
                end(gone, Event::Exited(&t))),
            ("then re-check", &t, Some(&same), exists.clone(), Next::Recheck { pid: 42, inodes }),
            ("another process", &t, Some(&same), reread(id(501), Some(true)),
                end(changed, Event::OtherProcess(&t))),
            ("dropped the socket", &t, Some(&same), reread(id(500), Some(false)),
                end(changed, Event::NotHolding(&t))),
            ("descriptors unreadable", &t, Some(&same), reread(id(500), None),
                end(changed, Event::Unverifiable(&t))),
            ("identity unreadable", &t, Some(&same), reread(ProcIdentity::default(), Some(true)),
                end(changed, Event::Unverifiable(&t))),
            ("pinned: exited meanwhile?", &t, Some(&same), checked.clone(), Next::CheckExited),
            ("exited during the re-check", &t, Some(&same),
                Attempt { exited: Some(true), ..checked.clone() }, end(gone, Event::Exited(&t))),
            ("send", &t, Some(&same), alive.clone(), Next::Send(42)),
            ("not pinned: send at once", &t, Some(&same), unpinned.clone(), Next::Send(42)),
            ("sent", &t, Some(&same), sent(Ok(())), end(Delivery::Sent, Event::Sent(&t, Signal::Hup))),
            ("gone at the signal", &t, Some(&same), sent(Err(SignalError::Gone)),
                end(gone, Event::Exited(&t))),
            ("not permitted: privileged?", &t, Some(&same), sent(Err(eperm.clone())),
                Next::CheckPrivileged),
            ("not permitted", &t, Some(&same),
                Attempt { privileged: Some(false), ..sent(Err(eperm.clone())) },
                end(failed, Event::SendFailed { target: &t, error: eperm.clone(), privileged: false })),
            ("unsupported, privileged", &t, Some(&same),
                Attempt { privileged: Some(true), ..sent(Err(SignalError::Unsupported)) },
                end(failed, Event::SendFailed {
                    target: &t, error: SignalError::Unsupported, privileged: true })),
        ];
        for (what, target, holding, attempt, want) in cases {
            assert_eq!(
                deliver(target, holding, Signal::Hup, &attempt),
                want,
                "{what}"
            );
        }
    }
}
