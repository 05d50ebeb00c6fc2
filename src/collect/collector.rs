//! The collector: one [`Platform`] and the caches that make a second look cheap. It turns a
//! [`Request`] into a [`Snapshot`] (socket table, owner scan, process details, user names,
//! interfaces, privileges, PID namespace) and can do so again and again: user names and the
//! services text are kept for its lifetime, interface addresses until the next [`Collector::tick`],
//! so a poller (`kill` waiting for a port, `watch`) does not rebuild everything.
//!
//! It must not interpret what it collects (the services text is parsed by `analyze::services`,
//! in the command that composes both) nor import from `analyze`, `render` or `commands`.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::collect::{CollectError, Platform};
use crate::model::{InterfaceAddr, OwnerRaw, Phases, RawSocket, Request, Snapshot};

/// A platform with its caches. Interior mutability lets every command share one through
/// `commands::Env`; it is not meant to be shared between threads.
pub struct Collector {
    platform: Box<dyn Platform>,
    /// uid → name, `None` cached too (a uid without an account).
    users: RefCell<HashMap<u32, Option<String>>>,
    /// The services text, read at most once.
    services: OnceCell<Option<String>>,
    /// Interface addresses of this tick, or the warning their listing failed with.
    interfaces: RefCell<Option<Result<Vec<InterfaceAddr>, String>>>,
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector")
            .field("platform", &self.platform)
            .field("users_cached", &self.users.borrow().len())
            .field("services_read", &self.services.get().is_some())
            .field("interfaces_read", &self.interfaces.borrow().is_some())
            .finish()
    }
}

impl Collector {
    /// A collector over `platform`, nothing cached yet.
    #[must_use]
    pub fn new(platform: Box<dyn Platform>) -> Self {
        Collector {
            platform,
            users: RefCell::new(HashMap::new()),
            services: OnceCell::new(),
            interfaces: RefCell::new(None),
        }
    }

    /// The platform, for what is not part of a snapshot (host facts, the probe, signalling).
    #[must_use]
    pub fn platform(&self) -> &dyn Platform {
        self.platform.as_ref()
    }

    /// Start a new look: interface addresses are read again by the next snapshot (addresses
    /// come and go); user names and the services text stay cached.
    pub fn tick(&self) {
        self.interfaces.borrow_mut().take();
    }

    /// Collect a snapshot. `keep` filters sockets before the owner lookup, so the owner scan
    /// only records what will be shown.
    ///
    /// # Errors
    /// When the socket table cannot be read, or owners are asked for and the proc root cannot
    /// be read. A failing interface listing is a warning.
    pub fn snapshot(
        &self,
        request: &Request,
        keep: &dyn Fn(&RawSocket) -> bool,
    ) -> Result<Snapshot, CollectError> {
        let platform = self.platform();
        let mut phases = Phases::default();
        let (sockets, owners) =
            platform.socket_table(&request.query, keep, request.owners, &mut phases)?;
        let pids: Vec<u32> = owners
            .by_inode
            .values()
            .flatten()
            .map(|f| f.pid)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let processes = if request.owners {
            phases.time("process details", || platform.processes(&pids))
        } else {
            BTreeMap::new()
        };
        let users = phases.time("user names", || {
            let uids: BTreeSet<u32> = sockets
                .iter()
                .filter_map(|s| s.uid)
                .chain(processes.values().filter_map(|p| p.uid))
                .collect();
            uids.into_iter()
                .map(|uid| (uid, self.user_name(uid)))
                .collect()
        });
        let (namespaces, mut warnings) = platform.network_namespaces();
        let interfaces = phases.time("interfaces", || match self.interfaces() {
            Ok(list) => list,
            Err(warning) => {
                warnings.push(warning);
                Vec::new()
            }
        });
        Ok(Snapshot {
            host: platform.hostname(),
            sockets,
            owners,
            processes,
            users,
            interfaces,
            namespaces,
            privileged: platform.privileged(),
            pid_namespace: if request.owners {
                platform.pid_namespace()
            } else {
                None
            },
            warnings,
            phases,
        })
    }

    /// Raw facts about the holders of one port for `who` and `kill`: each pid's parents and
    /// cgroup (`Platform::owner_raw`) and, when `socket_units` is true, the systemd `.socket`
    /// units as (name, text) (`Platform::socket_units`). Whether the units are needed is the
    /// caller's to say (`analyze::investigation::needs_socket_units`); nothing is matched here.
    #[must_use]
    pub fn holder_facts(
        &self,
        pids: impl IntoIterator<Item = u32>,
        socket_units: bool,
    ) -> (BTreeMap<u32, OwnerRaw>, Vec<(String, String)>) {
        let owner_raw: BTreeMap<u32, OwnerRaw> = pids
            .into_iter()
            .map(|pid| (pid, self.platform.owner_raw(pid)))
            .collect();
        let socket_units = if socket_units {
            self.platform.socket_units()
        } else {
            Vec::new()
        };
        (owner_raw, socket_units)
    }

    /// The name of `uid`, looked up once per collector.
    pub fn user_name(&self, uid: u32) -> Option<String> {
        if let Some(name) = self.users.borrow().get(&uid) {
            return name.clone();
        }
        let name = self.platform.user_name(uid);
        self.users.borrow_mut().insert(uid, name.clone());
        name
    }

    /// The system's services text (see [`Platform::services_text`]), read once per collector.
    #[must_use]
    pub fn services_text(&self) -> Option<&str> {
        self.services
            .get_or_init(|| self.platform.services_text())
            .as_deref()
    }

    /// This tick's interface addresses, listed on the first call after [`Collector::tick`];
    /// a failure is the warning to show, cached like a list.
    fn interfaces(&self) -> Result<Vec<InterfaceAddr>, String> {
        self.interfaces
            .borrow_mut()
            .get_or_insert_with(|| {
                self.platform.interfaces().map_err(|err| {
                    let cause = std::error::Error::source(&err)
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default();
                    format!("{err}{cause}; exposure of wildcard binds is unknown")
                })
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::recorded::Recorded;
    use crate::model::{Family, FdRef, OwnerScan, ProcessInfo, Proto, SocketQuery, SocketState};

    fn socket(port: u16, state: SocketState, inode: u64, uid: u32) -> RawSocket {
        RawSocket {
            proto: Proto::Tcp,
            family: Family::Ipv4,
            state,
            local_addr: "0.0.0.0".parse().unwrap(),
            local_port: port,
            remote_addr: None,
            remote_port: None,
            uid: Some(uid),
            inode: Some(inode),
            bound_ifindex: None,
            v6only: None,
            netns: None,
        }
    }

    fn recorded() -> Recorded {
        let mut snap = Snapshot {
            sockets: vec![
                socket(22, SocketState::Listen, 11, 0),
                socket(8080, SocketState::Listen, 12, 1000),
                socket(5000, SocketState::Established, 13, 1000),
            ],
            privileged: true,
            interfaces: vec![InterfaceAddr {
                addr: "127.0.0.1".parse().unwrap(),
                index: Some(1),
                name: "lo".into(),
            }],
            ..Snapshot::default()
        };
        snap.owners = OwnerScan {
            by_inode: [(11, 1), (12, 40), (13, 40)]
                .into_iter()
                .map(|(inode, pid)| (inode, vec![FdRef { pid, fd: Some(3) }]))
                .collect(),
            performed: true,
            ..OwnerScan::default()
        };
        for pid in [1, 40] {
            snap.processes.insert(
                pid,
                ProcessInfo {
                    uid: Some(if pid == 1 { 0 } else { 1001 }),
                    ..ProcessInfo::unknown(pid)
                },
            );
        }
        snap.users = [(0, Some("root".into())), (1000, None)]
            .into_iter()
            .collect();
        Recorded::new(snap)
    }

    #[test]
    fn a_snapshot_keeps_what_the_query_and_the_filter_keep() {
        let collector = Collector::new(Box::new(recorded()));
        let request = Request {
            query: SocketQuery::listening(),
            owners: true,
        };
        let snap = collector
            .snapshot(&request, &|s| s.local_port != 22)
            .unwrap();
        let ports: Vec<u16> = snap.sockets.iter().map(|s| s.local_port).collect();
        assert_eq!(ports, vec![8080]);
        // Only the kept sockets' holders, and only their details.
        assert_eq!(
            snap.owners.by_inode.keys().copied().collect::<Vec<_>>(),
            [12]
        );
        assert_eq!(snap.processes.keys().copied().collect::<Vec<_>>(), [40]);
        // Names of socket and process owners; a uid without an account is None.
        assert_eq!(snap.users.get(&1000), Some(&None));
        assert_eq!(snap.users.get(&1001), Some(&None));
        assert!(!snap.users.contains_key(&0));
        assert_eq!(snap.interfaces.len(), 1);
        assert!(snap.privileged);
        let names: Vec<&str> = snap.phases.0.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "socket table (recorded)",
                "process details",
                "user names",
                "interfaces"
            ]
        );

        let without = Request {
            query: SocketQuery::all(),
            owners: false,
        };
        let snap = collector.snapshot(&without, &|_| true).unwrap();
        assert_eq!(snap.sockets.len(), 3);
        assert!(!snap.owners.performed && snap.processes.is_empty());
    }

    #[test]
    fn caches_last_until_a_tick_for_interfaces_only() {
        let mut recorded = recorded();
        recorded.services = Some("http 80/tcp\n".into());
        let calls = std::sync::Arc::clone(&recorded.calls);
        let collector = Collector::new(Box::new(recorded));
        let request = Request {
            query: SocketQuery::all(),
            owners: true,
        };
        collector.snapshot(&request, &|_| true).unwrap();
        collector.snapshot(&request, &|_| true).unwrap();
        assert_eq!(collector.services_text(), Some("http 80/tcp\n"));
        assert_eq!(collector.services_text(), Some("http 80/tcp\n"));
        let counted = |what: &str| calls.lock().unwrap().iter().filter(|&&c| c == what).count();
        assert_eq!(counted("interfaces"), 1);
        assert_eq!(counted("user_name"), 3, "uids 0, 1000 and 1001, once each");
        assert_eq!(counted("services_text"), 1);
        collector.tick();
        collector.snapshot(&request, &|_| true).unwrap();
        assert_eq!(counted("interfaces"), 2);
        assert_eq!(counted("user_name"), 3);
        assert_eq!(counted("socket_table"), 3);
    }

    #[test]
    fn a_failed_interface_listing_is_a_warning_each_time() {
        let mut recorded = recorded();
        recorded.interfaces_error = true;
        let collector = Collector::new(Box::new(recorded));
        let request = Request {
            query: SocketQuery::listening(),
            owners: false,
        };
        for _ in 0..2 {
            let snap = collector.snapshot(&request, &|_| true).unwrap();
            assert!(snap.interfaces.is_empty());
            assert_eq!(
                snap.warnings,
                vec![
                    "cannot list interface addresses: recorded failure; exposure of wildcard \
                     binds is unknown"
                        .to_string()
                ]
            );
        }
    }
}
