//! The decisions of `portscope watch`: what changed between two polls ([`diff`]), which sockets
//! need their owners looked up this poll ([`owner_lookups`]), how often owners of sockets
//! already known are checked again ([`recheck_every`]), which rows must be built again and which
//! are carried over from the last poll ([`rebuild`]), and which audit findings a change brings
//! ([`findings_of`]).
//!
//! Pure: the command polls, keeps the state between polls, reads the clock and the system, and
//! passes them in; this module must not read anything or print.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use crate::analyze::audit;
use crate::analyze::rules::RuleSet;
use crate::model::{
    EventKind, FdRef, Finding, HostContext, RawSocket, SocketEntry, SocketKey, WatchEvent,
};

/// The sockets of one poll by key: what [`diff`] compares. A row carried over unchanged from
/// the last poll is the same shared entry, which [`diff`] passes over without comparing.
pub type State = BTreeMap<SocketKey, Rc<SocketEntry>>;

/// How often the owners of sockets already known are looked up again when none of their known
/// owners exited: a socket handed to another process (a fork, a descriptor passed over a Unix
/// socket, a restart that keeps the listener) is seen within this time.
pub const OWNER_RECHECK: Duration = Duration::from_secs(30);

/// A poll's socket table by key, each socket with its row. Keyed with the standard (seeded)
/// hash: the remote ends of `--all`'s sockets are chosen by whoever connects.
pub type Table = HashMap<SocketKey, (RawSocket, Rc<SocketEntry>)>;

/// What a poll knows of the rows of the last one, for [`rebuild`].
pub struct Carried<'a> {
    /// The socket table and rows of the last poll, by key.
    pub raw: &'a Table,
    /// Socket inodes whose owners were looked up this poll.
    pub looked_up: &'a HashSet<u64>,
    /// Pids whose details were read again this poll.
    pub refreshed: &'a BTreeSet<u32>,
    /// True when what every row is judged on (interfaces, namespaces, user names) is the same
    /// as at the last poll.
    pub context_same: bool,
}

/// True when the row of `sock` must be built again this poll; false when the last poll's row
/// can be carried over: the kernel reports the socket exactly as before, its owners were not
/// looked up again, none of its holders' details were read again and the context is the same.
#[must_use]
pub fn rebuild(sock: &RawSocket, holders: Option<&[FdRef]>, carried: &Carried<'_>) -> bool {
    !carried.context_same
        || carried.raw.get(&sock.key()).map(|(raw, _)| raw) != Some(sock)
        || sock.inode.is_some_and(|i| carried.looked_up.contains(&i))
        || holders
            .unwrap_or_default()
            .iter()
            .any(|h| carried.refreshed.contains(&h.pid))
}

/// Every poll `recheck_every(interval)`-th poll re-checks every known owner ([`OWNER_RECHECK`]
/// worth of polls, at least every poll when the interval is longer).
#[must_use]
pub fn recheck_every(interval: Duration) -> u64 {
    let every = OWNER_RECHECK.as_millis() / interval.as_millis().max(1);
    u64::try_from(every).unwrap_or(u64::MAX).max(1)
}

/// The events between the poll `previous` and the poll `current`, in key order (port, then
/// protocol, address, remote end, inode): `closed` for a key that is gone, `opened` for a new
/// one, and for a key in both `owner_changed` when the pids holding it differ and
/// `exposure_changed` when its exposure (class, address or interface) differs.
///
/// `show` is the listing's filter: an event is kept when the socket passes it now, or (closed,
/// changed) before — a socket leaving `--exposure public` is reported as it becomes less
/// exposed.
#[must_use]
pub fn diff(
    previous: &State,
    current: &State,
    show: &dyn Fn(&SocketEntry) -> bool,
) -> Vec<WatchEvent> {
    // Both states are sorted by key: one merge pass, no look-ups.
    let mut before_iter = previous.iter().peekable();
    let mut now_iter = current.iter().peekable();
    let mut events = Vec::new();
    loop {
        let order = match (before_iter.peek(), now_iter.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((b, _)), Some((n, _))) => b.cmp(n),
        };
        let (before, now) = match order {
            Ordering::Less => (before_iter.next().map(|(_, e)| e), None),
            Ordering::Greater => (None, now_iter.next().map(|(_, e)| e)),
            Ordering::Equal => (
                before_iter.next().map(|(_, e)| e),
                now_iter.next().map(|(_, e)| e),
            ),
        };
        match (before, now) {
            (Some(before), None) => {
                if show(before) {
                    events.push(WatchEvent::new(EventKind::Closed, (**before).clone()));
                }
            }
            (None, Some(now)) => {
                if show(now) {
                    events.push(WatchEvent::new(EventKind::Opened, (**now).clone()));
                }
            }
            (Some(before), Some(now)) => {
                if Rc::ptr_eq(before, now) || !(show(before) || show(now)) {
                    continue;
                }
                let changes = [
                    (EventKind::OwnerChanged, pids(before) != pids(now)),
                    (
                        EventKind::ExposureChanged,
                        exposure(before) != exposure(now),
                    ),
                ];
                for (kind, changed) in changes {
                    if changed {
                        events.push(WatchEvent {
                            previous: Some((**before).clone()),
                            ..WatchEvent::new(kind, (**now).clone())
                        });
                    }
                }
            }
            (None, None) => {}
        }
    }
    events
}

fn pids(entry: &SocketEntry) -> BTreeSet<u32> {
    entry.processes.iter().map(|p| p.pid).collect()
}

fn exposure(entry: &SocketEntry) -> impl PartialEq + use<'_> {
    (
        entry.exposure,
        entry.exposure_address,
        entry.exposure_interface.as_deref(),
    )
}

/// The socket inodes whose owners must be looked up this poll: those of sockets not in `known`
/// (new since the last lookup), those whose known holders include a pid in `gone` (an owner
/// exited: the socket may live on in another process), and with `recheck` every socket's.
/// Sockets without an inode (TIME_WAIT, kernel sockets) have no owner to look up.
#[must_use]
pub fn owner_lookups(
    known: &HashMap<u64, Vec<FdRef>>,
    sockets: &[RawSocket],
    gone: &BTreeSet<u32>,
    recheck: bool,
) -> HashSet<u64> {
    sockets
        .iter()
        .filter_map(|s| s.inode)
        .filter(|&inode| inode != 0)
        .filter(|inode| {
            recheck
                || known
                    .get(inode)
                    .is_none_or(|holders| holders.iter().any(|h| gone.contains(&h.pid)))
        })
        .collect()
}

/// The audit findings an event brings (`--audit`): every finding of a socket that opened, and
/// for a socket whose exposure changed, each finding it did not have before at that severity
/// or above (a listener that became more exposed). Nothing for other events.
#[must_use]
pub fn findings_of(event: &WatchEvent, rules: &RuleSet, host: &HostContext) -> Vec<Finding> {
    let now = audit::findings(std::slice::from_ref(&event.socket), rules, host);
    match (event.kind, &event.previous) {
        (EventKind::Opened, _) => now,
        (EventKind::ExposureChanged, Some(previous)) => {
            let before = audit::findings(std::slice::from_ref(previous), rules, host);
            now.into_iter()
                .filter(|f| {
                    !before
                        .iter()
                        .any(|b| b.rule == f.rule && b.severity >= f.severity)
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sockets of one poll by key.
    fn index(entries: impl IntoIterator<Item = SocketEntry>) -> State {
        entries.into_iter().map(|e| (e.key(), Rc::new(e))).collect()
    }
    use crate::model::{AddrClass, Family, ProcessInfo, Proto, Severity, SocketState};

    fn listener(port: u16, inode: u64, pids: &[u32]) -> SocketEntry {
        SocketEntry {
            inode: Some(inode),
            processes: pids.iter().map(|&p| ProcessInfo::unknown(p)).collect(),
            ..SocketEntry::test_listener("127.0.0.1", port)
        }
    }

    fn exposed(entry: SocketEntry, class: AddrClass, addr: &str, dev: &str) -> SocketEntry {
        SocketEntry {
            exposure: Some(class),
            exposure_address: Some(addr.parse().unwrap()),
            exposure_interface: Some(dev.into()),
            ..entry
        }
    }

    /// (name, previous poll, current poll, (kind, port) of each event).
    type DiffCase = (
        &'static str,
        Vec<SocketEntry>,
        Vec<SocketEntry>,
        Vec<(EventKind, u16)>,
    );

    /// (name, socket now, its holders, inodes looked up, pids re-read, context same, rebuild).
    type RebuildCase<'a> = (
        &'static str,
        RawSocket,
        &'a [FdRef],
        &'a HashSet<u64>,
        &'a BTreeSet<u32>,
        bool,
        bool,
    );

    /// (name, event, (rule, severity) of each finding).
    type FindingCase = (&'static str, WatchEvent, Vec<(String, Severity)>);

    /// (kind, port) of each event.
    fn kinds(events: &[WatchEvent]) -> Vec<(EventKind, u16)> {
        events
            .iter()
            .map(|e| (e.kind, e.socket.local_port))
            .collect()
    }

    #[test]
    fn events_between_two_polls() {
        use EventKind::*;
        let a = listener(80, 1, &[10]);
        let b = listener(443, 2, &[10]);
        let c = listener(8080, 3, &[20]);
        let all = |_: &SocketEntry| true;
        // (name, previous, current, events)
        let cases: Vec<DiffCase> = vec![
            (
                "nothing changed",
                vec![a.clone(), b.clone()],
                vec![a.clone(), b.clone()],
                vec![],
            ),
            (
                "one opened",
                vec![a.clone()],
                vec![a.clone(), c.clone()],
                vec![(Opened, 8080)],
            ),
            (
                "one closed",
                vec![a.clone(), b.clone()],
                vec![a.clone()],
                vec![(Closed, 443)],
            ),
            (
                "closed and opened again on the same port: a new inode",
                vec![a.clone()],
                vec![listener(80, 9, &[10])],
                vec![(Closed, 80), (Opened, 80)],
            ),
            (
                "a second holder",
                vec![a.clone()],
                vec![listener(80, 1, &[10, 11])],
                vec![(OwnerChanged, 80)],
            ),
            (
                "handed to another process",
                vec![a.clone()],
                vec![listener(80, 1, &[12])],
                vec![(OwnerChanged, 80)],
            ),
            (
                "the owner's details changed, not its pid",
                vec![a.clone()],
                vec![SocketEntry {
                    processes: vec![ProcessInfo {
                        name: Some("nginx".into()),
                        ..ProcessInfo::unknown(10)
                    }],
                    ..a.clone()
                }],
                vec![],
            ),
            (
                "an address came: exposure changed",
                vec![a.clone()],
                vec![exposed(a.clone(), AddrClass::Public, "11.22.33.44", "eth0")],
                vec![(ExposureChanged, 80)],
            ),
            (
                "same class through another interface",
                vec![exposed(a.clone(), AddrClass::Private, "10.0.0.1", "eth0")],
                vec![exposed(a.clone(), AddrClass::Private, "10.0.0.1", "eth1")],
                vec![(ExposureChanged, 80)],
            ),
            (
                "owner and exposure at once: two events",
                vec![a.clone()],
                vec![exposed(
                    listener(80, 1, &[13]),
                    AddrClass::Private,
                    "10.0.0.1",
                    "eth0",
                )],
                vec![(OwnerChanged, 80), (ExposureChanged, 80)],
            ),
            ("empty to empty", vec![], vec![], vec![]),
            (
                "everything new (first poll after an empty one)",
                vec![],
                vec![c.clone(), a.clone()],
                vec![(Opened, 80), (Opened, 8080)],
            ),
        ];
        for (name, previous, current, want) in cases {
            let events = diff(&index(previous), &index(current), &all);
            assert_eq!(kinds(&events), want, "{name}");
            for e in &events {
                let changed = matches!(e.kind, OwnerChanged | ExposureChanged);
                assert_eq!(e.previous.is_some(), changed, "{name}: {e:?}");
                assert!(e.finding.is_none(), "{name}");
            }
        }
    }

    #[test]
    fn the_filter_applies_before_or_after_a_change() {
        use EventKind::*;
        let public = |e: &SocketEntry| e.exposure == Some(AddrClass::Public);
        let local = listener(6379, 1, &[10]);
        let wide = exposed(local.clone(), AddrClass::Public, "11.22.33.44", "eth0");
        let other = listener(22, 2, &[1]);
        // (name, previous, current, events)
        let cases: Vec<DiffCase> = vec![
            (
                "a loopback socket opening is not shown",
                vec![],
                vec![other.clone()],
                vec![],
            ),
            (
                "a public one is",
                vec![],
                vec![wide.clone()],
                vec![(Opened, 6379)],
            ),
            (
                "becoming public is shown",
                vec![local.clone()],
                vec![wide.clone()],
                vec![(ExposureChanged, 6379)],
            ),
            (
                "and ceasing to be",
                vec![wide.clone()],
                vec![local.clone()],
                vec![(ExposureChanged, 6379)],
            ),
            (
                "a public one closing",
                vec![wide.clone()],
                vec![],
                vec![(Closed, 6379)],
            ),
            (
                "a loopback one changing owner",
                vec![other.clone()],
                vec![listener(22, 2, &[5])],
                vec![],
            ),
        ];
        for (name, previous, current, want) in cases {
            let events = diff(&index(previous), &index(current), &public);
            assert_eq!(kinds(&events), want, "{name}");
        }
    }

    fn raw(inode: u64) -> RawSocket {
        RawSocket {
            proto: Proto::Tcp,
            family: Family::Ipv4,
            state: SocketState::Listen,
            local_addr: "127.0.0.1".parse().unwrap(),
            local_port: 80,
            remote_addr: None,
            remote_port: None,
            uid: Some(0),
            inode: Some(inode),
            bound_ifindex: None,
            v6only: None,
            netns: None,
        }
    }

    #[test]
    fn owners_are_looked_up_for_new_sockets_and_gone_owners_only() {
        let held = |pids: &[u32]| -> Vec<FdRef> {
            pids.iter().map(|&pid| FdRef { pid, fd: Some(3) }).collect()
        };
        // inode 1 held by 10; 2 by 10 and 11; 3 looked up and found without owner.
        let known: HashMap<u64, Vec<FdRef>> =
            [(1, held(&[10])), (2, held(&[10, 11])), (3, held(&[]))]
                .into_iter()
                .collect();
        let sockets = [raw(1), raw(2), raw(3), raw(4), raw(0)];
        let set = |v: &[u64]| v.iter().copied().collect::<HashSet<u64>>();
        // (name, gone pids, recheck, inodes to look up)
        let cases: [(&str, &[u32], bool, HashSet<u64>); 5] = [
            ("only the new socket", &[], false, set(&[4])),
            ("an owner of one exited", &[11], false, set(&[2, 4])),
            ("the owner of both exited", &[10], false, set(&[1, 2, 4])),
            ("an unrelated pid exited", &[99], false, set(&[4])),
            (
                "a periodic re-check: every socket with an inode",
                &[],
                true,
                set(&[1, 2, 3, 4]),
            ),
        ];
        for (name, gone, recheck, want) in cases {
            let gone: BTreeSet<u32> = gone.iter().copied().collect();
            assert_eq!(
                owner_lookups(&known, &sockets, &gone, recheck),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn rows_are_built_again_only_when_something_they_show_changed() {
        let row = |s: &RawSocket| Rc::new(SocketEntry::test_listener("127.0.0.1", s.local_port));
        let last: Table = [raw(1), raw(2)]
            .into_iter()
            .map(|s| (s.key(), (s.clone(), row(&s))))
            .collect();
        let held_by_10 = [FdRef {
            pid: 10,
            fd: Some(3),
        }];
        let none = HashSet::new();
        let ten: BTreeSet<u32> = [10].into_iter().collect();
        let nobody = BTreeSet::new();
        let bound = RawSocket {
            bound_ifindex: Some(2),
            ..raw(1)
        };
        let looked_up_1: HashSet<u64> = [1].into_iter().collect();
        // (name, socket now, its holders, inodes looked up, pids re-read, context same, rebuild)
        let cases: [RebuildCase; 7] = [
            (
                "unchanged: carried over",
                raw(1),
                &held_by_10,
                &none,
                &nobody,
                true,
                false,
            ),
            ("a new socket", raw(3), &[], &none, &nobody, true, true),
            (
                "the kernel reports it differently",
                bound,
                &held_by_10,
                &none,
                &nobody,
                true,
                true,
            ),
            (
                "its owners were looked up",
                raw(1),
                &held_by_10,
                &looked_up_1,
                &nobody,
                true,
                true,
            ),
            (
                "a holder's details were read again",
                raw(1),
                &held_by_10,
                &none,
                &ten,
                true,
                true,
            ),
            (
                "another pid's details were read",
                raw(2),
                &[],
                &none,
                &ten,
                true,
                false,
            ),
            (
                "the interfaces changed",
                raw(1),
                &held_by_10,
                &none,
                &nobody,
                false,
                true,
            ),
        ];
        for (name, sock, holders, looked_up, refreshed, context_same, want) in cases {
            let carried = Carried {
                raw: &last,
                looked_up,
                refreshed,
                context_same,
            };
            assert_eq!(rebuild(&sock, Some(holders), &carried), want, "{name}");
        }
    }

    #[test]
    fn owners_are_rechecked_every_thirty_seconds() {
        let ms = Duration::from_millis;
        // (interval, polls between re-checks)
        let cases = [
            (ms(1000), 30),
            (ms(200), 150),
            (ms(10), 3000),
            (ms(45_000), 1),
            (ms(3_600_000), 1),
        ];
        for (interval, want) in cases {
            assert_eq!(recheck_every(interval), want, "{interval:?}");
        }
    }

    #[test]
    fn findings_come_with_new_and_more_exposed_listeners() {
        let rules = RuleSet::builtin();
        let host = HostContext::default();
        let redis = |class, addr: &str| SocketEntry {
            exposure: Some(class),
            exposure_address: Some(addr.parse().unwrap()),
            ..listener(6379, 1, &[10])
        };
        let local = redis(AddrClass::Loopback, "127.0.0.1");
        let private = redis(AddrClass::Private, "10.0.0.1");
        let public = redis(AddrClass::Public, "11.22.33.44");
        let changed = |before: &SocketEntry, now: &SocketEntry| WatchEvent {
            previous: Some(before.clone()),
            ..WatchEvent::new(EventKind::ExposureChanged, now.clone())
        };
        let severities = |event: &WatchEvent| -> Vec<(String, Severity)> {
            findings_of(event, rules, &host)
                .into_iter()
                .map(|f| (f.rule, f.severity))
                .collect()
        };
        let redis_at = |s| vec![("exposed-redis".to_string(), s)];
        // (name, event, findings)
        let cases: Vec<FindingCase> = vec![
            (
                "a public Redis opened",
                WatchEvent::new(EventKind::Opened, public.clone()),
                redis_at(Severity::High),
            ),
            (
                "a loopback Redis opened: no finding",
                WatchEvent::new(EventKind::Opened, local.clone()),
                vec![],
            ),
            (
                "loopback to private",
                changed(&local, &private),
                redis_at(Severity::Medium),
            ),
            (
                "private to public",
                changed(&private, &public),
                redis_at(Severity::High),
            ),
            (
                "public to private: nothing new",
                changed(&public, &private),
                vec![],
            ),
            (
                "closed: nothing",
                WatchEvent::new(EventKind::Closed, public.clone()),
                vec![],
            ),
            (
                "owner changed: nothing",
                WatchEvent {
                    previous: Some(public.clone()),
                    ..WatchEvent::new(EventKind::OwnerChanged, public.clone())
                },
                vec![],
            ),
        ];
        for (name, event, want) in cases {
            assert_eq!(severities(&event), want, "{name}");
        }
    }
}
