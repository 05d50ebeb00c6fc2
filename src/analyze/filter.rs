//! Filters of the listing views (`--port`, `--state`, `--exposure`, `--pid`, `--process`,
//! `--user`, `-t`/`-u`); their values are parsed by the model types' constructors. The
//! [`Sieve`] applies them to a stream of entries and counts what the warnings must say.
//!
//! Pure. Filters that only need the socket table run before the owner lookup
//! ([`Filter::keep_raw`]), the others afterwards ([`Filter::keep_entry`]).

use crate::analyze::exposure;
use crate::analyze::inventory::{self, UnknownOwners};
use crate::model::Snapshot;
use crate::model::{AddrClass, PortRange, Proto, RawSocket, SocketEntry, SocketState, UserSpec};

/// Every filter of the listing views; an empty list means "no restriction".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Local port ranges.
    pub ports: Vec<PortRange>,
    /// Owning pids.
    pub pids: Vec<u32>,
    /// Process names (exact, or a substring of the name when no exact match exists).
    pub processes: Vec<String>,
    /// Socket owner or process owner.
    pub users: Vec<UserSpec>,
    /// States.
    pub states: Vec<SocketState>,
    /// Exposure: sockets exposed at least as far as one of these classes (by
    /// [`exposure::rank`]; in practice the least far one given).
    pub exposure: Vec<AddrClass>,
    /// Protocols (empty: both).
    pub protos: Vec<Proto>,
}

impl Filter {
    /// True when the filter needs owners to decide (pid, process or user given by process).
    #[must_use]
    pub fn needs_owners(&self) -> bool {
        !self.pids.is_empty() || !self.processes.is_empty() || !self.users.is_empty()
    }

    /// Pre-filter on the raw socket: port, protocol and state.
    #[must_use]
    pub fn keep_raw(&self, sock: &RawSocket) -> bool {
        (self.ports.is_empty() || self.ports.iter().any(|r| r.contains(sock.local_port)))
            && (self.protos.is_empty() || self.protos.contains(&sock.proto))
            && (self.states.is_empty() || self.states.contains(&sock.state))
    }

    /// Post-filter on the enriched row: owners, users and exposure.
    #[must_use]
    pub fn keep_entry(&self, entry: &SocketEntry) -> bool {
        let pid_ok =
            self.pids.is_empty() || entry.processes.iter().any(|p| self.pids.contains(&p.pid));
        let proc_ok = self.processes.is_empty()
            || entry.processes.iter().any(|p| {
                p.name.as_deref().is_some_and(|name| {
                    self.processes
                        .iter()
                        .any(|want| name == want || name.contains(want.as_str()))
                })
            });
        let user_ok = self.users.is_empty()
            || self.users.iter().any(|u| match u {
                UserSpec::Uid(uid) => {
                    entry.uid == Some(*uid) || entry.processes.iter().any(|p| p.uid == Some(*uid))
                }
                UserSpec::Name(name) => {
                    entry.user.as_deref() == Some(name.as_str())
                        || entry
                            .processes
                            .iter()
                            .any(|p| p.user.as_deref() == Some(name.as_str()))
                }
            });
        let exposure_ok = self.exposure.is_empty()
            || entry.exposure.is_some_and(|class| {
                self.exposure
                    .iter()
                    .any(|&floor| exposure::rank(class) >= exposure::rank(floor))
            });
        pid_ok && proc_ok && user_ok && exposure_ok && self.keep_raw_entry(entry)
    }

    fn keep_raw_entry(&self, entry: &SocketEntry) -> bool {
        (self.ports.is_empty() || self.ports.iter().any(|r| r.contains(entry.local_port)))
            && (self.protos.is_empty() || self.protos.contains(&entry.proto))
            && (self.states.is_empty() || self.states.contains(&entry.state))
    }
}

/// Applies the post-collection filter to entries as they stream by, counting what the warnings
/// must say: owners that could not be seen (over everything collected, before the owner filters
/// drop rows), and the sockets an owner filter could not match because their owner is unknown
/// — an empty answer must not look like a complete one.
#[derive(Debug)]
pub struct Sieve<'a> {
    filter: &'a Filter,
    unknown: UnknownOwners,
    unmatched_unknown: usize,
}

impl<'a> Sieve<'a> {
    /// Nothing seen yet.
    #[must_use]
    pub fn new(filter: &'a Filter) -> Self {
        Sieve {
            filter,
            unknown: UnknownOwners::default(),
            unmatched_unknown: 0,
        }
    }

    /// True when the entry is shown.
    pub fn keep(&mut self, entry: &SocketEntry) -> bool {
        self.unknown.add(entry);
        let keep = self.filter.keep_entry(entry);
        if !keep && entry.processes.is_empty() {
            self.unmatched_unknown += 1;
        }
        keep
    }

    /// The warnings of the snapshot and of what was seen ([`inventory::warnings_for`]), then
    /// one for the sockets an owner filter could not match.
    #[must_use]
    pub fn warnings(self, snapshot: &Snapshot) -> Vec<String> {
        let mut out = inventory::warnings_for(self.unknown, snapshot);
        if self.filter.needs_owners() && self.unmatched_unknown > 0 {
            out.push(format!(
                "{} socket(s) whose owner is not visible could not be matched against \
                 --pid/--process/--user and are not shown",
                self.unmatched_unknown
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OwnerUnknown, ProcessInfo};

    /// (filter, entries) → (shown ports, warnings). Unknown owners are counted over every entry
    /// seen, shown or not; unmatched ones only when an owner filter is given.
    #[test]
    fn sieve_counts_what_the_warnings_say() {
        let owned = |port, pid| SocketEntry {
            processes: vec![ProcessInfo::unknown(pid)],
            ..SocketEntry::test_listener("0.0.0.0", port)
        };
        let unknown = |port, reason| SocketEntry {
            owner_unknown_reason: Some(reason),
            ..SocketEntry::test_listener("0.0.0.0", port)
        };
        let entries = [
            owned(22, 10),
            unknown(53, OwnerUnknown::Permission),
            unknown(80, OwnerUnknown::Permission),
            unknown(443, OwnerUnknown::Kernel),
            owned(8080, 20),
        ];
        let need_root = "owners of 2 socket(s) are not visible without privileges: run with sudo, \
                         or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH";
        let unmatched = |n| {
            format!(
                "{n} socket(s) whose owner is not visible could not be matched against \
                 --pid/--process/--user and are not shown"
            )
        };
        let by_pid = Filter {
            pids: vec![20],
            ..Filter::default()
        };
        let by_port = Filter {
            ports: vec![PortRange { start: 1, end: 100 }],
            ..Filter::default()
        };
        let cases: [(Filter, &[u16], Vec<String>); 3] = [
            (
                Filter::default(),
                &[22, 53, 80, 443, 8080],
                vec![need_root.to_string()],
            ),
            (by_pid, &[8080], vec![need_root.to_string(), unmatched(3)]),
            // A filter that needs no owner says nothing about unmatched owners.
            (by_port, &[22, 53, 80], vec![need_root.to_string()]),
        ];
        for (filter, shown, warnings) in cases {
            let mut sieve = Sieve::new(&filter);
            let kept: Vec<u16> = entries
                .iter()
                .filter(|e| sieve.keep(e))
                .map(|e| e.local_port)
                .collect();
            assert_eq!(kept, shown, "{filter:?}");
            assert_eq!(sieve.warnings(&Snapshot::default()), warnings, "{filter:?}");
        }
    }

    #[test]
    fn exposure_filter_is_at_least_this_far() {
        use AddrClass::*;
        let classes = [
            Loopback,
            LinkLocal,
            Multicast,
            Private,
            Documentation,
            Reserved,
            Public,
        ];
        // --exposure X → the classes shown (in the order above); a socket without a class
        // (a wildcard that covers no address) is never shown.
        let cases: [(&[AddrClass], &[AddrClass]); 10] = [
            (&[Loopback], &classes),
            (&[LinkLocal], &classes[1..]),
            (&[Multicast], &classes[1..]),
            (&[Private], &classes[3..]),
            (&[Documentation], &classes[3..]),
            (&[Reserved], &classes[3..]),
            (&[Public], &[Public]),
            (&[Public, LinkLocal], &classes[1..]),
            (&[Public, Private], &classes[3..]),
            (&[], &classes),
        ];
        for (wanted, shown) in cases {
            let filter = Filter {
                exposure: wanted.to_vec(),
                ..Filter::default()
            };
            let mut entry = SocketEntry::test_listener("127.0.0.1", 80);
            let got: Vec<AddrClass> = classes
                .into_iter()
                .filter(|&class| {
                    entry.exposure = Some(class);
                    filter.keep_entry(&entry)
                })
                .collect();
            assert_eq!(got, shown, "--exposure {wanted:?}");
            entry.exposure = None;
            assert_eq!(filter.keep_entry(&entry), wanted.is_empty(), "{wanted:?}");
        }
    }
}
